"""The export worker: a thread of a server process that runs queued Bulk Data export jobs.

Every ``healthbridge serve`` process runs ``Settings.bulk_export_workers`` of them (started
and stopped by the app lifespan, :mod:`healthbridge.server.app`). A worker claims the oldest
queued job in the database (:func:`healthbridge.district.bulk_jobs.claim`: ``SKIP LOCKED``
on PostgreSQL), so a job queued by one server is run by whichever worker is free — on that
server (it is woken at once) or another one (it looks every ``poll`` seconds) — and runs it
with :meth:`healthbridge.district.bulk.BulkExporter.run`. At shutdown a running job is handed
back to the queue for another process. Expired exports are deleted every
:data:`PURGE_EVERY` seconds by whichever worker gets there.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Final

from healthbridge.district import bulk_jobs as jobs
from healthbridge.district.bulk import BulkExporter

log = logging.getLogger(__name__)
#: Seconds between two purges of expired exports by one worker.
PURGE_EVERY: Final = 600.0


def worker_name() -> str:
    """A name no other worker has: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ExportWorker:
    """Claims and runs export jobs until :meth:`stop`."""

    def __init__(self, exporter: BulkExporter, *, poll: float = 2.0) -> None:
        self.exporter = exporter
        self.poll = poll
        self.name = worker_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._purged = 0.0

    def run_once(self) -> bool:
        """Claim one job and run it to its end; False when none was waiting."""
        job = jobs.claim(self.exporter.engine, self.name, stale_after=self.exporter.stale_after)
        if job is None:
            return False
        self.exporter.run(job, self.name, self._stop.is_set)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._purged >= PURGE_EVERY:
                    self._purged = time.monotonic()
                    self.exporter.purge_expired()
                if self.run_once():
                    continue
            except Exception:  # the database is away: log, wait, try again
                log.exception("export worker %s", self.name)
            self._wake.wait(self.poll)
            self._wake.clear()

    def wake(self) -> None:
        """Look for a job now (a job was just queued)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bulk-export-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after handing a running job back to the queue (waits for the thread)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
