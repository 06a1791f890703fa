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
