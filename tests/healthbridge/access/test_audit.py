"""AuditEvents are valid R4 and record who, role, what, when, where and why."""

from __future__ import annotations

import datetime as dt

import pytest

from healthbridge.access.audit import ACTIONS, AuditOutcome, audit_event
from healthbridge.access.scopes import parse_scopes
from healthbridge.access.tokens import Principal, Role

WHO = Principal(
    subject="u-7",
    role=Role.HEALTH_MANAGER,
    scopes=parse_scopes("user/*.rs"),
    fhir_user="PractitionerRole/pr-1-role",
    organization="Organization/org-centre-1",
)


def test_audit_event_fields() -> None:
    when = dt.datetime(2026, 11, 22, 8, 30, tzinfo=dt.UTC)
    event = audit_event(
        who=WHO,
        interaction="search-type",
        entities=["Patient/c1", "Observation/o1"],
        client_address="127.0.0.1",
        query="Observation?subject=Patient/c1",
        recorded=when,
    )
    assert event["action"] == "E"
    assert event["recorded"].startswith("2026-11-22T08:30:00")
    assert event["outcome"] == AuditOutcome.SUCCESS
    requestor = event["agent"][0]
    assert requestor["who"] == {"reference": "PractitionerRole/pr-1-role"}
    assert requestor["type"]["coding"][0]["code"] == "health-manager"
    assert requestor["network"]["address"] == "127.0.0.1"
    assert event["agent"][1]["who"] == {"reference": "Organization/org-centre-1"}
    refs = [e["what"]["reference"] for e in event["entity"] if "what" in e]
    assert refs == ["Patient/c1", "Observation/o1"]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"


def test_audit_event_parses_as_r4() -> None:
    from fhir.resources.R4B.auditevent import AuditEvent

    AuditEvent.model_validate(audit_event(who=WHO, interaction="read", entities=["Patient/c1"]))


def test_audit_events_pass_the_base_r4_validator() -> None:
    """AuditEvents are written on the server's own path: the door's validator must pass them."""
    from healthbridge.fhir.base_validation import validate_base

    for interaction in ACTIONS:
        event = audit_event(who=WHO, interaction=interaction, entities=["Patient/c1"])
        assert validate_base(event) == [], interaction


def test_unknown_interaction() -> None:
    with pytest.raises(ValueError, match="interaction"):
        audit_event(who=WHO, interaction="peek", entities=[])


def test_children_and_failures_parse_as_r4() -> None:
    from fhir.resources.R4B.auditevent import AuditEvent

    from healthbridge.fhir.searchparams import extract

    event = audit_event(
        who=WHO,
        interaction="read",
        entities=["Observation/o1", "Patient/c1"],
        patients=["Patient/c1", "Patient/c2"],
        outcome=AuditOutcome.MINOR_FAILURE,
        query="GET /fhir/Observation/o1",
        description="404: Observation/o1 not found",
    )
    AuditEvent.model_validate(event)
    patients = [e for e in event["entity"] if e.get("role", {}).get("code") == "1"]
    assert [e["what"]["reference"] for e in patients] == ["Patient/c2"]  # c1 listed once
    indexed = {
        r["target_id"]
        for r in extract(event).reference
        if r["param"] in ("agent", "entity") and r["target_type"] == "Patient"
    }
    assert indexed == {"c1", "c2"}  # AuditEvent?patient= (these rows) finds both
