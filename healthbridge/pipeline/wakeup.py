"""PostgreSQL: wake the outbox workers of every process when a write queues rows.

A server's own worker thread is woken by the writes of its process
(:attr:`.outbox.Outbox.wakers`); a worker in another process — a ``healthbridge worker``, the
thread of a server on another host — only polled, so with the servers' threads off
(``HEALTHBRIDGE_PIPELINE_WORKER_THREAD=false``, the layout that gives the most throughput on
PostgreSQL, docs/pipeline.md) a single write's results came up to a poll interval (0.5 s)
later (bench/results/burst.md: at most 521 ms against 87 ms).

PostgreSQL's ``NOTIFY`` carries the wake-up: the enqueueing write calls :func:`notify` in
its own transaction, and PostgreSQL delivers the notification at its commit, never for a
write that rolled back, folding repeats within one transaction
(https://www.postgresql.org/docs/15/sql-notify.html). Each worker's :class:`Listener` holds
one connection of its own in ``LISTEN`` and wakes the worker on each notification; the poll
stays as the fallback (a lost connection is opened again, a notification missed meanwhile
waits for the poll). SQLite has no such channel and needs none: its workers are the server's
threads, woken in process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

#: The notification channel of queued pipeline changes.
CHANNEL = "healthbridge_pipeline"


def notify(conn: Connection) -> None:
    """Ask PostgreSQL to wake the listening workers when ``conn``'s transaction commits
    (nothing on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class Listener:
    """A thread in ``LISTEN`` on :data:`CHANNEL` that calls ``wake`` on each notification
    (PostgreSQL only: :meth:`start` does nothing on another database). Started and stopped
    with the worker it wakes (:class:`.outbox.OutboxWorker`), never at import."""

    def __init__(self, engine: Engine, wake: Callable[[], None], *, timeout: float = 0.1):
        self.engine = engine
        self.wake = wake
        #: seconds a wait for notifications lasts before the stop flag is looked at again
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: set once the connection listens (tests wait for it)
        self.listening = threading.Event()

    def start(self) -> None:
        if self.engine.dialect.name != "postgresql" or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="healthbridge-pipeline-listener", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout)
            self._thread = None
            self.listening.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:  # the database went away: open a connection again later
                log.warning(
                    "pipeline listener: connection lost; polling until it is back", exc_info=True
                )
                self.listening.clear()
                self._stop.wait(5.0)

    def _listen(self) -> None:
        # a connection of the engine's own configuration, taken out of its pool for good:
        # it stays in LISTEN for the life of the worker
        raw = self.engine.raw_connection()
        raw.detach()
        pg: Any = raw.dbapi_connection  # psycopg's own connection
        try:
            pg.rollback()  # the pool's pre-ping may have opened a transaction
            pg.autocommit = True
            pg.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for _notification in pg.notifies(timeout=self.timeout):
                    self.wake()
        finally:
            raw.close()
