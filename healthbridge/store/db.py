"""Engine creation and schema migrations (Alembic).

SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout; write transactions
start with ``BEGIN IMMEDIATE`` so that two writers serialise at BEGIN instead of failing on a
lock upgrade halfway. PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://``).
"""

from __future__ import annotations

import threading
import weakref
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

#: Execution option that marks a connection as used for writing (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "healthbridge_write"
#: Seconds a write transaction waits for the database (SQLite busy timeout, writer lock).
BUSY_TIMEOUT_S = 30
#: SQLite page cache of a bulk write transaction, KiB (``PRAGMA cache_size=-N`` for the
#: duration of :meth:`~healthbridge.store.repository.Transaction.write_behind`; SQLite's
#: default, which every other connection keeps, is 2 MiB). A 10,000-row session import
#: (50,000 resources, ~500,000 index rows) inserts into a dozen B-trees at keys that are not
#: in order; with 2 MiB the cache spills dirty pages into the WAL mid-transaction and reads
#: them back (the import took ~0.5 s longer). Not for every connection: in WAL mode a
#: connection drops its whole cache whenever another one has written (every audited read
#: writes), and dropping 64 MiB on each read made search p95 3–4 ms slower
#: (bench/results/store.md, wave 5). https://sqlite.org/pragma.html#pragma_cache_size
BULK_CACHE_KIB = 64 * 1024
#: SQLite WAL size beyond which a write transaction truncates the WAL (see ``restart_wal``).
WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: WAL size beyond which the background checkpointer copies the WAL back into the database
#: (SQLite's own automatic threshold is 1,000 pages, ~4 MB; see :class:`_Checkpointer`).
CHECKPOINT_BYTES = 4 * 1024 * 1024
#: Seconds the checkpointer sleeps between looks at the WAL when no commit wakes it.
CHECKPOINT_IDLE_S = 1.0
#: Least seconds between two background checkpoints (each copies whatever is pending; the WAL
#: file keeps its size after a checkpoint, so its size alone cannot say what is pending).
CHECKPOINT_INTERVAL_S = 0.5


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create the engine for ``url`` with the per-backend settings described above."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
        )
        background = bool(parsed.database) and parsed.database != ":memory:"
        if background:
            _guard_forks()
            checkpointer = _Checkpointer(str(Path(str(parsed.database)).resolve()))
            _CHECKPOINTERS[engine] = checkpointer
            weakref.finalize(engine, checkpointer.stop)

            @event.listens_for(engine, "commit")
            def _on_commit(_conn: Any) -> None:
                checkpointer.poke()

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            if background:
                cur.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job instead
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # pre-ping: connections that died with a database restart are replaced at checkout.
    return create_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


class _WriterLock:
    """A re-entrant lock held for a whole write transaction, with the busy timeout."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=BUSY_TIMEOUT_S):
            # as when SQLite's own busy timeout expires: Repository.transaction makes it a 503
            raise OperationalError("BEGIN IMMEDIATE", None, TimeoutError("database is locked"))

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()


_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def writer_lock(engine: Engine) -> AbstractContextManager[Any]:
    """The in-process lock write transactions on ``engine`` hold (SQLite only).

    SQLite has one writer at a time; a thread whose ``BEGIN IMMEDIATE`` finds the database
    locked sleeps in SQLite's busy handler with growing back-off (1, 2, 5, 10 … 100 ms), so
    with several request threads — and every audited read is a write transaction — much of
    the time went to sleeping while the lock was free again. Queuing the threads of one
    process on a Python lock first hands the database over as soon as it is released; the busy
    timeout still arbitrates between processes (``--workers``). PostgreSQL needs no lock.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _LOCKS_GUARD:
        lock = _WRITER_LOCKS.get(engine)
        if lock is None:
            lock = _WRITER_LOCKS[engine] = _WriterLock()
    return lock


class _Checkpointer:
    """SQLite WAL checkpoints on a daemon thread instead of inside a request's commit.

    By default SQLite runs a PASSIVE checkpoint in the commit that takes the WAL past 1,000
    pages. Every audited read is a small write transaction (an AuditEvent, ~100 WAL pages), so
    one request in ten paid for copying ~4 MB back into the database: a periodic 20 ms stall
    that set the p95 of every search (bench/results/store.md). Connections of file databases
    therefore turn automatic checkpoints off, and this thread — woken by commits, at most every
    :data:`CHECKPOINT_INTERVAL_S` — runs the same PASSIVE checkpoint on its own connection when
    the WAL is past :data:`CHECKPOINT_BYTES`
    (https://sqlite.org/wal.html#automatic_checkpoint). PASSIVE never waits for or blocks
    readers and writers; the sqlite3 module releases the GIL while it runs. :func:`restart_wal`
    still empties a WAL that outgrows its limit. One thread per engine and process (started
    again in a forked child); it ends with the engine. Before (full-size bench database, 500
    searches): p50/p95 14.0/42.1 ms; after: 10.2/13.3 ms.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self.wal = Path(database + "-wal")
        self.runs = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pid: int | None = None
        self._dirty = False  # a commit since the last checkpoint

    def poke(self) -> None:
        """A commit happened: make sure the thread runs in this process and wake it."""
        import os

        if self._pid != os.getpid():  # first commit in this process (or a forked child)
            self._pid = os.getpid()
            self._wake = threading.Event()
            threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True).start()
        self._dirty = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        import sqlite3
        import time

        wake = self._wake
        last = 0.0
        seen: float | None = None  # the WAL's modification time at the last checkpoint
        while not self._stop.is_set():
            wake.wait(CHECKPOINT_IDLE_S)
            if self._stop.is_set():
                break
            pause = last + CHECKPOINT_INTERVAL_S - time.monotonic()
            if self._dirty and pause > 0:
                self._stop.wait(pause)
            wake.clear()
            self._dirty = False
            try:
                # The WAL keeps its size after a checkpoint; a new modification time says
                # something was written since (also by connections that bypass the engine's
                # commit events, e.g. bulk loaders on the driver connection).
                stat = self.wal.stat()
                if stat.st_size <= CHECKPOINT_BYTES or stat.st_mtime == seen:
                    continue
                last = time.monotonic()
                with _IN_SQLITE:
                    conn = sqlite3.connect(self.database, check_same_thread=False)
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    finally:
                        conn.close()
                seen = stat.st_mtime
                self.runs += 1
            except (OSError, sqlite3.Error):
                self._dirty = True  # no WAL yet, or busy: try again at the next wake-up


_CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, _Checkpointer] = weakref.WeakKeyDictionary()
#: Held by a checkpointer thread while it is inside SQLite, and by ``os.fork`` (see
#: :func:`_guard_forks`): a process forked while another thread held one of SQLite's internal
#: mutexes would inherit it locked and hang at its first ``sqlite3.connect`` (the worker
#: processes of ``healthbridge evaluate`` and the batch readers are forked).
_IN_SQLITE = threading.Lock()
_FORK_GUARD_INSTALLED = False


def _guard_forks() -> None:
    """Make ``os.fork`` wait until no checkpointer thread is inside SQLite (installed once,
    when the first checkpointer is created)."""
    global _FORK_GUARD_INSTALLED
    with _LOCKS_GUARD:
        if _FORK_GUARD_INSTALLED:
            return
        import os

        os.register_at_fork(
            before=_IN_SQLITE.acquire,
            after_in_parent=_IN_SQLITE.release,
            after_in_child=_IN_SQLITE.release,
        )
        _FORK_GUARD_INSTALLED = True


def checkpointer(engine: Engine) -> _Checkpointer | None:
    """The background WAL checkpointer of a SQLite file engine (None for other databases)."""
    return _CHECKPOINTERS.get(engine)


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
    outside any transaction, by the writer that finds the WAL too large; a checkpoint that
    stays busy is skipped (the committed write stands) and a later write retries.
    """
    if wal is None:
        return
    try:
        size = wal.stat().st_size
    except OSError:
        return
    if size > WAL_LIMIT_BYTES:
        import sqlite3

        # on the driver connection (autocommit): a checkpoint cannot run inside a transaction
        raw = conn.connection.driver_connection
        try:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            # still busy after the timeout: the committed write stands; a later one retries
            return


def alembic_config(engine: Engine) -> Any:
    """An Alembic ``Config`` whose script location is the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    location = resources.files("healthbridge.store").joinpath("migrations")
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev
