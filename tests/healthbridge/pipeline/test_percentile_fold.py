"""Migration 0014: a database written before the percentile became the z-score's component.

Such a database holds, per indicator and session, a z-score Observation without component and a
percentile Observation of its own (``gs-…-wfa-p``). The migration queues those children; the
workers then write the z-score with its component and retract the old percentile Observation.
"""

from __future__ import annotations

import copy
from typing import Any

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from healthbridge import terminology as t
from healthbridge.store.db import alembic_config, current_revision, upgrade
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.pipeline.conftest import child, days_ago, measurement, put
from tests.healthbridge.pipeline.test_growth_scores import WEIGHT, scores
from tests.settle import settle


def _queued(engine: Any) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT child_id, source FROM pipeline_outbox")).all()
    return [(str(r[0]), str(r[1])) for r in rows]


def _quiet(app: Any) -> Any:
    """The app's repository, its worker thread stopped (the test drains the queue itself:
    the thread would take the migration's rows before the test reads them)."""
    if app.state.pipeline_worker is not None:
        app.state.pipeline_worker.stop()
    return app.state.repository


def _as_written_before_0014(z: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The z-score and percentile Observations the pipeline wrote before 2026-12."""
    component = z["component"][0]
    old_z = {k: copy.deepcopy(v) for k, v in z.items() if k not in ("component", "meta")}
    old_z["meta"] = {"profile": z["meta"]["profile"]}
    old_p = copy.deepcopy(old_z)
    old_p["id"] = z["id"].removesuffix("-z") + "-p"
    old_p["identifier"][0]["value"] = z["identifier"][0]["value"].removesuffix("-z") + "-p"
    old_p["code"] = component["code"]
    old_p["valueQuantity"] = component["valueQuantity"]
    return old_z, old_p


def test_upgrade_queues_and_the_workers_fold_the_percentiles(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(200)))
    put(pclient, child("c2", days_ago(300)))
    put(pclient, measurement("w1", "c1", WEIGHT, 7.4, days_ago(0)))
    put(pclient, measurement("w2", "c2", WEIGHT, 8.4, days_ago(0)))
    z = scores(pclient, "c1")["wfa-z"]
    untouched = scores(pclient, "c2")["wfa-z"]
    app: Any = pclient.app
    repository = _quiet(app)
    old_z, old_p = _as_written_before_0014(z)
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Observation", old_z["id"], old_z, trusted=True)
        txn.update("Observation", old_p["id"], old_p, trusted=True)
    with repository.engine.begin() as conn:  # as if stored before the outbox existed
        conn.execute(text("DELETE FROM pipeline_outbox"))
    assert set(scores(pclient, "c1")) == {"wfa-z", "wfa-p"}

    config = alembic_config(repository.engine)
    command.downgrade(config, "0013")
    upgrade(repository.engine)
    assert current_revision(repository.engine) == "0018"
    assert _queued(repository.engine) == [("c1", "migration/0014")]  # not c2: nothing to fold
    settle(app)

    folded = scores(pclient, "c1")
    assert set(folded) == {"wfa-z"}
    assert folded["wfa-z"]["component"] == z["component"]
    assert folded["wfa-z"]["valueQuantity"] == z["valueQuantity"]
    retracted = pclient.get(f"/fhir/Observation/{old_p['id']}").json()
    assert retracted["status"] == "entered-in-error"
    assert retracted["code"]["coding"][0] == {"system": t.CS_GROWTH_INDICATOR, "code": "wfa-p"}
    assert scores(pclient, "c2")["wfa-z"]["meta"] == untouched["meta"]  # not written again


def test_downgrade_drops_the_rows_still_queued(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(200)))
    put(pclient, measurement("w1", "c1", WEIGHT, 7.4, days_ago(0)))
    app: Any = pclient.app
    repository = _quiet(app)
    _z, old_p = _as_written_before_0014(scores(pclient, "c1")["wfa-z"])
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Observation", old_p["id"], old_p, trusted=True)
    with repository.engine.begin() as conn:
        conn.execute(text("DELETE FROM pipeline_outbox"))
    config = alembic_config(repository.engine)
    command.downgrade(config, "0013")
    upgrade(repository.engine)
    assert _queued(repository.engine) == [("c1", "migration/0014")]
    command.downgrade(config, "0013")
    assert _queued(repository.engine) == []
    upgrade(repository.engine)
