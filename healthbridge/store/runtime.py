"""What runs beside the store while a process serves or writes in bulk, and who starts it.

:func:`start` (and the context manager :func:`running`) is called by the app lifespan
(role ``"server"``) and by the CLI commands that need it (role ``"batch"``); nothing else
starts or stops process-wide machinery. It starts the SQLite runtime of the engine (the
checkpointer thread, :mod:`healthbridge.store.sqlite`) unless ``sqlite_thread=False`` —
commands that fork worker processes pass that, since no thread may be inside SQLite at a
fork — and declares the process's role to the GC policy (:mod:`healthbridge.store.gc_policy`).
:meth:`StoreRuntime.stop` undoes all of it: after it no thread of the store remains.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from healthbridge.store import gc_policy
from healthbridge.store.sqlite import SqliteRuntime, runtime_of


class StoreRuntime:
    """The started runtime of one engine in this process (see module docstring)."""

    def __init__(self, engine: Engine, role: gc_policy.Role, sqlite: SqliteRuntime | None) -> None:
        self.engine = engine
        self.role = role
        #: the SQLite runtime when its thread was started (None: PostgreSQL, or not started)
        self.sqlite = sqlite
        self._frozen = False
        self._holding = True

    def freeze_gc(self) -> None:
        """A server, once started: move every object alive into the collector's permanent
        generation (:func:`healthbridge.store.gc_policy.freeze`)."""
        gc_policy.freeze()
        self._frozen = True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no WAL restart asked for by a bulk write is pending (benchmarks)."""
        return True if self.sqlite is None else self.sqlite.wait_idle(timeout)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop what :func:`start` started (idempotent)."""
        if self.sqlite is not None:
            self.sqlite.stop(timeout)
            self.sqlite = None
        if self._frozen:
            gc_policy.unfreeze()
            self._frozen = False
        if self._holding:
            gc_policy.release(self.role)
            self._holding = False


def start(engine: Engine, *, role: gc_policy.Role, sqlite_thread: bool = True) -> StoreRuntime:
    """Start the runtime of ``engine`` for a process of ``role`` (see module docstring)."""
    sqlite = runtime_of(engine) if sqlite_thread else None
    gc_policy.hold(role)
    runtime = StoreRuntime(engine, role, sqlite)
    if sqlite is not None:
        sqlite.start()
    return runtime


@contextmanager
def running(
    engine: Engine, *, role: gc_policy.Role = "batch", sqlite_thread: bool = True
) -> Iterator[StoreRuntime]:
    """:func:`start` for the duration of a block (CLI commands)."""
    runtime = start(engine, role=role, sqlite_thread=sqlite_thread)
    try:
        yield runtime
    finally:
        runtime.stop()
