"""The transaction Bundle: codes, units, references, and idempotency identifiers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from healthbridge.exchange.session_bundle import SID_SESSION_IMPORT, session_bundle
from healthbridge.exchange.session_import import ChildMatch, SessionImport, import_session
from healthbridge.terminology import CS_CHECKUP_VISIT, LOINC, UCUM

TODAY = dt.date(2026, 11, 22)
TEXT = (
    "identifier,date,weight_kg,lenhei_cm,measure,headc_cm,temperature_c\n"
    "C001,2026-11-01,9.8,76.5,l,45.2,36.6\n"
    "C002,2026-11-01,14,95,h,,\n"
    "BAD,2026-11-01,14,95,h,,\n"
)


def matcher(identifier: str) -> ChildMatch | None:
    return {"C001": ChildMatch("Patient/1"), "C002": ChildMatch("Patient/2")}.get(identifier)


def result(text: str = TEXT) -> SessionImport:
    return import_session(text.encode(), "s.csv", matcher, today=TODAY)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_structure_and_codes() -> None:
    bundle = session_bundle(result(), centre_reference="Organization/c1")
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "transaction")
    encounters = resources(bundle, "Encounter")
    observations = resources(bundle, "Observation")
    assert len(encounters) == 2
    assert len(observations) == 6  # 4 for C001, 2 for C002; the unknown child is not there
    enc = encounters[0]
    assert enc["type"][0]["coding"][0] == {"system": CS_CHECKUP_VISIT, "code": "centre-growth"}
    assert enc["serviceProvider"] == {"reference": "Organization/c1"}
    assert enc["subject"] == {"reference": "Patient/1"}
    codes = {
        (o["subject"]["reference"], o["code"]["coding"][0]["code"]): o["valueQuantity"]
        for o in observations
    }
    assert codes[("Patient/1", "29463-7")] == {
        "value": 9.8,
        "unit": "kg",
        "system": UCUM,
        "code": "kg",
    }
    assert codes[("Patient/1", "8306-3")]["value"] == 76.5  # lying length
    assert codes[("Patient/2", "8302-2")]["value"] == 95.0  # standing height
    assert codes[("Patient/1", "9843-4")]["code"] == "cm"
    assert codes[("Patient/1", "8310-5")]["code"] == "Cel"
    assert all(o["code"]["coding"][0]["system"] == LOINC for o in observations)
    assert all(o["category"][0]["coding"][0]["code"] == "vital-signs" for o in observations)


def test_fullurls_are_uuids_and_observations_point_at_their_encounter() -> None:
    bundle = session_bundle(result())
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert all(u.startswith("urn:uuid:") for u in urls)
    assert len(set(urls)) == len(urls)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for obs in resources(bundle, "Observation"):
        encounter = by_url[obs["encounter"]["reference"]]
        assert encounter["resourceType"] == "Encounter"
        assert encounter["subject"] == obs["subject"]


def test_conditional_create_on_file_row_identifiers() -> None:
    data = result()
    bundle = session_bundle(data)
    for entry in bundle["entry"]:
        ident = entry["resource"]["identifier"][0]
        assert ident["system"] == SID_SESSION_IMPORT
        assert ident["value"].startswith(f"{data.sha256}/")
        assert entry["request"]["method"] == "POST"
        assert (
            entry["request"]["ifNoneExist"] == f"identifier={SID_SESSION_IMPORT}|{ident['value']}"
        )
    values = [e["resource"]["identifier"][0]["value"] for e in bundle["entry"]]
    assert len(set(values)) == len(values)
    assert f"{data.sha256}/2/weight" in values


def test_reimport_of_same_file_gives_identical_bundle_and_other_file_differs() -> None:
    assert session_bundle(result()) == session_bundle(result())
    other = session_bundle(result(TEXT + "\n"))  # different bytes, same rows
    first = session_bundle(result())
    assert other["entry"][0]["fullUrl"] != first["entry"][0]["fullUrl"]


def test_built_resources_are_valid_r4_and_meet_the_profiles_they_claim() -> None:
    """The server writes these on its trusted path (no model or profile validation per
    resource at import time): this test is what keeps a builder bug from reaching the store."""
    from healthbridge.exchange.session_bundle import PROFILES, session_resources
    from healthbridge.fhir import r4
    from healthbridge.fhir.profile_validation import validate_against_profiles

    kinds: set[str] = set()
    for centre, performer in ((None, None), ("Organization/c1", "Practitioner/p1")):
        items = session_resources(
            result(),
            new_id=lambda: "x1",
            centre_reference=centre,
            performer_reference=performer,
        )
        for item in items:
            kinds.add(item.kind)
            assert item.resource["meta"]["profile"] == [PROFILES[item.kind]]
            r4.validate(item.resource)
            assert r4.round_trip(item.resource) == item.resource
            assert validate_against_profiles(item.resource) == []
    assert kinds == set(PROFILES)
