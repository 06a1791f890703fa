"""One deliverer at a time across the server processes that share a database.

Several ``healthbridge serve`` processes share one database (docs/deployment.md "Stateless
servers"); each runs a :class:`~healthbridge.notify.delivery.Deliverer`. The part of a round
that sends and numbers events — handshakes, rest-hook POSTs, heartbeats and the event numbers
of every Subscription — runs only in the process holding :class:`DeliveryLock`, which loads
the positions after taking it and writes them before giving it back. So an event is POSTed
once (at least once: a process that dies between the POST and writing its position leaves
that one event to be sent again, as before), and the event numbers of a Subscription stay
one counter, gap-free and in order (R4 Subscriptions Backport IG STU 1.1,
"events-since-subscription-start": every event increments it by one). A process that does
not get the lock skips that part of its round: the holder sends, the next round anyone may.

The lock:

* **PostgreSQL** — a session advisory lock (``pg_try_advisory_lock``, PostgreSQL manual §13.3.5
  "Advisory Locks") on one connection held for the part of the round; it is never waited
  for (``try``), and a process that dies loses its connection and with it the lock.
* **SQLite** — the processes share one file, hence one host: an exclusive ``flock`` on
  ``<database>.notify-lock`` next to it (Linux ``flock(2)``: locks belong to the open file,
  so two apps in one process exclude each other too; released when the process dies). An
  in-memory database is one process's: a lock per engine.

Hand-written: two system calls' worth; no library offers the PostgreSQL/SQLite pair.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)
#: the advisory lock's key: a fixed 32-bit number naming "healthbridge notification delivery"
ADVISORY_KEY: Final = zlib.crc32(b"healthbridge.notify.delivery")
_memory_locks: dict[int, threading.Lock] = {}
_memory_guard = threading.Lock()


class DeliveryLock:
    """``with lock.held() as leader:`` — ``leader`` is whether this process holds it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        database = engine.url.database or ""
        self.path: Path | None = (
            Path(f"{database}.notify-lock")
            if self.dialect == "sqlite" and database not in ("", ":memory:")
            and not database.startswith("file:")
            else None
        )  # fmt: skip

    @contextlib.contextmanager
    def held(self) -> Iterator[bool]:
        if self.dialect == "postgresql":
            with self._advisory() as got:
                yield got
        elif self.path is not None:
            with self._flock(self.path) as got:
                yield got
        else:
            with self._memory() as got:
                yield got

    @contextlib.contextmanager
    def _advisory(self) -> Iterator[bool]:
        conn = self.engine.connect()
        got = False
        try:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            conn.commit()  # the session lock outlives the transaction; the connection is kept
            yield got
        finally:
            try:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                    conn.commit()
            except Exception:  # a broken connection: never pool it with the lock on it
                log.exception("releasing the delivery lock failed")
                conn.invalidate()
            finally:
                conn.close()

    @staticmethod
    @contextlib.contextmanager
    def _flock(path: Path) -> Iterator[bool]:
        with path.open("a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _memory(self) -> Iterator[bool]:
        with _memory_guard:
            lock = _memory_locks.setdefault(id(self.engine), threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
