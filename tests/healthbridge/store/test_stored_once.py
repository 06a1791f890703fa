"""The current version's JSON is stored once (issue 19, storage; migration 0008).

The ``resource`` row holds the current JSON; the version row of the current version holds
NULL, and a replaced or deleted version's JSON moves into its version row. Reads of every
kind — read, vread, instance/type/system history, search, a large write-behind transaction —
answer as when the JSON was stored twice, and migration 0008 converts a database in place
(down to 0007 and back up, with the same answers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import select, text

from healthbridge.fhir.query import parse_search
from healthbridge.store.db import alembic_config, current_revision, make_engine, upgrade
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.store.stored import VER
from tests import factories as f


def _write_history(repository: Repository) -> tuple[str, str]:
    """A child (3 versions), an Observation deleted at version 2, and 30 Observations written
    behind; returns (child id, deleted Observation id)."""
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        child = txn.create(f.child()).stored
        obs = txn.create(f.observation(child.reference)).stored
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", child.id, f.child(id=child.id, gender="female"))
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", child.id, f.child(id=child.id, gender="male", birthDate="2025-02-01"))
        txn.delete("Observation", obs.id)
    with repository.transaction(SYSTEM_CONTEXT) as txn, txn.write_behind():
        for day in range(1, 31):
            txn.create(
                f.observation(child.reference, date=f"2025-04-{day:02d}", value=9 + day / 10)
            )
    return child.id, obs.id


def _answers(repository: Repository, child_id: str, obs_id: str) -> dict[str, Any]:
    """What the store answers about the written history (bodies included)."""
    out: dict[str, Any] = {}
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        out["read"] = txn.read("Patient", child_id).resource
        out["vread"] = [txn.vread("Patient", child_id, v).resource for v in (1, 2, 3)]
        out["obs_v1"] = txn.vread("Observation", obs_id, 1).resource
        items, total = txn.history("Patient", child_id)
        out["instance"] = (total, [(i.version_id, i.method, i.resource) for i in items])
        items, total = txn.history("Observation", count=100)
        out["type"] = (total, sorted((i.id, i.version_id, json.dumps(i.resource)) for i in items))
        items, total = txn.history(count=100)
        out["system"] = (total, sorted((i.reference, i.version_id, i.deleted) for i in items))
        query = parse_search(
            "Observation",
            [("subject", f"Patient/{child_id}"), ("_sort", "date")],
            default_count=50,
            max_count=100,
        )
        out["search"] = [m.resource for m in txn.search(query).matches]
    return out


def test_current_json_is_stored_once_and_every_version_reads_back(
    repository: Repository,
) -> None:
    child_id, obs_id = _write_history(repository)
    answers = _answers(repository, child_id, obs_id)
    assert [v["gender"] for v in answers["vread"]] == ["male", "female", "male"]
    assert answers["vread"][2]["birthDate"] == "2025-02-01"
    assert answers["vread"][0] != answers["vread"][2]
    assert answers["read"] == answers["vread"][2]
    assert answers["obs_v1"]["subject"] == {"reference": f"Patient/{child_id}"}
    assert [(v, m) for v, m, _r in answers["instance"][1]] == [(3, "PUT"), (2, "PUT"), (1, "POST")]
    assert [r for _v, _m, r in answers["instance"][1]] == answers["vread"][::-1]
    assert answers["type"][0] == 32
    bodies = {(i, v): body for i, v, body in answers["type"][1]}
    assert [k for k, body in bodies.items() if body == "null"] == [(obs_id, 2)]
    assert len(answers["search"]) == 30
    with repository.engine.connect() as conn:
        rows = conn.execute(
            select(VER.c.res_type, VER.c.res_id, VER.c.version_id, VER.c.content)
        ).all()
    held = {(t, i, v): c for t, i, v, c in rows}
    # the current versions hold no JSON of their own; the former ones keep theirs
    assert held[("Patient", child_id, 3)] is None
    assert json.loads(held[("Patient", child_id, 2)])["gender"] == "female"
    assert json.loads(held[("Patient", child_id, 1)]) == answers["vread"][0]
    assert json.loads(held[("Observation", obs_id, 1)]) == answers["obs_v1"]
    assert held[("Observation", obs_id, 2)] is None  # the deletion is current
    behind = [c for (t, i, v), c in held.items() if t == "Observation" and i != obs_id]
    assert len(behind) == 30
    assert all(c is None for c in behind)


def test_migration_0010_converts_a_database_in_place(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    repository = Repository(engine)
    child_id, obs_id = _write_history(repository)
    before = _answers(repository, child_id, obs_id)
    command.downgrade(alembic_config(engine), "0009")
    assert current_revision(engine) == "0009"
    with engine.connect() as conn:
        # at 0009 every version row holds its JSON, the current ones the same as `resource`
        assert (
            conn.execute(
                text("SELECT count(*) FROM resource_version WHERE content IS NULL")
            ).scalar_one()
            == 0
        )
        same = conn.execute(
            text(
                "SELECT count(*) FROM resource_version v JOIN resource r"
                " ON r.res_type = v.res_type AND r.res_id = v.res_id"
                " AND r.version_id = v.version_id WHERE r.content = v.content"
            )
        ).scalar_one()
        assert same == 32  # the child, the deleted Observation and the 30 written behind
    upgrade(engine)
    assert current_revision(engine) >= "0010"  # at head
    with engine.connect() as conn:
        emptied = conn.execute(
            text("SELECT count(*) FROM resource_version WHERE content IS NULL")
        ).scalar_one()
        kept = conn.execute(
            text("SELECT count(*) FROM resource_version WHERE content IS NOT NULL")
        ).scalar_one()
    assert (emptied, kept) == (32, 3)  # former versions: child v1, v2, Observation v1
    assert _answers(repository, child_id, obs_id) == before
    engine.dispose()
