"""The outbox worker's vectorised evaluation (issue 19 item 1): a claimed batch of children
evaluated with the engine of ``healthbridge evaluate``, scoped to those children.

Identity with the write path is checked as in ``test_outbox.py``: after the vectorised drain,
the batch evaluation finds nothing to change and the per-child inline engine, run on every
child and centre again, writes no new version of anything (scores, forecasts, Flags, Tasks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.pipeline import drain_vector, outbox
from healthbridge.pipeline.drain_changes import Changes
from healthbridge.pipeline.engine import Pipeline
from healthbridge.pipeline.forecast import forecast_id
from healthbridge.pipeline.outbox import drain, drain_batch
from healthbridge.store import rule_inputs as ri
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.pipeline.conftest import (
    child,
    days_ago,
    health_manager_role,
    immunization,
    measurement,
    organization,
    put,
    search,
    today,
)
from tests.healthbridge.pipeline.test_batch import load_demo
from tests.healthbridge.pipeline.test_outbox import (
    assert_same_as_inline,
    derived_state,
    parts,
    queued,
)


@pytest.fixture(autouse=True)
def vectorised_from_one_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised engine for every batch, however small (the tests' districts are)."""
    monkeypatch.setattr(outbox, "VECTOR_MIN", 1)


def _record(client: TestClient) -> None:
    """Children with the shapes the scores and rules read: sessions by encounter and by
    day, a re-measurement, a preterm child, doses, a morning-check fever cluster."""
    put(client, organization("cc1"))
    put(client, health_manager_role("hm-cc1", "cc1"))
    put(client, child("a", days_ago(300), centre="cc1", klass="r1", since=days_ago(100)))
    put(client, child("b", days_ago(120), gender="female", weeks=33.0))
    put(client, child("c", days_ago(800), centre="cc1", klass="r1", since=days_ago(200)))
    put(client, child("d", days_ago(500), centre="cc1", klass="r1", since=days_ago(200)))
    put(client, child("e", days_ago(60)))  # no data: vaccination and checkup alerts only
    put(client, measurement("a-w", "a", t.LOINC_BODY_WEIGHT, 7.9, days_ago(5), encounter="v1"))
    put(client, measurement("a-l", "a", t.LOINC_BODY_LENGTH, 68.0, days_ago(5), encounter="v1"))
    put(client, measurement("a-h", "a", t.LOINC_HEAD_CIRCUMFERENCE, 43.0, days_ago(5)))
    put(client, measurement("b-w1", "b", t.LOINC_BODY_WEIGHT, 3.1, days_ago(20)))
    put(client, measurement("b-w2", "b", t.LOINC_BODY_WEIGHT, 3.3, days_ago(20)))  # again
    put(client, measurement("b-l", "b", t.LOINC_BODY_LENGTH, 51.0, days_ago(20)))
    put(client, measurement("c-h", "c", t.LOINC_BODY_HEIGHT, 80.0, days_ago(3)))
    put(client, measurement("c-w", "c", t.LOINC_BODY_WEIGHT, 7.0, days_ago(3)))
    put(client, immunization("a-hepb1", "a", "HepB", days_ago(299), 1))
    put(client, immunization("a-bcg", "a", "BCG", days_ago(299), 1))
    for cid in ("a", "c", "d"):
        put(client, measurement(f"t-{cid}", cid, t.LOINC_BODY_TEMPERATURE, 38.7, days_ago(0)))


def test_the_vectorised_drain_gives_the_write_path_results(
    vapp: FastAPI, vclient: TestClient
) -> None:
    repository, pipeline = parts(vapp)
    _record(vclient)
    assert queued(repository) > 0
    assert drain(repository, pipeline) > 0
    assert queued(repository) == 0
    scores = [o for o in search(vclient, "Observation") if o["id"].startswith("gs-")]
    codes = {(o["subject"]["reference"], o["code"]["coding"][0]["code"]) for o in scores}
    assert ("Patient/a", "wfl-z") in codes  # weight and length of one encounter paired
    assert ("Patient/c", "wfh-z") in codes  # height from 2 years
    assert any("corrected age" in n["text"] for o in scores for n in o.get("note", []))
    assert search(vclient, "ImmunizationRecommendation", patient="Patient/a")
    assert search(vclient, "Flag", subject="Patient/e")
    centre = search(vclient, "Flag", subject="Organization/cc1")
    assert [f["code"]["coding"][0]["code"] for f in centre] == ["outbreak-cluster"]
    assert_same_as_inline(repository, pipeline)
    # a measurement entered in error: its session's scores are retracted, as inline
    gone = measurement("c-w", "c", t.LOINC_BODY_WEIGHT, 7.0, days_ago(3))
    put(vclient, {**gone, "status": "entered-in-error"})
    drain(repository, pipeline)
    retracted = [
        o
        for o in search(vclient, "Observation", subject="Patient/c")
        if o["id"].startswith("gs-") and o["status"] == "entered-in-error"
    ]
    assert {o["code"]["coding"][0]["code"] for o in retracted} >= {"wfa-z", "wfh-z"}
    assert_same_as_inline(repository, pipeline)


def test_the_vectorised_drain_equals_inline_on_the_demo_district(
    vapp: FastAPI, vclient: TestClient
) -> None:
    repository, pipeline = parts(vapp)
    load_demo(vclient, 10)
    drain(repository, pipeline, batch=25)
    assert queued(repository) == 0
    assert_same_as_inline(repository, pipeline)


def test_the_read_is_scoped_to_the_queued_children(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first drain, a write for one child reads that child's rule inputs only:
    every scan of the rule-input table names its ids, and the Patients read are that one."""
    repository, pipeline = parts(vapp)
    _record(vclient)
    drain(repository, pipeline)
    put(vclient, measurement("e-w", "e", t.LOINC_BODY_WEIGHT, 5.0, days_ago(1)))
    scans: list[tuple[str, Any]] = []
    real = ri.scan

    def recording(conn: Any, rtype: str, columns: str, where: str = "", **kw: Any) -> Any:
        scans.append((rtype, kw.get("res_ids")))
        return real(conn, rtype, columns, where, **kw)

    monkeypatch.setattr(ri, "scan", recording)
    assert drain(repository, pipeline) == 1
    assert scans
    assert all(ids is not None for _rtype, ids in scans)
    assert [ids for rtype, ids in scans if rtype == "Patient"] == [["e"]]
    assert ["e-w"] in [ids for rtype, ids in scans if rtype == "Observation"]
    assert search(vclient, "Observation", subject="Patient/e", code=f"{t.CS_GROWTH_INDICATOR}|")


def test_a_vectorised_worker_killed_mid_write_loses_and_duplicates_nothing(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the scores and alerts of the batch were queued in its transaction:
    nothing is kept, every row stays queued; the restarted worker gives the inline result."""
    repository, pipeline = parts(vapp)
    load_demo(vclient, 8)
    rows, before = queued(repository), derived_state(repository)

    def killed(*_args: Any, **_kwargs: Any) -> int:
        raise SystemExit("killed")  # not an Exception: nothing in the worker catches it

    monkeypatch.setattr(drain_vector, "publish_in", killed)
    with pytest.raises(SystemExit):
        drain_batch(repository, pipeline, batch=500)
    assert queued(repository) == rows
    assert derived_state(repository) == before
    monkeypatch.undo()
    drain(repository, pipeline)
    assert queued(repository) == 0
    flags = search(vclient, "Flag")
    subjects = [(f["subject"]["reference"], f["code"]["coding"][0]["code"]) for f in flags]
    assert len(subjects) == len(set(subjects))  # no duplicate alert
    assert_same_as_inline(repository, pipeline)


def test_a_small_batch_is_evaluated_child_by_child(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below ``VECTOR_MIN`` children the per-child evaluation is cheaper (no frames)."""
    repository, pipeline = parts(vapp)
    monkeypatch.setattr(outbox, "VECTOR_MIN", 3)
    for n in range(2):
        put(vclient, child(f"s{n}", days_ago(400)))
    batches: list[Any] = []
    monkeypatch.setattr(outbox, "evaluate_children", lambda *a: batches.append(a))
    assert drain(repository, pipeline) == 2
    assert batches == []
    assert search(vclient, "Flag", subject="Patient/s0")
    assert_same_as_inline(repository, pipeline)


def test_without_a_current_rule_input_table_the_worker_evaluates_child_by_child(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, pipeline = parts(vapp)
    put(vclient, child("k", days_ago(400)))
    put(vclient, measurement("k-w", "k", t.LOINC_BODY_WEIGHT, 9.0, days_ago(1)))
    evaluated: list[str] = []
    real = Pipeline._finish_child

    def recording(self: Pipeline, txn: Any, loaded: Any, *args: Any) -> None:
        evaluated.append(loaded.info.child_id)
        real(self, txn, loaded, *args)

    monkeypatch.setattr(Pipeline, "_finish_child", recording)
    monkeypatch.setattr(outbox, "rule_inputs_ready", lambda _txn: False)
    assert drain(repository, pipeline) == 2
    assert evaluated == ["k"]
    assert_same_as_inline(repository, pipeline)


def test_a_forecast_is_rebuilt_when_its_inputs_changed_or_it_is_not_of_today(
    vapp: FastAPI, vclient: TestClient
) -> None:
    """The stored forecast's date is read from the ``date`` search index (never the 17 KB
    document): one dated today is kept unless a claimed row wrote the child's forecast
    inputs; one of another day, or none, is rebuilt."""
    repository, pipeline = parts(vapp)
    for cid in ("f1", "f2", "f3"):
        put(vclient, child(cid, days_ago(200)))
    drain(repository, pipeline)
    patients: Any = dict.fromkeys(("f1", "f2", "f3"))
    with repository.transaction(SYSTEM_CONTEXT, plain=True) as txn:
        assert drain_vector.stale_forecasts(txn, patients, Changes(), today()) == []
        tomorrow = today() + dt.timedelta(days=1)
        stale = drain_vector.stale_forecasts(txn, patients, Changes(), tomorrow)
        assert stale == ["f1", "f2", "f3"]
        changed = Changes(forecast=frozenset({"f2"}))
        assert drain_vector.stale_forecasts(txn, patients, changed, today()) == ["f2"]
        txn.delete("ImmunizationRecommendation", forecast_id("f3"))
        assert drain_vector.stale_forecasts(txn, patients, Changes(), today()) == ["f3"]
