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
#: SQLite WAL size beyond which a write transaction truncates the WAL (see ``restart_wal``).
WAL_LIMIT_BYTES = 64 * 1024 * 1024


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

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
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
