"""Queued inserts and the write-behind thread of a transaction.

:class:`QueuedWrites` is the part of a :class:`~healthbridge.store.transaction.Transaction`
that buffers its inserts (index and history rows, in batches before the next query and at
commit, which keeps large transaction Bundles fast on both backends) and, for bulk writes,
hands them to :class:`WriteBehind`, one thread that inserts them while the caller goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, Self

from sqlalchemy import Connection

from healthbridge.store.inserts import SQLITE_BEHIND_PARAMS, Pending, insert_pending
from healthbridge.store.replace import Replacement, replace_many
from healthbridge.store.sqlite import BULK_CACHE_KIB

#: Queued rows handed to the write-behind thread at a time (see QueuedWrites.write_behind).
WRITE_BEHIND_ROWS = 20_000


class WriteBehind:
    """The thread of :meth:`QueuedWrites.write_behind`: inserts handed-off batches in order.

    Each statement it runs has the same text as the previous ones of its table (``rows``
    rows: SQLite compiles it once — compiling a 5,000-row ``INSERT`` costs ten times running
    it); rows short of a whole statement are kept back (``carry``) and go first in the next
    batch of their table, or — once the thread is joined — to the caller's own flush, ahead of
    anything queued since, so every table still receives its rows in the order queued.
    """

    def __init__(self, insert: Any, params: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._insert = insert
        self._params = params
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._futures: list[Any] = []
        self._failed = False
        self._carry: Pending = {}

    def submit(self, pending: Pending) -> None:
        self._futures.append(self._executor.submit(self._run, pending))

    def _run(self, pending: Pending) -> None:
        if self._failed:
            return  # an earlier batch failed: the transaction will roll back
        try:
            merged: Pending = self._carry
            for table, groups in pending.items():
                into = merged.setdefault(table, {})
                for columns, rows in groups.items():
                    into.setdefault(columns, []).extend(rows)
            whole: Pending = {}
            self._carry = {}
            for table, groups in merged.items():
                for columns, rows in groups.items():
                    per = max(1, self._params // len(columns)) if self._params else len(rows)
                    cut = len(rows) // per * per
                    if cut:
                        whole.setdefault(table, {})[columns] = rows[:cut]
                    if cut < len(rows):
                        self._carry.setdefault(table, {})[columns] = rows[cut:]
            if whole:
                self._insert(whole)
        except BaseException:
            self._failed = True
            raise

    def join(self) -> Pending:
        """Wait for every batch handed over; raise the first error; the rows kept back."""
        futures, self._futures = self._futures, []
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            raise errors[0]
        carry, self._carry = self._carry, {}
        return carry

    def close(self) -> None:
        """Wait for the thread (errors already raised or superseded) and end it."""
        try:
            with suppress(Exception):  # the block's own exception is what propagates
                self.join()
        finally:
            self._executor.shutdown(wait=True)


class QueuedWrites:
    """The buffered inserts of one transaction on ``conn`` (see module docstring)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        #: the write-behind thread, while :meth:`write_behind` is on (else None)
        self._behind: WriteBehind | None = None
        self._pending_rows = 0
        #: True once :meth:`write_behind` handed rows to its thread (a bulk write)
        self.handed_over = False
        #: buffered inserts: table → column names → rows (value tuples in that order)
        self._pending: Pending = {}
        #: True inside :meth:`bulk_cache`
        self._cache_raised = False
        #: (type, id) of the resources written since the last :meth:`flush` (their rows may
        #: still be queued): a lookup of other resources' rows need not flush first
        self._unflushed: set[tuple[str, str]] = set()
        #: inside :meth:`deferred_replacements`: updates whose SQL waits for the next flush
        self._replacing: list[Replacement] | None = None

    @property
    def conn(self) -> Connection:
        """The transaction's connection; any inserts handed to the write-behind thread are
        finished first, so whoever uses the connection is alone on it and sees them."""
        if self._behind is not None:
            self._catch_up()
        return self._conn

    def _catch_up(self) -> None:
        """Wait for the write-behind thread and insert the rows it kept back."""
        assert self._behind is not None
        carry = self._behind.join()
        if carry:
            self._insert_pending(carry, self._conn)

    def _queue(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            groups = self._pending.setdefault(table, {})
            for row in rows:
                groups.setdefault(tuple(row), []).append(tuple(row.values()))
            self._queued(len(rows))

    def _queue_values(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Queue rows already laid out as ``columns`` (no per-row dicts)."""
        if rows:
            groups = self._pending.get(table)
            if groups is None:
                groups = self._pending[table] = {}
            queued = groups.get(columns)
            if queued is None:
                groups[columns] = list(rows)
            else:
                queued.extend(rows)
            self._queued(len(rows))

    def _queued(self, count: int) -> None:
        self._pending_rows += count
        if self._behind is not None and self._pending_rows >= WRITE_BEHIND_ROWS:
            pending, self._pending, self._pending_rows = self._pending, {}, 0
            self._behind.submit(pending)
            self.handed_over = True

    @contextmanager
    def write_behind(self) -> Iterator[Self]:
        """Insert buffered rows on a second thread while this one goes on (bulk writes).

        Inside the block, every :data:`WRITE_BEHIND_ROWS` queued rows are handed, in order, to
        one thread of this transaction that inserts them on the same connection (same SQL as
        :meth:`flush`), while the caller builds, indexes and queues the next resources: the
        database's own work (B-tree inserts; the sqlite3 and psycopg drivers release the GIL
        while in the database) overlaps Python's on a second core. Nothing else changes: one
        transaction, rows in the order queued, and any use of the connection — every read,
        :meth:`flush`, commit, :attr:`conn` for hooks — first waits until the thread is done
        (and raises its error, which rolls the transaction back like any failed insert).
        """
        if self._behind is not None:
            yield self
            return
        conn = self._conn
        max_params = 0
        if conn.dialect.name == "sqlite":
            import sqlite3

            raw: Any = conn.connection.driver_connection
            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            max_params = max(1, min(SQLITE_BEHIND_PARAMS, int(limit)))
        with self.bulk_cache():
            self._behind = WriteBehind(
                lambda p: self._insert_pending(p, conn, max_params), max_params
            )
            try:
                yield self
                self._catch_up()
            finally:
                behind, self._behind = self._behind, None
                behind.close()

    @contextmanager
    def bulk_cache(self) -> Iterator[Self]:
        """SQLite: a page cache of :data:`~healthbridge.store.sqlite.BULK_CACHE_KIB` for the
        block (a transaction writing tens of thousands of index rows at unordered keys, whose
        dirty pages would otherwise spill into the WAL mid-transaction and be read back), then
        the connection's own size again (a pooled connection keeps SQLite's default: see
        ``BULK_CACHE_KIB``). Nothing on PostgreSQL."""
        if self._conn.dialect.name != "sqlite" or self._cache_raised:
            yield self
            return
        raw: Any = self._conn.connection.driver_connection
        cache_size = raw.execute("PRAGMA cache_size").fetchone()[0]
        raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        self._cache_raised = True
        try:
            yield self
        finally:
            self._cache_raised = False
            # dirty pages stay cached until the commit; only clean ones are let go
            raw.execute(f"PRAGMA cache_size={int(cache_size)}")

    def flush(self) -> None:
        """Write buffered inserts (done automatically before queries and at commit).

        On the driver's own cursor: a read with its AuditEvent writes to eight tables and a
        1,000-entry Bundle to ten, and SQLAlchemy's per-statement and per-row processing cost
        more than the inserts. Driver errors are wrapped exactly as SQLAlchemy wraps them
        (``DBAPIError.instance``), so :meth:`Repository.transaction` maps them as for any other
        statement (409, 400, 503). See :mod:`healthbridge.store.inserts` for the SQL per backend.
        """
        if self._behind is not None:
            self._catch_up()
        if self._replacing:  # first: they delete the replaced versions' rows, not the new ones
            replacing, self._replacing = self._replacing, []
            replace_many(self._conn, replacing)
        if not self._pending:
            self._unflushed.clear()
            return
        pending, self._pending, self._pending_rows = self._pending, {}, 0
        self._insert_pending(pending, self._conn)
        self._unflushed.clear()

    def defer_replacement(self, replacement: Replacement) -> bool:
        """Keep an update's SQL for the next flush (True), inside
        :meth:`deferred_replacements` and when the resource has no queued rows (a resource
        written since the last flush is replaced at once: its replaced version may still be
        queued)."""
        prev = replacement[0]
        if self._replacing is None or (prev.res_type, prev.res_id) in self._unflushed:
            return False
        self._replacing.append(replacement)
        return True

    @contextmanager
    def deferred_replacements(self) -> Iterator[Self]:
        """Run the SQL of the block's updates at the next flush, all together
        (:func:`~healthbridge.store.replace.replace_many`), as the inserts are.

        An updated resource counts as written since the last flush, so its own reads, a
        second update and every query flush first, as for a queued insert; the rows and
        versions written are those of the updates one at a time. For a writer whose raw
        reads on :attr:`conn` never look for the rows it updated before flushing (the outbox
        worker); the block's end flushes."""
        if self._replacing is not None:
            yield self
            return
        self._replacing = []
        try:
            yield self
            self.flush()
        finally:
            self._replacing = None

    def flush_for(self, keys: Iterable[tuple[str, str]]) -> None:
        """:meth:`flush` when any of ``keys`` (type, id) was written since the last flush: a
        statement touching only those resources' rows (an update's current row, its index
        rows) sees everything it must see without inserting the others' queued rows one
        resource at a time (an outbox worker updates thousands of alerts in a transaction)."""
        if self._unflushed and not self._unflushed.isdisjoint(keys):
            self.flush()

    def _insert_pending(self, pending: Pending, conn: Connection, max_params: int = 0) -> None:
        """Insert ``pending`` on ``conn`` (:func:`~healthbridge.store.inserts.insert_pending`)."""
        insert_pending(pending, conn, max_params)
