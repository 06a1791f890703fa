"""Repository-level behaviour: concurrency safety of If-Match updates, migrations."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from healthbridge.errors import ConflictError, PreconditionFailedError
from healthbridge.store.db import current_revision, make_engine, upgrade
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from tests import factories as f


def test_concurrent_if_match_updates_exactly_one_wins(repository: Repository) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        created = txn.create(f.child()).stored
    assert created.resource is not None
    base = created.resource
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def writer() -> None:
        barrier.wait()
        try:
            with repository.transaction(SYSTEM_CONTEXT) as txn:
                txn.update(
                    "Patient",
                    created.id,
                    {**base, "gender": "female", "id": created.id},
                    if_match=1,
                )
            outcomes.append("ok")
        except (PreconditionFailedError, ConflictError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert len(outcomes) == 6
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        versions, total = txn.history("Patient", created.id)
    assert total == 2
    assert [v.version_id for v in versions] == [2, 1]


def test_concurrent_create_on_update_same_id(repository: Repository) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def writer() -> None:
        barrier.wait()
        try:
            with repository.transaction(SYSTEM_CONTEXT) as txn:
                txn.update("Patient", "same-id", f.child(id="same-id"))
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        versions, total = txn.history("Patient", "same-id")
    # every successful writer produced exactly one version, numbered without gaps
    assert total == outcomes.count("ok")
    assert sorted(v.version_id for v in versions) == list(range(1, total + 1))


def test_rollback_on_exception_leaves_nothing(repository: Repository) -> None:
    def failing() -> None:
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            txn.create(f.child(child_id="gone"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing()
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        assert txn.search_params("Patient", []).total == 0
        assert txn.history()[1] == 0


def test_stored_json_is_the_record(repository: Repository) -> None:
    resource: dict[str, Any] = f.child(extension=[{"url": "urn:x", "valueString": "保留"}])
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        stored = txn.create(resource).stored
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        again = txn.read("Patient", stored.id).resource
    assert again is not None
    assert {k: v for k, v in again.items() if k not in ("id", "meta")} == resource


def test_migrations_reach_head(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == "0018"
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    engine.dispose()


def test_migration_0017_drops_the_surrogate_key_of_index_rows_and_keeps_them(
    repository: Repository,
) -> None:
    """0017 drops ``pk`` from the search-index and compartment tables (no query read it):
    every row an older database holds is still there, searches find what they found, and a
    later write is indexed as before. Its downgrade numbers the rows again."""
    from alembic import command
    from sqlalchemy import inspect, select

    from healthbridge.fhir.query import parse_search
    from healthbridge.store.db import alembic_config
    from healthbridge.store.models import COMPARTMENT_TABLE, INDEX_TABLES

    tables = [*INDEX_TABLES.values(), COMPARTMENT_TABLE]
    engine = repository.engine

    def rows() -> dict[str, list[tuple[Any, ...]]]:
        with engine.connect() as conn:
            return {
                t.name: sorted(map(tuple, conn.execute(select(*t.c))), key=repr) for t in tables
            }

    def keyed() -> set[str]:
        inspector = inspect(engine)
        return {
            t.name for t in tables if "pk" in {c["name"] for c in inspector.get_columns(t.name)}
        }

    def found() -> list[str]:
        query = parse_search(
            "Observation", [("subject", "Patient/c1")], default_count=9, max_count=9
        )
        with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
            return sorted(m.id for m in txn.search(query).matches)

    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.create({**f.child(), "id": "c1"}, assigned_id="c1")
        txn.create({**f.observation("Patient/c1"), "id": "o1"}, assigned_id="o1")
    before = rows()
    assert before["idx_reference"]
    assert before["compartment"]
    assert keyed() == set()
    command.downgrade(alembic_config(engine), "0016")
    assert keyed() == {t.name for t in tables}
    assert rows() == before
    upgrade(engine)
    assert keyed() == set()
    assert rows() == before
    assert found() == ["o1"]
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.create({**f.observation("Patient/c1"), "id": "o2"}, assigned_id="o2")
    assert found() == ["o1", "o2"]


def test_migration_matches_models(database_url: str) -> None:
    """The Alembic migrations create exactly the tables/columns the SQLModel models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import healthbridge.store.models  # noqa: F401

    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_search_tables_are_analysed_after_one_percent_changes(database_url: str) -> None:
    """PostgreSQL: migration 0013 has autovacuum analyse the tables searches read after 1 %
    of their rows change (a district's first morning was planned from statistics without
    any check; bench/results/burst.md)."""
    engine = make_engine(database_url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        pytest.skip("PostgreSQL storage parameters")
    with engine.connect() as conn:
        options = dict(
            conn.exec_driver_sql(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN "
                "('resource', 'idx_token', 'idx_date', 'idx_reference', 'rule_input')"
            ).all()
        )
    engine.dispose()
    assert len(options) == 5
    for table, opts in options.items():
        assert "autovacuum_analyze_scale_factor=0.01" in (opts or []), table
