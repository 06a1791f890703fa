"""Queued inserts are flushed before a one-resource statement only when that resource has
queued rows (``QueuedWrites.flush_for``); rows read ahead stay for later reads; the bulk page
cache is raised for a block and restored (``QueuedWrites.bulk_cache``)."""

from __future__ import annotations

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from tests import factories as f


def _flag(pid: str, fid: str, **kw: str) -> dict[str, object]:
    return {**f.flag(f"Patient/{pid}", **kw), "id": fid}


def test_an_update_of_a_written_resource_leaves_the_others_rows_queued(
    repository: Repository,
) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Flag", "old", _flag("x", "old"))
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Flag", "queued", _flag("x", "queued"))
        txn.update("Flag", "old", _flag("x", "old", status="inactive"))
        assert "resource" in txn._pending  # the other Flag's rows were not flushed
        # its own queued rows are: an update right after a create sees the created row
        txn.update("Flag", "queued", _flag("x", "queued", status="inactive"))
        assert "resource" not in txn._pending
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        for fid in ("old", "queued"):
            stored = txn.read("Flag", fid)
            assert (stored.version_id, stored.resource["status"]) == (2, "inactive")


def test_a_row_read_ahead_serves_every_read_without_a_flush(repository: Repository) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", "p1", {**f.child(), "id": "p1"})
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.prefetch_current([("Patient", "p1")], lock=False)
        txn.update("Flag", "f1", _flag("p1", "f1"))
        for _ in range(2):
            assert txn.read("Patient", "p1").id == "p1"
            assert "resource" in txn._pending  # the Flag still queued: no flush
        txn.update("Patient", "p1", {**f.child(gender="female"), "id": "p1"})
        assert txn.read("Patient", "p1").resource["gender"] == "female"  # not the stale row


def test_the_bulk_cache_is_raised_for_the_block_only(repository: Repository) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        if txn.conn.dialect.name != "sqlite":
            return  # PostgreSQL: nothing to change
        raw = txn.conn.connection.driver_connection
        assert raw is not None
        before = raw.execute("PRAGMA cache_size").fetchone()[0]
        with txn.bulk_cache():
            assert raw.execute("PRAGMA cache_size").fetchone()[0] == -64 * 1024
        assert raw.execute("PRAGMA cache_size").fetchone()[0] == before
