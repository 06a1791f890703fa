"""Retention schedule, purge and ``$expunge`` (issue 20): removal leaves no version, index,
compartment, link or rule-input row, and an AuditEvent names what was removed without its
content — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select

from healthbridge.access.retention import purge, schedule
from healthbridge.fhir.searchparams import INDEXED_TYPES
from healthbridge.store import search as sql
from healthbridge.store.access_tables import COMPARTMENT, LINK
from healthbridge.store.expunge import RES, VERSIONS
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.rule_inputs import RULE_INPUT
from tests import factories as f
from tests.healthbridge.access import world


def _traces(repo: Any, rtype: str, rid: str) -> dict[str, int]:
    """Rows anywhere in the store that belong to ``rtype/rid``."""
    counts: dict[str, int] = {}
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        conn = txn.conn
        for name, table, tcol, icol in [
            ("resource", RES, RES.c.res_type, RES.c.res_id),
            ("versions", VERSIONS, VERSIONS.c.res_type, VERSIONS.c.res_id),
            ("compartment", COMPARTMENT, COMPARTMENT.c.res_type, COMPARTMENT.c.res_id),
            ("links", LINK, LINK.c.src_type, LINK.c.src_id),
            ("rule_input", RULE_INPUT, RULE_INPUT.c.res_type, RULE_INPUT.c.res_id),
            *[
                (kind, sql.index_table(kind), sql.index_table(kind).c.res_type,
                 sql.index_table(kind).c.res_id)
                for kind in INDEXED_TYPES
            ],
        ]:  # fmt: skip
            del table
            n = conn.execute(select(func.count()).where(tcol == rtype, icol == rid)).scalar_one()
            if n:
                counts[name] = int(n)
    return counts


def test_schedule_cites_its_sources() -> None:
    s = schedule()
    assert s.version
    ids = {r.id for r in s.rules}
    assert {"child-record", "deleted-resource", "audit-log"} <= ids
    for rule in s.rules:
        assert rule.sources, rule.id
    child = next(r for r in s.rules if r.id == "child-record")
    assert child.years == 15
    assert any("病历" in src for src in child.sources)


def test_purge_removes_every_trace_and_is_audited(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    repo = system.client.app.state.repository
    assert _traces(repo, "Observation", "obs-a")
    today = dt.date.today()
    with repo.transaction(SYSTEM_CONTEXT) as txn:  # nothing is due today
        assert purge(txn, today) == []
    later = today.replace(year=today.year + 16)
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        dry = purge(txn, later, dry_run=True)
    [child_rule] = [d for d in dry if d.rule.id == "child-record"]
    assert ("Patient", "kid-a") in child_rule.refs
    assert ("Consent", "consent-a-h") in child_rule.refs
    assert _traces(repo, "Patient", "kid-a")  # a dry run removes nothing
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        purge(txn, later)
    for rtype, rid in [
        ("Patient", "kid-a"),
        ("Observation", "obs-a"),
        ("Observation", "obs-a-focus"),
        ("RelatedPerson", "rp-a"),
        ("Consent", "consent-a-h"),
        ("Encounter", "enc-a"),
        ("ServiceRequest", "ref-b-g"),
    ]:
        assert _traces(repo, rtype, rid) == {}, (rtype, rid)
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        kid_links = txn.conn.execute(
            select(func.count()).where(LINK.c.patient_id == "kid-a")
        ).scalar_one()
    assert kid_links == 0
    assert system.get("/fhir/Patient/kid-a").status_code == 404
    assert system.get("/fhir/Observation/obs-a/_history/1").status_code == 404
    # the directory is not child data: kept
    assert system.get("/fhir/Organization/hosp-h").status_code == 200
    events = client_as("admin").get("/fhir/AuditEvent?entity=Patient/kid-a").json()
    [event] = [
        e["resource"]
        for e in events["entry"]
        if "retention rule child-record" in e["resource"].get("outcomeDesc", "")
    ]
    named = {x["what"]["reference"] for x in event["entity"] if "what" in x}
    assert {"Patient/kid-a", "Observation/obs-a"} <= named
    text = json.dumps(event, ensure_ascii=False)
    assert "安安" not in text  # names, not content


def test_expunge_for_admins(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    repo = system.client.app.state.repository
    admin = client_as("admin")
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "expungeDeletedResources", "valueBoolean": True}],
    }
    # only admins (and the system role)
    for name in ("health-manager", "paediatrician-consent", "parent"):
        caller = world.CALLERS[name]
        who = client_as(caller.role, user=name, **caller.claims)
        assert who.post("/fhir/Observation/$expunge", json=body).status_code == 403, name
    empty = {"resourceType": "Parameters", "parameter": []}
    assert admin.post("/fhir/Observation/$expunge", json=empty).status_code == 400
    # a deleted resource keeps its history until expunged
    assert system.delete("/fhir/Observation/obs-a").status_code in (200, 204)
    assert system.get("/fhir/Observation/obs-a/_history/1").status_code == 200
    r = admin.post("/fhir/Observation/$expunge", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["parameter"][0]["valueInteger"] == 2  # the version and the tombstone
    assert system.get("/fhir/Observation/obs-a/_history/1").status_code == 404
    assert _traces(repo, "Observation", "obs-a") == {}
    assert system.get("/fhir/Observation/obs-b").status_code == 200  # not deleted: kept
    # previous versions only
    obs = {**f.observation("Patient/kid-b", value=9.25), "id": "obs-b"}
    assert system.put("/fhir/Observation/obs-b", json=obs).status_code == 200
    previous = {
        "resourceType": "Parameters",
        "parameter": [{"name": "expungePreviousVersions", "valueBoolean": True}],
    }
    r = admin.post("/fhir/$expunge", json=previous)
    assert r.status_code == 200, r.text
    assert r.json()["parameter"][0]["valueInteger"] >= 1
    assert system.get("/fhir/Observation/obs-b/_history/1").status_code == 404
    current = system.get("/fhir/Observation/obs-b").json()
    assert current["meta"]["versionId"] == "2"
    assert current["valueQuantity"]["value"] == 9.25
    events = admin.get("/fhir/AuditEvent?entity=Observation/obs-a").json()
    assert any("$expunge" in e["resource"].get("outcomeDesc", "") for e in events["entry"])
