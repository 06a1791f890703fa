"""Derived access rows: the compartment data file and the patient-link facts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from healthbridge.access.policy import (
    ChildFacts,
    ConsentGrant,
    Enrollment,
    Period,
    Purpose,
    Referral,
    can_access_child,
)
from healthbridge.access.scopes import parse_scopes
from healthbridge.access.tokens import Principal, Role
from healthbridge.fhir import r4
from healthbridge.fhir.searchparams import extract
from healthbridge.store.access_tables import compartment_params, compartment_patients, patient_links
from tests.healthbridge.access import world


def test_compartment_file_matches_the_r4_definition(examples_dir: Path) -> None:
    spec = json.loads((examples_dir / "CompartmentDefinition-patient.json").read_text())
    expected = {
        r["code"]: frozenset(r["param"])
        for r in spec["resource"]
        if r.get("param") and r4.is_supported(r["code"])
    }
    ours = compartment_params()
    assert {k: v for k, v in ours.items() if k != "Task"} == expected
    assert ours["Task"] == {"patient"}  # our documented addition


def _by_id(rid: str) -> dict[str, Any]:
    return next(r for r in world.resources() if r["id"] == rid)


def test_compartment_membership() -> None:
    obs = _by_id("obs-a-focus")
    assert compartment_patients("Observation", "obs-a-focus", extract(obs)) == {"kid-a"}
    kid = _by_id("kid-a")
    assert compartment_patients("Patient", "kid-a", extract(kid)) == {"kid-a"}
    org = _by_id("centre-a")
    assert compartment_patients("Organization", "centre-a", extract(org)) == set()


def test_compartment_membership_through_a_restricted_parameter() -> None:
    """Flag, Task and AuditEvent are in a patient's compartment by ``patient``, which has no
    index rows of its own (``subject``/``for``, ``agent``/``entity`` naming a Patient)."""
    subject = {"reference": "Patient/kid-a"}
    flag = {"resourceType": "Flag", "status": "active", "code": {"text": "x"}, "subject": subject}
    assert compartment_patients("Flag", "f1", extract(flag)) == {"kid-a"}
    task = {"resourceType": "Task", "status": "ready", "intent": "order", "for": subject}
    assert compartment_patients("Task", "t1", extract(task)) == {"kid-a"}
    on_room = {**flag, "subject": {"reference": "Location/room-1"}}
    assert compartment_patients("Flag", "f2", extract(on_room)) == set()
    event = {
        "resourceType": "AuditEvent",
        "agent": [{"who": {"reference": "Practitioner/d1"}, "requestor": True}],
        "entity": [{"what": {"reference": "Observation/o1"}}, {"what": subject}],
    }
    assert compartment_patients("AuditEvent", "a1", extract(event)) == {"kid-a"}


def _facts(kid: str) -> ChildFacts:
    """The policy facts of ``kid`` as read from the world's resources by patient_links."""
    guardians: set[str] = set()
    enrollments: list[Enrollment] = []
    consents: list[ConsentGrant] = []
    referrals: list[Referral] = []
    for resource in world.resources():
        for link in patient_links(resource):
            if link["patient_id"] != kid:
                continue
            period = Period(
                dt.date.fromisoformat(link["start"]) if link["start"] else None,
                dt.date.fromisoformat(link["end"]) if link["end"] else None,
            )
            if link["kind"] == "guardian":
                guardians.add(link["party"])
            elif link["kind"] == "enrolment":
                enrollments.append(Enrollment(link["party"], period))
            elif link["kind"].startswith("consent:"):
                purpose = Purpose(link["kind"].removeprefix("consent:"))
                grant = ConsentGrant(link["party"], "active", True, period, frozenset({purpose}))
                consents.append(grant)
            else:
                assert link["kind"] == "referral"
                referrals.append(Referral(link["party"], "active", period))
    return ChildFacts(
        f"Patient/{kid}",
        frozenset(guardians),
        tuple(enrollments),
        tuple(consents),
        tuple(referrals),
    )


@pytest.mark.parametrize("name", sorted(world.CALLERS))
def test_links_agree_with_the_pure_policy(name: str) -> None:
    caller = world.CALLERS[name]
    org = {
        "health-manager": "Organization/centre-a",
        "centre-staff": "Organization/centre-a",
        "paediatrician-consent": "Organization/hosp-h",
        "paediatrician-referral": "Organization/hosp-g",
    }.get(name)
    who = Principal(
        "u",
        Role(caller.role),
        parse_scopes("user/*.cruds"),
        fhir_user=caller.claims.get("fhir_user"),
        organization=org,
    )
    today = dt.date(2026, 11, 22)
    reach = {k for k in ("kid-a", "kid-b", "kid-old") if can_access_child(who, _facts(k), today)}
    assert reach == set(caller.reach)


def test_withdrawn_or_denying_consent_states_no_fact() -> None:
    assert patient_links(world.consent("c", "kid-a", "hosp-h", status="inactive")) == []
    deny = world.consent("c", "kid-a", "hosp-h")
    deny["provision"]["type"] = "deny"
    assert patient_links(deny) == []
    [fact] = patient_links(world.consent("c", "kid-a", "hosp-h"))
    assert fact["party"] == "Organization/hosp-h"
    assert fact["kind"] == "consent:TREAT"  # no purpose stated: care only
    assert (fact["start"], fact["end"]) == ("2024-01-01", "2099-12-31")
    several = patient_links(world.consent("c", "kid-a", "hosp-h", purposes=("HRESCH", "COC")))
    assert sorted(x["kind"] for x in several) == ["consent:COC", "consent:HRESCH"]


def test_referral_facts_are_dated_and_only_for_active_requests() -> None:
    sr = {
        "resourceType": "ServiceRequest",
        "id": "r",
        "status": "active",
        "subject": {"reference": "Patient/kid-a"},
        "performer": [{"reference": "Organization/hosp-g"}],
        "authoredOn": "2026-03-01T09:00:00+08:00",
    }
    [fact] = patient_links(sr)
    assert (fact["kind"], fact["start"], fact["end"]) == ("referral", "2026-03-01", "2026-06-29")
    timed = {**sr, "occurrencePeriod": {"start": "2026-04-01", "end": "2026-04-30"}}
    assert (patient_links(timed)[0]["start"], patient_links(timed)[0]["end"]) == (
        "2026-04-01",
        "2026-05-30",
    )
    for status in ("completed", "on-hold", "revoked", "draft"):
        assert patient_links({**sr, "status": status}) == []
