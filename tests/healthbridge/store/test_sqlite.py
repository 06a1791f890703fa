"""The SQLite runtime (:mod:`healthbridge.store.sqlite`): connection settings, WAL upkeep
with and without the checkpointer thread, the writer lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthbridge.store import db, runtime, sqlite
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
    wal = sqlite.wal_path(engine)
    assert wal == tmp_path / "w.sqlite3-wal"
    _write(repo, 50)
    grown = wal.stat().st_size
    assert grown > 0  # below the default limit: left to SQLite's own checkpoints
    monkeypatch.setattr(sqlite, "WAL_LIMIT_BYTES", grown // 2)
    _write(repo, 50)
    assert wal.stat().st_size == 0
    with repo.transaction(RequestContext(), write=False) as txn:
        assert txn.search_params("Patient", [("_summary", "count")]).total == 100
    engine.dispose()


def test_only_sqlite_files_have_a_wal() -> None:
    assert sqlite.wal_path(db.make_engine("sqlite://")) is None
    assert sqlite.wal_path(db.make_engine("postgresql+psycopg://u@localhost/x")) is None


def _autocheckpoint(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        raw = conn.connection.driver_connection
        return int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def test_the_started_checkpointer_keeps_the_wal_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the runtime, connections keep SQLite's own checkpoints; once started, commits
    leave checkpoints to its thread (a request would pay for them), which copies the WAL back
    once it passes its limit; stopped, connections checkpoint again."""
    import sqlite3
    import time

    monkeypatch.setattr(sqlite, "CHECKPOINT_BYTES", 64 * 1024)
    monkeypatch.setattr(sqlite, "CHECKPOINT_IDLE_S", 0.05)
    monkeypatch.setattr(sqlite, "CHECKPOINT_INTERVAL_S", 0.01)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    db.upgrade(engine)
    assert _autocheckpoint(engine) == sqlite.AUTOCHECKPOINT_PAGES
    started = runtime.start(engine, role="server")
    try:
        checkpointer = started.sqlite
        assert checkpointer is not None
        assert checkpointer.running
        assert _autocheckpoint(engine) == 0
        repo = Repository(engine)
        _write(repo, 200)
        deadline = time.monotonic() + 20
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpoints > 0
        # everything committed is in the database file: a checkpoint has nothing to copy
        plain = sqlite3.connect(tmp_path / "c.sqlite3")
        _busy, log, done = plain.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert done == log
        count = plain.execute("SELECT count(*) FROM resource WHERE res_type='Patient'")
        assert count.fetchone() == (200,)
        plain.close()
    finally:
        started.stop()
    assert not checkpointer.running
    assert _autocheckpoint(engine) == sqlite.AUTOCHECKPOINT_PAGES
    engine.dispose()


def test_memory_and_postgresql_engines_start_no_thread() -> None:
    import threading

    before = set(threading.enumerate())
    for url in ("sqlite://", "postgresql+psycopg://u@localhost/x"):
        engine = db.make_engine(url)
        started = runtime.start(engine, role="batch")
        assert set(threading.enumerate()) == before
        started.stop()
    assert sqlite.runtime_of(db.make_engine("postgresql+psycopg://u@localhost/x")) is None


def test_the_writer_lock_is_one_per_engine_and_new_in_a_forked_child(tmp_path: Path) -> None:
    import os

    engine = db.make_engine(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    other = db.make_engine(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    assert sqlite.writer_lock(engine) is sqlite.writer_lock(engine)
    assert sqlite.writer_lock(engine) is not sqlite.writer_lock(other)
    read, write = os.pipe()
    with sqlite.writer_lock(engine):  # held by this thread when the child is forked
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            ok = False
            try:
                with sqlite.writer_lock(engine):
                    ok = True
            finally:
                os.write(write, b"1" if ok else b"0")
                os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read)


def test_bulk_writes_get_a_large_page_cache_and_give_it_back(tmp_path: Path) -> None:
    """Connections keep WAL with synchronous=NORMAL and SQLite's default page cache (a large
    cache is dropped whole whenever another connection writes); a write-behind transaction
    raises it to ``sqlite.BULK_CACHE_KIB`` for its inserts and restores it after, on file and
    memory databases alike."""
    for url in (f"sqlite:///{tmp_path / 'p.sqlite3'}", "sqlite://"):
        engine = db.make_engine(url)
        db.upgrade(engine)
        repo = Repository(engine)
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            default = raw.execute("PRAGMA cache_size").fetchone()[0]
            assert raw.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert default != -sqlite.BULK_CACHE_KIB
        seen = []
        with repo.transaction(RequestContext()) as txn:
            with txn.write_behind():
                txn.create({"resourceType": "Patient", "name": [{"family": "F"}]})
                raw = txn.conn.connection.driver_connection
                seen.append(raw.execute("PRAGMA cache_size").fetchone()[0])
            seen.append(raw.execute("PRAGMA cache_size").fetchone()[0])
        assert seen == [-sqlite.BULK_CACHE_KIB, default]
        with repo.transaction(RequestContext(), write=False) as txn:
            assert txn.search_params("Patient", [("_summary", "count")]).total == 1
        engine.dispose()
