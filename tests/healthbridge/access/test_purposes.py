"""Consent by purpose (issue 20): ``Consent.provision.purpose`` decides what a consent permits.
A consent without a stated purpose is care only; a care read needs a care consent; an export
marked as research sees only the children whose guardian consented to research."""

from __future__ import annotations

from typing import Any

from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS
from tests.healthbridge.district.test_api_bulk import _download, _run


def _as(client_as: Any, name: str) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **caller.claims)


def test_a_research_consent_does_not_open_care_reads(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    doctor = _as(client_as, "paediatrician-consent")
    assert doctor.get("/fhir/Patient/kid-a").status_code == 200
    research = world.consent("consent-a-h", "kid-a", "hosp-h", purposes=("HRESCH",))
    assert system.put("/fhir/Consent/consent-a-h", json=research).status_code == 200
    assert doctor.get("/fhir/Patient/kid-a").status_code == 404
    both = world.consent("consent-a-h", "kid-a", "hosp-h", purposes=("HRESCH", "TREAT"))
    assert system.put("/fhir/Consent/consent-a-h", json=both).status_code == 200
    assert doctor.get("/fhir/Patient/kid-a").status_code == 200


def test_research_export_needs_research_consent(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    everyone = _download(system, _run(system, "/fhir/Patient/$export?_type=Patient"))
    assert {p["id"] for p in everyone["Patient"]} == {"kid-a", "kid-b", "kid-old"}
    research = _run(system, "/fhir/Patient/$export?_type=Patient,Observation&_purpose=HRESCH")
    assert _download(system, research) == {}  # no guardian consented to research
    consent = world.consent("research-b", "kid-b", "hosp-h", purposes=("HRESCH",))
    assert system.put("/fhir/Consent/research-b", json=consent).status_code == 201
    got = _download(
        system, _run(system, "/fhir/Patient/$export?_type=Patient,Observation&_purpose=HRESCH")
    )
    assert {p["id"] for p in got["Patient"]} == {"kid-b"}
    assert {o["subject"]["reference"] for o in got["Observation"]} == {"Patient/kid-b"}
    bad = system.get(
        "/fhir/Patient/$export?_purpose=MARKETING", headers={"Prefer": "respond-async"}
    )
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"
