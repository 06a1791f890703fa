"""SQLite WAL upkeep: a write that finds the WAL oversized checkpoints and empties it."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthbridge.store import db
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository


def _write(repo: Repository, n: int) -> None:
    with repo.transaction(RequestContext()) as txn:
        for i in range(n):
            txn.create({"resourceType": "Patient", "name": [{"family": f"F{i}" * 20}]})


def test_an_oversized_wal_is_emptied_after_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    db.upgrade(engine)
    repo = Repository(engine)
    wal = db.wal_path(engine)
    assert wal == tmp_path / "w.sqlite3-wal"
    _write(repo, 50)
    grown = wal.stat().st_size
    assert grown > 0  # below the default limit: left to SQLite's own checkpoints
    monkeypatch.setattr(db, "WAL_LIMIT_BYTES", grown // 2)
    _write(repo, 50)
    assert wal.stat().st_size == 0
    with repo.transaction(RequestContext(), write=False) as txn:
        assert txn.search_params("Patient", [("_summary", "count")]).total == 100
    engine.dispose()


def test_only_sqlite_files_have_a_wal() -> None:
    assert db.wal_path(db.make_engine("sqlite://")) is None
    assert db.wal_path(db.make_engine("postgresql+psycopg://u@localhost/x")) is None


def test_commits_leave_checkpoints_to_the_background_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections of a file database do not checkpoint in their commits (a request would pay
    for it); the engine's checkpointer thread copies the WAL back once it passes its limit."""
    import sqlite3
    import time

    monkeypatch.setattr(db, "CHECKPOINT_BYTES", 64 * 1024)
    monkeypatch.setattr(db, "CHECKPOINT_IDLE_S", 0.05)
    monkeypatch.setattr(db, "CHECKPOINT_INTERVAL_S", 0.01)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    db.upgrade(engine)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    checkpointer = db.checkpointer(engine)
    assert checkpointer is not None
    repo = Repository(engine)
    _write(repo, 200)
    deadline = time.monotonic() + 20
    while checkpointer.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.runs > 0
    # everything committed is in the database file: a checkpoint from here has nothing to copy
    plain = sqlite3.connect(tmp_path / "c.sqlite3")
    _busy, log, done = plain.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert done == log
    assert plain.execute("SELECT count(*) FROM resource WHERE res_type='Patient'").fetchone() == (
        200,
    )
    plain.close()
    checkpointer.stop()
    engine.dispose()


def test_memory_and_postgresql_engines_have_no_checkpointer() -> None:
    assert db.checkpointer(db.make_engine("sqlite://")) is None


def test_bulk_writes_get_a_large_page_cache_and_give_it_back(tmp_path: Path) -> None:
    """Connections keep WAL with synchronous=NORMAL and SQLite's default page cache (a large
    cache is dropped whole whenever another connection writes); a write-behind transaction
    raises it to ``db.BULK_CACHE_KIB`` for its inserts and restores it after, on file and
    memory databases alike."""
    for url in (f"sqlite:///{tmp_path / 'p.sqlite3'}", "sqlite://"):
        engine = db.make_engine(url)
        db.upgrade(engine)
        repo = Repository(engine)
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            default = raw.execute("PRAGMA cache_size").fetchone()[0]
            assert raw.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert default != -db.BULK_CACHE_KIB
        seen = []
        with repo.transaction(RequestContext()) as txn:
            with txn.write_behind():
                txn.create({"resourceType": "Patient", "name": [{"family": "F"}]})
                raw = txn.conn.connection.driver_connection
                seen.append(raw.execute("PRAGMA cache_size").fetchone()[0])
            seen.append(raw.execute("PRAGMA cache_size").fetchone()[0])
        assert seen == [-db.BULK_CACHE_KIB, default]
        with repo.transaction(RequestContext(), write=False) as txn:
            assert txn.search_params("Patient", [("_summary", "count")]).total == 1
        engine.dispose()
