"""Batch evaluation (``healthbridge evaluate``) agrees with the incremental pipeline."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.config import Settings, get_settings
from healthbridge.demo.bundles import bundles
from healthbridge.demo.population import generate
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import evaluate_database, read_district
from healthbridge.pipeline.errors import PipelineConfigError
from healthbridge.store import gc_policy
from healthbridge.store.db import make_engine
from healthbridge.store.repository import Repository
from healthbridge.terminology import LOINC_BODY_TEMPERATURE
from tests.healthbridge.pipeline.conftest import (
    RULESET,
    measurement,
    put,
    search,
    task_inputs,
    today,
)
from tests.healthbridge.pipeline.test_screening import screening_obs

Alert = tuple[str, str, str, str, str, str, str]


def alerts(client: TestClient) -> set[Alert]:
    """Every open alert as (subject, kind, severity, grade, items, evidence, rule)."""
    tasks = {
        t["focus"]["reference"]: task_inputs(t)
        for t in search(
            client,
            "Task",
            code="https://healthbridge.github.io/fhir/CodeSystem/task-kind|alert-review",
        )
    }
    out = set()
    for flag in search(client, "Flag"):
        if flag["status"] != "active":
            continue
        inputs = tasks[f"Flag/{flag['id']}"]
        out.add(
            (
                flag["subject"]["reference"],
                flag["code"]["coding"][0]["code"],
                flag["extension"][0]["valueCode"],
                inputs.get("grade", ""),
                inputs.get("items", ""),
                inputs.get("evidence", ""),
                inputs["rule"],
            )
        )
    return out


@pytest.fixture
def repository_for(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine)
    engine.dispose()


def load_demo(client: TestClient, children: int) -> None:
    """Post the demo district's transaction Bundles, then three febrile children in one class
    today (a cluster)."""
    district = generate(children=children, seed=5, as_of=today())
    for bundle in bundles(district):
        r = client.post("/fhir", json=bundle, headers={"Content-Type": "application/fhir+json"})
        assert r.status_code == 200, r.text[:500]
    enrolled = [c for c in district.children if c.class_id and c.centre_id == "org-centre-1"]
    classmates = [c.id for c in enrolled[:3]]
    assert len(classmates) == 3
    for cid in classmates:  # move them into one class
        patient = client.get(f"/fhir/Patient/{cid}").json()
        for ext in patient["extension"]:
            for part in ext.get("extension", []):
                if part["url"] == "class":
                    part["valueReference"] = {"reference": f"Location/{enrolled[0].class_id}"}
        put(client, patient)
    for cid in classmates:
        put(client, measurement(f"fever-{cid}", cid, LOINC_BODY_TEMPERATURE, 38.8, today()))


def test_batch_equals_incremental_on_the_demo_district(
    pclient: TestClient, repository_for: Repository
) -> None:
    load_demo(pclient, 40)
    # scheduled screening results (the demo district records none): abnormal and normal
    ids = sorted(p["id"] for p in search(pclient, "Patient"))[:3]
    put(pclient, screening_obs("scr-1", ids[0], "hearing", today(), "refer"))
    put(pclient, screening_obs("scr-2", ids[1], "development", today(), dq=72, instrument="gesell"))
    put(pclient, screening_obs("scr-3", ids[2], "oral", today(), caries=0, fluoride_varnish=True))
    incremental = alerts(pclient)
    kinds = {a[1] for a in incremental}
    assert len(incremental) > 20
    assert "outbreak-cluster" in kinds
    assert {"screening-abnormal", "screening-overdue"} <= kinds
    assert "vaccine-overdue" in kinds
    rules = parse_ruleset_key(RULESET)
    report = evaluate_database(repository_for, rules, today(), dry_run=True)
    assert report.children == 40
    assert report.open_alerts == len(incremental)
    assert sum(report.actions.values()) == 0
    # a rule-set change is applied by the batch, and changing back restores the same alerts
    older = evaluate_database(
        repository_for, parse_ruleset_key("cn-child-health@2021.1/CN"), today()
    )
    assert sum(older.actions.values()) > 0
    assert alerts(pclient) != incremental
    back = evaluate_database(repository_for, rules, today(), workers=2)
    assert sum(back.actions.values()) > 0
    assert alerts(pclient) == incremental
    assert sum(evaluate_database(repository_for, rules, today()).actions.values()) == 0


def test_evaluate_command(
    pclient: TestClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from healthbridge.cli import main

    load_demo(pclient, 5)
    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", settings.resolved_database_url())
    get_settings.cache_clear()
    try:
        assert main(["evaluate", "--json", "--ruleset", RULESET]) == 0
        report: dict[str, Any] = json.loads(capsys.readouterr().out)
        assert report["children"] == 5
        assert report["actions"] == {}
        assert report["inputs"] == "table"
        assert main(["evaluate"]) == 0
        assert "5 children" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()


def test_bad_ruleset_key() -> None:
    with pytest.raises(PipelineConfigError):
        parse_ruleset_key("cn-child-health")


def test_batch_updates_and_clears_keep_the_whole_flag_and_task(
    pclient: TestClient, repository_for: Repository
) -> None:
    """The batch read keeps only the reconciled parts of the open Flags and Tasks; what it
    writes must start from the whole stored resources (no element of a changed Flag or Task
    may be lost)."""
    load_demo(pclient, 30)
    before = {
        f"{r['resourceType']}/{r['id']}": r
        for rtype in ("Flag", "Task")
        for r in search(pclient, rtype, _count="1000")
    }
    report = evaluate_database(
        repository_for, parse_ruleset_key("cn-child-health@2021.1/CN"), today()
    )
    assert report.actions.get("update", 0) + report.actions.get("clear", 0) > 0
    changed = 0
    for rtype in ("Flag", "Task"):
        for now in search(pclient, rtype, _count="1000"):
            old = before.get(f"{rtype}/{now['id']}")
            if old is None or old["meta"]["versionId"] == now["meta"]["versionId"]:
                continue
            changed += 1
            assert set(old) - {"meta"} <= set(now), (rtype, now["id"])
            for key in ("subject", "code", "owner", "for", "focus", "requester", "intent"):
                assert now.get(key) == old.get(key), (rtype, now["id"], key)
            if rtype == "Task":
                assert now.get("note", [])[: len(old.get("note", []))] == old.get("note", [])
    assert changed > 0


@pytest.mark.parametrize("enabled", [True, False])
def test_the_read_restores_the_collector_state(repository: Repository, enabled: bool) -> None:
    """In a batch process (the CLI) the read pauses the collector and leaves it as it was."""
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    gc_policy.declare("batch")
    try:
        read_district(repository, source="table")
        assert gc.isenabled() is enabled
        seen: list[bool] = []

        def fail() -> None:
            with gc_policy.bulk_pause():
                seen.append(gc.isenabled())
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail()
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        gc_policy.declare(None)
        (gc.enable if was else gc.disable)()


def test_the_collector_stays_paused_through_the_writes_and_forecasts(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a batch process the whole run is one pause: with the read alive, every collection
    the writes and the forecasts' documents trigger traversed it too (bench/results/
    evaluate_district.md: 14.6-15.6 s of reconcile and write at 10,000 children, 5.6 s
    paused)."""
    import healthbridge.pipeline.batch as batch

    seen: dict[str, bool] = {}

    def watch(name: str, real: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            seen[name] = gc.isenabled()
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(batch, "write_actions", watch("write", batch.write_actions))
    monkeypatch.setattr(batch, "publish_forecasts", watch("forecasts", batch.publish_forecasts))
    was = gc.isenabled()
    gc.enable()
    gc_policy.declare("batch")
    try:
        evaluate_database(repository, parse_ruleset_key(RULESET), today())
        assert seen == {"write": False, "forecasts": False}
        assert gc.isenabled()
    finally:
        gc_policy.declare(None)
        (gc.enable if was else gc.disable)()
