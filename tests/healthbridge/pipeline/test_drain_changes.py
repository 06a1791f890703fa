"""The outbox worker re-scores and re-forecasts only what the claimed rows changed (issue 19
item 1, :mod:`healthbridge.pipeline.drain_changes`) — and never skips what a change touched.

Each scenario drains a settled record after one change and checks the result is the write
path's (:func:`assert_same_as_inline`: the inline engine run again on every child writes no
new version of any score, Flag or Task, and the batch evaluation finds nothing to change),
plus the specific result the change must have produced.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.pipeline import drain_vector, outbox
from healthbridge.pipeline.drain_changes import MAX_ROWS_PER_CHILD, changes_of, row_sources
from healthbridge.pipeline.outbox import drain
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.pipeline.conftest import (
    child,
    days_ago,
    immunization,
    measurement,
    put,
    search,
)
from tests.healthbridge.pipeline.test_outbox import (
    assert_same_as_inline,
    inline_again,
    parts,
    queued,
)


@pytest.fixture(autouse=True)
def vectorised_from_one_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vectorised engine for every batch, and no silent fallback to the per-child one
    (a failed batch is retried child by child: here it fails the test instead)."""
    monkeypatch.setattr(outbox, "VECTOR_MIN", 1)

    def no_fallback(*_args: Any, **_kw: Any) -> int:
        raise AssertionError("the vectorised batch failed")

    monkeypatch.setattr(outbox, "_drain_one_by_one", no_fallback)


def _settled(app: FastAPI, client: TestClient) -> None:
    """Two children with two growth sessions each, a dose, all drained."""
    put(client, child("a", days_ago(300)))
    put(client, child("b", days_ago(200), gender="female"))
    for cid in ("a", "b"):
        put(client, measurement(f"{cid}-w1", cid, t.LOINC_BODY_WEIGHT, 7.0, days_ago(60)))
        put(client, measurement(f"{cid}-l1", cid, t.LOINC_BODY_LENGTH, 64.0, days_ago(60)))
        put(client, measurement(f"{cid}-w2", cid, t.LOINC_BODY_WEIGHT, 7.9, days_ago(5)))
    put(client, immunization("a-hepb1", "a", "HepB", days_ago(299), 1))
    repository, pipeline = parts(app)
    drain(repository, pipeline)
    assert queued(repository) == 0
    assert_same_as_inline(repository, pipeline)


def _scores(client: TestClient, cid: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The child's growth scores by (effective date, code)."""
    return {
        (o["effectiveDateTime"][:10], o["code"]["coding"][0]["code"]): o
        for o in search(client, "Observation", subject=f"Patient/{cid}")
        if o["id"].startswith("gs-")
    }


def _evaluated_sessions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many sessions each drain chunk scored."""
    counts: list[int] = []
    real = drain_vector.changed_sessions

    def counting(sessions: Any, changes: Any) -> Any:
        out = real(sessions, changes)
        counts.append(len(out))
        return out

    monkeypatch.setattr(drain_vector, "changed_sessions", counting)
    return counts


def test_a_new_measurement_rescores_its_session_only(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(vapp, vclient)
    counts = _evaluated_sessions(monkeypatch)
    put(vclient, measurement("a-w3", "a", t.LOINC_BODY_WEIGHT, 8.1, days_ago(1)))
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    assert counts == [1]  # the new session; a's two others are neither scored nor read
    assert (days_ago(1).isoformat(), "wfa-z") in _scores(vclient, "a")
    assert_same_as_inline(repository, pipeline)


def test_a_second_measurement_for_a_session_rescores_that_session(
    vapp: FastAPI, vclient: TestClient
) -> None:
    _settled(vapp, vclient)
    before = _scores(vclient, "a")
    assert (days_ago(5).isoformat(), "wfl-z") not in before  # weight alone that day
    put(vclient, measurement("a-l2", "a", t.LOINC_BODY_LENGTH, 68.0, days_ago(5)))
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    after = _scores(vclient, "a")
    assert (days_ago(5).isoformat(), "wfl-z") in after
    wfa = after[(days_ago(5).isoformat(), "wfa-z")]
    assert "Observation/a-l2" not in str(wfa["derivedFrom"])
    assert_same_as_inline(repository, pipeline)


def test_a_corrected_birth_date_rescores_every_session(vapp: FastAPI, vclient: TestClient) -> None:
    _settled(vapp, vclient)
    before = _scores(vclient, "a")
    put(vclient, child("a", days_ago(400)))  # the birth date corrected: older by 100 days
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    after = _scores(vclient, "a")
    for key in [(days_ago(60).isoformat(), "wfa-z"), (days_ago(5).isoformat(), "wfa-z")]:
        assert after[key]["valueQuantity"]["value"] != before[key]["valueQuantity"]["value"]
    assert_same_as_inline(repository, pipeline)


def test_a_deleted_measurement_retracts_its_scores(vapp: FastAPI, vclient: TestClient) -> None:
    _settled(vapp, vclient)
    assert vclient.delete("/fhir/Observation/b-l1").status_code in (200, 204)
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    scores = _scores(vclient, "b")
    day = days_ago(60).isoformat()
    assert scores[(day, "lhfa-z")]["status"] == "entered-in-error"
    assert scores[(day, "wfl-z")]["status"] == "entered-in-error"
    assert scores[(day, "wfa-z")]["status"] == "final"  # the weight is still there
    assert_same_as_inline(repository, pipeline)


def test_a_moved_measurement_rescores_its_old_session(vapp: FastAPI, vclient: TestClient) -> None:
    """An update (version 2) may have left a session: everything of the child re-scored."""
    _settled(vapp, vclient)
    put(vclient, measurement("b-w2", "b", t.LOINC_BODY_WEIGHT, 7.9, days_ago(4)))
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    scores = _scores(vclient, "b")
    assert scores[(days_ago(5).isoformat(), "wfa-z")]["status"] == "entered-in-error"
    assert scores[(days_ago(4).isoformat(), "wfa-z")]["status"] == "final"
    assert_same_as_inline(repository, pipeline)


def _forecast(client: TestClient, cid: str) -> dict[str, Any]:
    found = search(client, "ImmunizationRecommendation", patient=f"Patient/{cid}")
    assert len(found) == 1
    return found[0]


def test_an_added_immunization_reforecasts(vapp: FastAPI, vclient: TestClient) -> None:
    _settled(vapp, vclient)
    before = _forecast(vclient, "b")
    assert "BCG" in str(before["recommendation"])
    put(vclient, immunization("b-bcg", "b", "BCG", days_ago(199), 1))
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    after = _forecast(vclient, "b")
    assert after["meta"]["versionId"] != before["meta"]["versionId"]
    assert after["recommendation"] != before["recommendation"]
    assert_same_as_inline(repository, pipeline)


def test_a_forecast_of_an_earlier_day_is_rebuilt(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A measurement (no forecast input) on a later day: the stored forecast is of an
    earlier day, so it is rebuilt (the calendar makes doses due and overdue)."""
    _settled(vapp, vclient)
    repository, pipeline = parts(vapp)
    before = _forecast(vclient, "b")
    later = days_ago(0) + dt.timedelta(days=400)
    monkeypatch.setattr(pipeline, "today", lambda: later)
    put(vclient, measurement("b-w3", "b", t.LOINC_BODY_WEIGHT, 8.4, days_ago(0)))
    drain(repository, pipeline)
    after = _forecast(vclient, "b")
    assert after["date"].startswith(later.isoformat())
    assert after["recommendation"] != before["recommendation"]
    version = after["meta"]["versionId"]
    inline_again(repository, pipeline)  # the inline engine, on the same day, agrees
    assert _forecast(vclient, "b")["meta"]["versionId"] == version


def test_the_same_day_forecast_is_not_rebuilt_for_a_measurement(
    vapp: FastAPI, vclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(vapp, vclient)
    built: list[set[str]] = []
    real = drain_vector.publish_in

    def recording(txn: Any, patients: Any, *args: Any) -> int:
        built.append(set(patients))
        return real(txn, patients, *args)

    monkeypatch.setattr(drain_vector, "publish_in", recording)
    put(vclient, measurement("a-w3", "a", t.LOINC_BODY_WEIGHT, 8.1, days_ago(1)))
    put(vclient, immunization("b-bcg", "b", "BCG", days_ago(199), 1))
    repository, pipeline = parts(vapp)
    drain(repository, pipeline)
    assert built == [{"b"}]  # a's forecast (of today, no dose written) is not rebuilt
    assert_same_as_inline(repository, pipeline)


def test_the_rows_a_transaction_queues_name_each_write(vapp: FastAPI, vclient: TestClient) -> None:
    _settled(vapp, vclient)
    put(vclient, measurement("a-w3", "a", t.LOINC_BODY_WEIGHT, 8.1, days_ago(1)))
    repository, _pipeline = parts(vapp)
    with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        rows = txn.conn.execute(outbox.OUTBOX.select()).all()
    assert [(r.child_id, r.source) for r in rows] == [("a", "Observation/a-w3/_history/1")]


def _row(cid: str, source: str) -> SimpleNamespace:
    return SimpleNamespace(child_id=cid, source=source)


def test_what_the_rows_say_changed() -> None:
    changes = changes_of(
        [
            _row("a", "Observation/o1/_history/1"),
            _row("a", "QuestionnaireResponse/q/_history/3"),
            _row("b", "Observation/o2/_history/2"),  # an update: its old session unknown
            _row("c", "Immunization/i/_history/1"),
            _row("c", "Observation/o3/_history/1"),
            _row("d", "Patient/d/_history/2"),
            _row("e", ""),
            _row("f", "Encounter/v/_history/1"),
        ]
    )
    assert changes.rescore_all == {"b", "d", "e", "f"}
    assert changes.created == {"a": {"o1"}, "c": {"o3"}}
    assert changes.forecast == {"c", "d", "e", "f"}


def test_row_sources_collapse_to_one_row_for_a_patient_or_many_writes() -> None:
    obs = [f"Observation/o{i}/_history/1" for i in range(3)]
    assert row_sources(obs) == sorted(obs)
    assert row_sources([*obs, "Patient/a/_history/1"]) == ["Patient/a/_history/1"]
    many = [f"Observation/o{i}/_history/1" for i in range(MAX_ROWS_PER_CHILD + 1)]
    assert row_sources(many) == [""]
    assert changes_of([_row("a", "")]).rescore_all == {"a"}


def test_a_chunk_holds_more_incrementally_evaluated_children() -> None:
    kids = [f"c{i}" for i in range(10)]
    assert outbox._chunks(kids, frozenset(kids), 4) == [kids[0:4], kids[4:8], kids[8:]]
    assert outbox._chunks(kids, frozenset(), 2) == [kids[0:8], kids[8:]]
    mixed = outbox._chunks(kids, frozenset({"c0", "c1"}), 2)
    assert mixed == [["c0", "c1"], kids[2:10]]
