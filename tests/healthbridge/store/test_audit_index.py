"""The AuditEvent extractor (store/audit_index.py) gives the generic extractor's rows."""

from __future__ import annotations

from typing import Any

from healthbridge.access.audit import audit_event
from healthbridge.access.tokens import Principal, Role
from healthbridge.fhir.searchparams import IndexRows, distinct_rows, extract, extract_interpreted
from healthbridge.store.audit_index import extract_audit_event

WHO = Principal(
    "u1", Role.PAEDIATRICIAN, (), fhir_user="PractitionerRole/pr-1",
    organization="Organization/org-mch",
)  # fmt: skip


def _distinct(rows: IndexRows) -> dict[str, set[tuple[tuple[str, Any], ...]]]:
    return {kind: {tuple(r.items()) for r in distinct_rows(found)} for kind, found in rows.tables()}


def _event() -> dict[str, Any]:
    refs = [f"Patient/p{i}" for i in range(300)] + [f"Flag/f-{i}.x" for i in range(700)]
    event = audit_event(
        who=WHO, interaction="search-type", entities=refs, client_address="10.0.0.1",
        patients=[f"Patient/p{i}" for i in range(250, 400)], query="Flag?_count=1000",
    )  # fmt: skip
    event["entity"] += [
        {"what": {"reference": "https://other.example/fhir/Patient/p9"}},  # absolute
        {"what": {"reference": "Observation/o1/_history/2"}},  # a version
        {"what": {"reference": "#contained"}},
        {"what": {"reference": "Patient/p1", "display": "张三"}},
        {"what": {"identifier": {"system": "urn:x", "value": "v"}}},
        {"what": {"reference": "Patient/p2"}, "name": "a named entity"},
        {"what": {"reference": "Encounter/e1"}, "role": {"code": "4"}},
        {"name": "no what"},
        {"what": {"reference": "Patient/hb-audit-entity-id-placeholder"}},
    ]
    event["agent"].append({"who": {"reference": "Patient/p7"}, "requestor": False})
    return event


def test_rows_equal_the_generic_extractors() -> None:
    event = _event()
    fast = extract_audit_event(event)
    assert fast.canonical
    assert _distinct(fast) == _distinct(extract(event)) == _distinct(extract_interpreted(event))
    # every entity's own reference row is there, ids put back in the right place
    entity = {(r["target_type"], r["target_id"]) for r in fast.reference if r["param"] == "entity"}
    assert ("Flag", "f-699.x") in entity
    patients = {  # the rows AuditEvent?patient= reads
        r["target_id"]
        for r in fast.reference
        if r["param"] in ("agent", "entity") and r["target_type"] == "Patient"
    }
    assert {"p0", "p399", "p7"} <= patients
    assert not {r["target_id"] for r in fast.reference if r["target_type"] == "Flag"} & patients


def test_small_and_entity_free_events() -> None:
    for entities in ([], ["Patient/p1"], ["Flag/f1", "Flag/f1"]):
        event = audit_event(who=WHO, interaction="read", entities=entities)
        assert _distinct(extract_audit_event(event)) == _distinct(extract_interpreted(event))
    refused = audit_event(who=None, interaction="read", entities=[], description="403")
    assert _distinct(extract_audit_event(refused)) == _distinct(extract_interpreted(refused))
