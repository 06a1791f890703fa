"""Wait for the clinical pipeline's results the way a user would (issue 19).

With the default ``pipeline_mode = "outbox"`` a write returns once the resource and its
outbox row are committed; the derived scores, Flags and Tasks follow from a worker. A test
that reads those results after a write first calls :func:`settle`: it drains the queue in
the test's thread (deterministic: no wait for the worker thread's next round) and then polls
the queue until it is empty — rows the app's worker thread has claimed stay queued until its
transaction commits. The timeout is a bound for a loaded machine, never a measurement of
speed. A child whose evaluation fails is reported at once with the worker's error.

:func:`settling` makes a ``TestClient`` settle after every request that is not a read, for
test modules whose every step reads the pipeline's results (the pipeline's own tests); in the
inline mode both are no-ops.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthbridge.pipeline.outbox import drain, status
from healthbridge.store.hooks import SYSTEM_CONTEXT

#: seconds a test waits for the queue at most (a loaded CI machine), not an expectation
TIMEOUT = 60.0
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def settle(app: FastAPI, timeout: float = TIMEOUT) -> None:
    """Return once every queued pipeline change of ``app`` has been evaluated."""
    installed = getattr(app.state, "pipeline", None)
    if installed is None or installed.outbox is None:
        return  # pipeline off, or inline: evaluated in the write's transaction
    repository, pipeline = app.state.repository, installed.outbox.pipeline
    deadline = time.monotonic() + timeout
    while True:
        drain(repository, pipeline, seconds=None)
        with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            queue = status(txn)
        if queue.queued == 0:
            return
        assert not queue.failing, f"the pipeline failed: {queue.last_error}"
        assert time.monotonic() < deadline, f"{queue.queued} pipeline changes still queued"
        time.sleep(0.02)  # the worker thread holds the rows it claimed until it commits


def settling(client: TestClient) -> TestClient:
    """Make ``client`` settle its app after every write request (see the module docstring)."""
    app: Any = client.app

    def after(response: httpx.Response) -> None:
        if response.request.method not in READS:
            settle(app)

    client.event_hooks = {**client.event_hooks, "response": [after]}
    return client
