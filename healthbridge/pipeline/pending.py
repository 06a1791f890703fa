"""Whether a child's derived results are still on their way (issue 19, the outbox mode).

In the outbox mode (the default) a write returns once the resource and its outbox row are
committed; the derived growth scores, alert Flags and review Tasks follow from a worker
(:mod:`healthbridge.pipeline.outbox`), on a quiet server within about a second. A page that
shows a child's alerts right after its user saved a measurement must not show the alerts of
before as if they were current: :func:`wait_for_children` waits a bounded time for the
child's queued rows to be evaluated and says whether some are still queued, so the page can
say that the results are being calculated (docs/pipeline.md "The default mode").

The wait polls the queue (one indexed query on ``pipeline_outbox.child_id`` per step) rather
than listening to the worker: the worker may be another process (``healthbridge worker``).
"""

from __future__ import annotations

import time
from collections.abc import Collection

from sqlalchemy import select

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.outbox_models import PipelineOutboxRow
from healthbridge.store.repository import Repository

OUTBOX = PipelineOutboxRow.__table__  # type: ignore[attr-defined]
#: seconds between two looks at the queue while waiting
STEP = 0.05


def queued_children(repository: Repository, child_ids: Collection[str]) -> set[str]:
    """Those of these children with a change still queued (empty: their results are
    written)."""
    if not child_ids:
        return set()
    with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        query = select(OUTBOX.c.child_id).where(OUTBOX.c.child_id.in_(sorted(child_ids)))
        return {str(c) for (c,) in txn.conn.execute(query.distinct())}


def wait_for_children(
    repository: Repository, child_ids: Collection[str], seconds: float
) -> set[str]:
    """Wait at most ``seconds`` until no change of these children is queued; the children
    whose results are still pending then (empty: every queued change was evaluated).

    A change that keeps failing stays queued (with its back-off): the wait then ends at its
    bound and the page says the results are pending — which they are."""
    deadline = time.monotonic() + max(seconds, 0.0)
    while pending := queued_children(repository, child_ids):
        if time.monotonic() >= deadline:
            return pending
        time.sleep(STEP)
    return set()
