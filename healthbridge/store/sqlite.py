"""The SQLite runtime of one engine: connection pragmas, the writer lock, WAL checkpoints and
WAL restarts, in one object (:class:`SqliteRuntime`, one per engine: :func:`runtime_of`).

Connections run in WAL mode with ``synchronous=NORMAL`` and a busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so that two writers serialise at BEGIN instead of
failing on a lock upgrade halfway (:func:`configure`, called by
:func:`~healthbridge.store.db.make_engine`: event listeners on that engine only).

The WAL is kept bounded in one of two ways:

* **Started** (:meth:`SqliteRuntime.start`, by the app lifespan and by the CLI commands that
  write in bulk, see :mod:`healthbridge.store.runtime`): connections turn SQLite's automatic
  checkpoint off and one thread per engine — the *checkpointer* — copies the WAL back into the
  database once it passes :data:`CHECKPOINT_BYTES` (PASSIVE: it never waits for or blocks
  readers and writers), and empties it (TRUNCATE, under the writer lock) after a bulk write
  asked for it. Every audited read is a small write transaction; with SQLite's own
  checkpoint inside the commit that took the WAL past 1,000 pages, one request in ten paid
  for copying ~4 MB: a periodic 20 ms stall that set the search p95 (before, full-size bench
  database, 500 searches: p50/p95 14.0/42.1 ms; after: 10.2/13.3 ms;
  bench/results/ingest.md, notes).
  The sqlite3 module releases the GIL while it checkpoints.
* **Not started** (tests, one-off commands, the worker processes of ``healthbridge
  evaluate``): SQLite's own automatic PASSIVE checkpoints, and every writer truncates a WAL
  past :data:`WAL_LIMIT_BYTES` after its commit (:func:`restart_wal`). No thread.

No thread starts at import or at engine creation. The thread ends at
:meth:`SqliteRuntime.stop`; it does not run in a forked child (a child sees the runtime as not
started). A command that forks worker processes must not start the runtime: a process forked
while another thread is inside SQLite inherits SQLite's mutexes locked and hangs at its first
``sqlite3.connect`` (``healthbridge evaluate`` and ``parent-reports`` never start it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

#: Execution option that marks a connection as used for writing (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "healthbridge_write"
#: Seconds a write transaction waits for the database (SQLite busy timeout, writer lock).
BUSY_TIMEOUT_S = 30
#: SQLite page cache of a bulk write transaction, KiB (``PRAGMA cache_size=-N`` for the
#: duration of :meth:`~healthbridge.store.write_behind.QueuedWrites.write_behind`; SQLite's
#: default, which every other connection keeps, is 2 MiB). A 10,000-row session import
#: (50,000 resources, ~500,000 index rows) inserts into a dozen B-trees at keys that are not
#: in order; with 2 MiB the cache spills dirty pages into the WAL mid-transaction and reads
#: them back (the import took ~0.5 s longer). Not for every connection: in WAL mode a
#: connection drops its whole cache whenever another one has written (every audited read
#: writes), and dropping 64 MiB on each read made search p95 3–4 ms slower
#: (bench/results/ingest.md, notes, wave 5). https://sqlite.org/pragma.html#pragma_cache_size
BULK_CACHE_KIB = 64 * 1024
#: SQLite WAL size beyond which it is truncated (see :func:`restart_wal`).
WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: WAL size beyond which the checkpointer copies the WAL back into the database (SQLite's own
#: automatic threshold is 1,000 pages, ~4 MB).
CHECKPOINT_BYTES = 4 * 1024 * 1024
#: Seconds the checkpointer sleeps between looks at the WAL when no commit wakes it.
CHECKPOINT_IDLE_S = 1.0
#: Least seconds between two checkpoints (each copies whatever is pending; the WAL file keeps
#: its size after a checkpoint, so its size alone cannot say what is pending).
CHECKPOINT_INTERVAL_S = 0.5
#: SQLite's default ``wal_autocheckpoint`` (pages), which connections keep while the
#: runtime is not started.
AUTOCHECKPOINT_PAGES = 1000


class WriterLock:
    """A re-entrant lock held for a whole write transaction, with the busy timeout."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=BUSY_TIMEOUT_S):
            # as when SQLite's own busy timeout expires: Repository.transaction makes it a 503
            raise OperationalError("BEGIN IMMEDIATE", None, TimeoutError("database is locked"))

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()


def wal_path(engine: Engine) -> Path | None:
    """The WAL file of a SQLite file database (None for other databases)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(database + "-wal")


def restart_wal(conn: Any, wal: Path | None) -> None:
    """Checkpoint and restart the WAL once it outgrows :data:`WAL_LIMIT_BYTES`.

    SQLite's automatic checkpoints are PASSIVE: with writers from two worker processes always
    overlapping, the WAL is never idle, so it cannot start over and grows without bound (an
    ingest reached an 11 GB WAL for a 1.4 GB database, and every page lookup searches the WAL
    index). A TRUNCATE checkpoint waits (busy timeout) for the other writer and for readers of
    old snapshots, copies everything back and empties the WAL, so the next writer starts it
    again (https://sqlite.org/pragma.html#pragma_wal_checkpoint). Called after a commit,
    outside any transaction, on a SQLAlchemy connection (its driver connection, autocommit);
    a checkpoint that stays busy is skipped (the committed write stands) and a later write
    retries.
    """
    if wal is None or not _past_limit(wal):
        return
    raw = conn.connection.driver_connection
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error:
        return  # still busy after the timeout: a later write retries


def _past_limit(wal: Path) -> bool:
    try:
        return wal.stat().st_size > WAL_LIMIT_BYTES
    except OSError:
        return False


class SqliteRuntime:
    """Writer lock, checkpointer and WAL restarts of one SQLite engine (module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.wal = wal_path(engine)
        self.database = str(Path(str(engine.url.database)).resolve()) if self.wal else None
        self._lock = WriterLock()
        self._lock_pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._state = threading.Condition()
        self._truncate = False  # a bulk write asked for the WAL to be emptied
        self._dirty = False  # a commit since the last checkpoint
        #: checkpoints (PASSIVE) and WAL restarts (TRUNCATE) the thread ran
        self.checkpoints = 0
        self.restarts = 0

    # ------------------------------------------------------------------ the writer lock
    @property
    def lock(self) -> WriterLock:
        """The in-process lock write transactions hold.

        SQLite has one writer at a time; a thread whose ``BEGIN IMMEDIATE`` finds the
        database locked sleeps in SQLite's busy handler with growing back-off (1, 2, 5, 10 …
        100 ms), so with several request threads — and every audited read is a write
        transaction — much of the time went to sleeping while the lock was free again.
        Queuing the threads of one process on a Python lock first hands the database over as
        soon as it is released; the busy timeout still arbitrates between processes
        (``--workers``). A forked child gets a lock of its own (the parent's may have been
        held by a thread that does not exist in the child).
        """
        if self._lock_pid != os.getpid():
            self._lock, self._lock_pid = WriterLock(), os.getpid()
        return self._lock

    # ------------------------------------------------------------------ start / stop
    @property
    def running(self) -> bool:
        """Whether the checkpointer thread runs in this process."""
        thread = self._thread
        return thread is not None and self._pid == os.getpid() and thread.is_alive()

    def start(self) -> None:
        """Start the checkpointer thread (file databases only; idempotent). Connections
        checked out from now on leave checkpoints to it."""
        if self.database is None or self.running:
            return
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._run, name="healthbridge-sqlite-checkpointer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish a pending WAL restart, end the thread and wait for it (``timeout``)."""
        thread = self._thread
        if thread is None or self._pid != os.getpid():
            self._thread = None
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)
        self._thread = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no WAL restart asked for by a bulk write is pending (benchmarks, tests);
        False when ``timeout`` passed first."""
        with self._state:
            return self._state.wait_for(lambda: not self._truncate or not self.running, timeout)

    # ------------------------------------------------------------------ hooks of the engine
    def committed(self) -> None:
        """A commit happened on the engine: wake the checkpointer."""
        if self._thread is not None:
            self._dirty = True
            self._wake.set()

    def after_commit(self, conn: Any, *, bulk: bool) -> None:
        """After a write transaction committed, outside it: keep the WAL bounded.

        A bulk write (one that used the write-behind thread) leaves hundreds of MB in the WAL
        (a 10,000-row session import: ~300 MB); emptying it copies all of it back and syncs
        the file — seconds of I/O that the committed import does not need. While the runtime
        runs, the checkpointer does it under the writer lock (in-process writers queue behind
        it exactly as before; the response just does not wait). Otherwise, and after any
        other write, the writer itself truncates a WAL past its limit (:func:`restart_wal`).
        """
        if self.wal is None:
            return
        if bulk and self.running:
            with self._state:
                self._truncate = True
            self._wake.set()
            return
        restart_wal(conn, self.wal)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        assert self.wal is not None
        wal, wake, stop = self.wal, self._wake, self._stop
        last = 0.0
        seen: float | None = None  # the WAL's modification time at the last checkpoint
        while True:
            wake.wait(CHECKPOINT_IDLE_S)
            if self._truncate:
                self._restart()
            if stop.is_set():
                break
            pause = last + CHECKPOINT_INTERVAL_S - time.monotonic()
            if self._dirty and pause > 0:
                stop.wait(pause)
            wake.clear()
            self._dirty = False
            try:
                # The WAL keeps its size after a checkpoint; a new modification time says
                # something was written since (also by connections that bypass the engine's
                # commit events, e.g. bulk loaders on the driver connection).
                stat = wal.stat()
                if stat.st_size <= CHECKPOINT_BYTES or stat.st_mtime == seen:
                    continue
                last = time.monotonic()
                self._checkpoint("PASSIVE")
                seen = stat.st_mtime
                self.checkpoints += 1
            except (OSError, sqlite3.Error):
                self._dirty = True  # no WAL yet, or busy: try again at the next wake-up
        with self._state:
            self._state.notify_all()

    def _restart(self) -> None:
        """Empty the WAL (TRUNCATE) under the writer lock, as a writer would have."""
        try:
            with self.lock:
                if self.wal is not None and _past_limit(self.wal):
                    self._checkpoint("TRUNCATE")
                    self.restarts += 1
        except (OperationalError, sqlite3.Error):
            pass  # busy past the timeout: the committed write stands; a later one retries
        finally:
            with self._state:
                self._truncate = False
                self._state.notify_all()

    def _checkpoint(self, mode: str) -> None:
        conn = sqlite3.connect(str(self.database), timeout=BUSY_TIMEOUT_S)
        try:
            conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        finally:
            conn.close()


_RUNTIMES: weakref.WeakKeyDictionary[Engine, SqliteRuntime] = weakref.WeakKeyDictionary()


def runtime_of(engine: Engine) -> SqliteRuntime | None:
    """The runtime of a SQLite engine made by :func:`~healthbridge.store.db.make_engine`
    (None for other databases)."""
    return _RUNTIMES.get(engine)


def writer_lock(engine: Engine) -> AbstractContextManager[Any]:
    """The in-process lock write transactions on ``engine`` hold (SQLite only; see
    :attr:`SqliteRuntime.lock`). PostgreSQL needs no lock."""
    runtime = _RUNTIMES.get(engine)
    return nullcontext() if runtime is None else runtime.lock


def configure(engine: Engine) -> SqliteRuntime:
    """Give a new SQLite engine its runtime and its connection settings (listeners on this
    engine only; nothing starts)."""
    runtime = _RUNTIMES[engine] = SqliteRuntime(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.close()

    if runtime.database is not None:

        @event.listens_for(engine, "checkout")
        def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            # automatic checkpoints off while the checkpointer runs, SQLite's own otherwise
            pages = 0 if runtime.running else AUTOCHECKPOINT_PAGES
            if record.info.get("wal_autocheckpoint") != pages:
                dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={pages}")
                record.info["wal_autocheckpoint"] = pages

        @event.listens_for(engine, "commit")
        def _on_commit(_conn: Any) -> None:
            runtime.committed()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return runtime
