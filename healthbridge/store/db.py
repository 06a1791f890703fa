"""Engine creation and schema migrations (Alembic).

SQLite engines get their connection settings and their runtime (writer lock, checkpoints,
WAL restarts) from :mod:`healthbridge.store.sqlite`; PostgreSQL is reached through psycopg 3
(``postgresql+psycopg://``). Creating an engine starts nothing: the app lifespan and the
CLI commands start what runs beside it (:mod:`healthbridge.store.runtime`).

Pooled connections never cross a fork: each connection remembers the process that opened
it, and a process that checks out a connection opened by another (a forked child of the
process that made the engine) discards it and opens its own — the recipe of
https://docs.sqlalchemy.org/en/20/core/pooling.html#using-connection-pools-with-multiprocessing-or-os-fork.
Worker processes that need the database open their own engine in their initializer.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from healthbridge.store import sqlite
from healthbridge.store.sqlite import BUSY_TIMEOUT_S, WRITE_OPTION, writer_lock

__all__ = [
    "WRITE_OPTION",
    "alembic_config",
    "current_revision",
    "make_engine",
    "normalise_url",
    "upgrade",
    "writer_lock",
]


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
        sqlite.configure(engine)
    else:
        # pre-ping: connections that died with a database restart are replaced at checkout.
        engine = create_engine(
            url,
            echo=echo,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 5},
        )
    _own_process_connections(engine)
    return engine


def _own_process_connections(engine: Engine) -> None:
    """Discard, at checkout, a pooled connection opened by another process (module
    docstring): a forked child never talks through its parent's connection."""

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout", insert=True)  # before any other checkout listener
    def _on_checkout(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            # not closed here: closing would end the parent's session (PostgreSQL)
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection opened by another process; reconnecting")


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
