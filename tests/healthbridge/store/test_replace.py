"""An update's and a deletion's SQL on the driver's cursor (``store/replace.py``) leaves
exactly the rows the expression-language statements it replaced left, in every table.

The same history (creates, updates that change index values, compartments, access links and
rule inputs, deletions, a re-creation) is written twice in one database, once with ids
``a-…`` through :func:`healthbridge.store.replace.replace_current` and once with ids ``b-…``
through the reference below (the former ``Transaction._replace_current`` and
``access_tables.clear``); the rows of both, ``a-`` read as ``b-`` and the surrogate keys
left out, are equal table by table. The same holds for the history written with its updates
deferred to each flush (:meth:`QueuedWrites.deferred_replacements`, ``replace_many``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pytest
from sqlalchemy import Connection, delete, select, update

from healthbridge.errors import ConflictError
from healthbridge.fhir.searchparams import INDEXED_TYPES
from healthbridge.store import access_tables, rule_inputs
from healthbridge.store import search as sql
from healthbridge.store import transaction as transaction_module
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.replace import replace_current, replace_many
from healthbridge.store.repository import Repository, Transaction
from healthbridge.store.stored import RES, VER
from tests import factories as f

FIXED = dt.datetime(2026, 12, 7, 5, 0, 0, tzinfo=dt.UTC)


def _reference(conn: Connection, prev: Any, row: dict[str, Any], *, compartment: bool) -> None:
    """The statements ``replace_current`` replaced (main 51a4f4b), for comparison."""
    result = conn.execute(
        update(RES)
        .where(
            RES.c.res_type == prev.res_type,
            RES.c.res_id == prev.res_id,
            RES.c.version_id == prev.version_id,
        )
        .values(**row)
    )
    if result.rowcount != 1:
        raise ConflictError(f"{prev.res_type}/{prev.res_id} was changed concurrently")
    conn.execute(
        update(VER)
        .where(
            VER.c.res_type == prev.res_type,
            VER.c.res_id == prev.res_id,
            VER.c.version_id == prev.version_id,
            VER.c.content.is_(None),
        )
        .values(content=prev.content)
    )
    for kind in INDEXED_TYPES:
        table = sql.index_table(kind)
        conn.execute(
            delete(table).where(table.c.res_type == prev.res_type, table.c.res_id == prev.res_id)
        )
    if prev.res_type in rule_inputs.TYPES:
        ri = rule_inputs.RULE_INPUT
        conn.execute(delete(ri).where(ri.c.res_type == prev.res_type, ri.c.res_id == prev.res_id))
    access_tables.clear(conn, prev.res_type, prev.res_id, compartment=compartment)


def _history(repository: Repository, p: str, *, deferred: bool = False) -> None:
    """Creates, updates and deletions of every kind of derived row, ids prefixed ``p``
    (``deferred``: each transaction's updates run at its flushes, all together)."""
    child, other = f"Patient/{p}child", f"Patient/{p}other"

    @contextmanager
    def transaction() -> Iterator[Transaction]:
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            mode: AbstractContextManager[Any] = (
                txn.deferred_replacements() if deferred else nullcontext()
            )
            with mode:
                yield txn

    with transaction() as txn:
        txn.update("Patient", f"{p}child", {**f.child(child_id=f"{p}c1"), "id": f"{p}child"})
        txn.update("Patient", f"{p}other", {**f.child(child_id=f"{p}c2"), "id": f"{p}other"})
        obs = {**f.observation(child), "id": f"{p}obs"}
        txn.update("Observation", f"{p}obs", obs)
        txn.update("Flag", f"{p}flag", {**f.flag(child), "id": f"{p}flag"})
        txn.update("RelatedPerson", f"{p}mum", {**f.guardian(child), "id": f"{p}mum"})
    with transaction() as txn:
        # index values, compartment, link and rule input all change
        txn.update("Patient", f"{p}child", {**f.child(child_id=f"{p}c9", gender="female"),
                                             "id": f"{p}child"})  # fmt: skip
        txn.update("Observation", f"{p}obs", {**f.observation(other, value=12.5), "id": f"{p}obs"})
        txn.update("Flag", f"{p}flag", {**f.flag(other, status="inactive"), "id": f"{p}flag"})
        txn.update("RelatedPerson", f"{p}mum", {**f.guardian(other), "id": f"{p}mum"})
        # created and updated in one transaction (its rows still queued at the update)
        txn.update("Flag", f"{p}new", {**f.flag(child), "id": f"{p}new"})
        txn.update("Flag", f"{p}new", {**f.flag(child, kind="stunting"), "id": f"{p}new"})
    with transaction() as txn:
        txn.delete("Observation", f"{p}obs")
        txn.delete("RelatedPerson", f"{p}mum")
        txn.delete("Flag", f"{p}new")
    with transaction() as txn:  # created again after their deletion
        txn.update("Observation", f"{p}obs", {**f.observation(child, value=9.0), "id": f"{p}obs"})
        txn.update("RelatedPerson", f"{p}mum", {**f.guardian(child), "id": f"{p}mum"})


def _rows(repository: Repository, p: str, q: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ``p``-prefixed resources, table by table, ``p`` read as ``q``, without
    surrogate keys."""
    tables = [RES, VER, rule_inputs.RULE_INPUT, access_tables.COMPARTMENT, access_tables.LINK]
    tables += [sql.index_table(kind) for kind in INDEXED_TYPES]
    out: dict[str, list[tuple[Any, ...]]] = {}
    with repository.engine.connect() as conn:
        for table in tables:
            owner = table.c.src_id if table is access_tables.LINK else table.c.res_id
            columns = [c for c in table.c if c.name != "pk"]
            found = conn.execute(select(*columns).where(owner.like(f"{p}%"))).all()
            out[table.name] = sorted(
                (tuple(str(v).replace(p, q) if v is not None else None for v in r) for r in found),
                key=repr,
            )
    return out


def test_replace_current_leaves_the_rows_the_expression_statements_left(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transaction_module, "instant_now", lambda: FIXED)
    _history(repository, "a-")
    monkeypatch.setattr(transaction_module, "replace_current", _reference)
    _history(repository, "b-")
    new, old = _rows(repository, "a-", "b-"), _rows(repository, "b-", "b-")
    for name in old:
        assert new[name] == old[name], name
    # the history touched every kind of row the statements remove
    for name in ("compartment", "patient_link", "rule_input", "idx_token", "idx_reference"):
        assert old[name], name
    versions = {r[:3] for r in old["resource_version"]}
    assert ("Observation", "b-obs", "4") in versions  # created, updated, deleted, created


def test_a_stale_current_row_is_a_conflict(repository: Repository) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Flag", "f1", {**f.flag("Patient/x"), "id": "f1"})
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        prev = txn.conn.execute(select(RES).where(RES.c.res_id == "f1")).one()
        txn.update("Flag", "f1", {**f.flag("Patient/x", status="inactive"), "id": "f1"})
        txn.flush()
        row = {"version_id": 2, "last_updated": "x", "deleted": False, "content": "{}"}
        with pytest.raises(ConflictError):
            replace_current(txn.conn, prev, row)
        txn.conn.rollback()


def test_deferred_updates_leave_the_rows_updates_one_at_a_time_leave(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transaction_module, "instant_now", lambda: FIXED)
    batches: list[int] = []
    real = replace_many

    def counted(conn: Connection, replacements: list[Any]) -> None:
        batches.append(len(replacements))
        real(conn, replacements)

    monkeypatch.setattr("healthbridge.store.write_behind.replace_many", counted)
    _history(repository, "a-", deferred=True)
    assert batches  # the updates went through replace_many, several in one call
    assert max(batches) >= 4
    _history(repository, "b-")
    deferred, one_by_one = _rows(repository, "a-", "b-"), _rows(repository, "b-", "b-")
    for name in one_by_one:
        assert deferred[name] == one_by_one[name], name


def test_a_deferred_update_runs_before_any_read_of_it(repository: Repository) -> None:
    """Its own read and the end of the block see the new version; until then the SQL waits."""
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        for n in range(3):
            txn.update("Flag", f"f{n}", {**f.flag("Patient/x"), "id": f"f{n}"})
    with repository.transaction(SYSTEM_CONTEXT) as txn, txn.deferred_replacements():
        txn.update("Flag", "f0", {**f.flag("Patient/y"), "id": "f0"})
        txn.update("Flag", "f1", {**f.flag("Patient/y"), "id": "f1"})
        stored = txn.conn.execute(select(RES.c.version_id).where(RES.c.res_id == "f0")).one()
        assert stored.version_id == 1  # not run yet
        assert txn.read("Flag", "f0").resource["subject"] == {"reference": "Patient/y"}
        txn.update("Flag", "f2", {**f.flag("Patient/y"), "id": "f2"})
        txn.update("Flag", "f2", {**f.flag("Patient/z"), "id": "f2"})
    with repository.engine.connect() as conn:
        found = {
            r.res_id: r.version_id for r in conn.execute(select(RES.c.res_id, RES.c.version_id))
        }
        ref = sql.index_table("reference")
        subjects = conn.execute(
            select(ref.c.res_id, ref.c.target_id).where(ref.c.param == "subject")
        ).all()
    assert found == {"f0": 2, "f1": 2, "f2": 3}
    # one subject row each: the replaced versions' rows went before the new ones were inserted
    assert sorted((r.res_id, r.target_id) for r in subjects) == [
        ("f0", "y"),
        ("f1", "y"),
        ("f2", "z"),
    ]


def test_a_stale_row_among_deferred_updates_is_a_conflict(repository: Repository) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Flag", "f1", {**f.flag("Patient/x"), "id": "f1"})
        txn.update("Flag", "f2", {**f.flag("Patient/x"), "id": "f2"})
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        prev = txn.conn.execute(select(RES).where(RES.c.res_id.in_(["f1", "f2"]))).all()
        txn.update("Flag", "f1", {**f.flag("Patient/x", status="inactive"), "id": "f1"})
        txn.flush()
        row = {"version_id": 2, "last_updated": "x", "deleted": False, "content": "{}"}
        with pytest.raises(ConflictError):
            replace_many(txn.conn, [(p, row, True) for p in prev])
        txn.conn.rollback()
