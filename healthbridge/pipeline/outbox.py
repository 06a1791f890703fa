"""The clinical pipeline off the write path: an outbox and the workers that drain it.

With ``pipeline_mode = "outbox"`` a write no longer evaluates the children it touched in its
own transaction (:meth:`Pipeline.on_commit`, the inline mode). :meth:`Outbox.enqueue` (the
pre-commit hook) instead inserts ``pipeline_outbox`` rows
(:mod:`healthbridge.store.outbox_models`) for each touched child, one per resource written
about it (:func:`.drain_changes.row_sources`; one when the Patient or many were written), in
the writer's transaction: the change and its pending evaluation commit together or not at
all (the transactional-outbox pattern).

A worker (:func:`drain_batch`) then, in ONE transaction:

1. claims up to ``batch`` due rows, oldest first — on PostgreSQL with
   ``SELECT … FOR UPDATE SKIP LOCKED`` so that N workers (threads or ``healthbridge worker``
   processes) share the queue without taking the same row; on SQLite the store's writer lock
   serialises workers — plus the other queued rows of the same children (one evaluation
   covers them all);
2. evaluates those children together with the vectorised engine of ``healthbridge
   evaluate`` (:mod:`healthbridge.pipeline.drain_vector`: a read scoped to those children,
   one scoring call, the batch rules and reconciliation, the writes queued in this
   transaction) — the derived scores, Flags and Tasks are the ones the inline mode writes,
   with the same deterministic ids — and, for morning checks, their centres as the inline
   mode does (the per-child :class:`~healthbridge.pipeline.engine.Pipeline` is used when
   the rule-input table is not current, and for the retries below); the batch's updates
   run their SQL together at each flush of the transaction, as its inserts do
   (:meth:`~healthbridge.store.write_behind.QueuedWrites.deferred_replacements`);
3. deletes the rows of the children it evaluated — all of them, or those done within the
   batch's time budget (one second: on SQLite a write waits for the worker's transaction).

If the worker dies anywhere before the commit, nothing of the batch is kept and its rows are
still queued: the next worker evaluates the children again from the record (the evaluation
is idempotent: unchanged scores and alerts are not rewritten). A failed batch is retried
child by child in separate transactions, so one record the rules cannot read does not hold
the others back; a child that still fails keeps its rows with ``attempts + 1`` and a
back-off (``2^attempts`` seconds, at most an hour) and its error, shown by
``$pipeline-status``.

:class:`OutboxWorker` is the in-process worker thread the app lifespan starts and stops
(never at import); it is woken by each enqueueing write (on PostgreSQL also by those of
other processes, through ``NOTIFY``: :mod:`.wakeup`) and also polls, so a result appears
within about a second on a quiet server. Hand-written (a table and ``SKIP LOCKED``) rather
than a queue library: the work item must commit in the writer's transaction on SQLite and
PostgreSQL alike, which a PostgreSQL-only queue (e.g. Procrastinate) does not give on SQLite.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update

from healthbridge.pipeline import wakeup
from healthbridge.pipeline.drain_changes import changes_of, row_sources
from healthbridge.pipeline.drain_vector import evaluate_children, rule_inputs_ready
from healthbridge.pipeline.engine import (
    ENROLMENT_SEARCH,
    Pending,
    Pipeline,
    check_units,
    now_instant,
    take_pending,
)
from healthbridge.store import search as sql
from healthbridge.store.gc_policy import bulk_pause
from healthbridge.store.hooks import SYSTEM_CONTEXT, StoreHooks
from healthbridge.store.inserts import insert_pending
from healthbridge.store.outbox_models import PipelineOutboxRow
from healthbridge.store.repository import Repository, Transaction

log = logging.getLogger(__name__)
OUTBOX = PipelineOutboxRow.__table__  # type: ignore[attr-defined]
MAX_BACKOFF_SECONDS = 3600
DAILY, CHILD = "daily", "child"
#: Children evaluated together by the per-child evaluation (growth scored in one call).
CHUNK = 10
#: Children evaluated together by the vectorised engine (one scoped read, one write) on
#: SQLite, where every writer waits for the worker's transaction: 50 new children take about
#: 1 s of CPU (their first evaluation writes ~40 resources each), a later round far less.
VECTOR_CHUNK = 50
#: The same on PostgreSQL, where writers do not wait for the worker: the whole batch.
VECTOR_CHUNK_POSTGRES = 200
#: What a child whose rows ask for no full re-scoring (only new measurements' sessions
#: scored, the forecast kept: :mod:`.drain_changes`) counts in a chunk: about a quarter of
#: a child evaluated in full, so a chunk of such children spreads the chunk's fixed cost
#: (frames, the district evaluator) over four times as many (bench/results/drain.md).
INCREMENTAL_WEIGHT = 0.25
#: Fewer children than this are evaluated child by child even when ``vectorised``: the batch
#: engine's fixed cost (frames, the district evaluator: ~130 ms CPU) exceeds the per-child
#: evaluation's (~10 ms a child) below about a dozen children — a quiet server's single write
#: gets its results sooner.
VECTOR_MIN = 12
#: A batch's time budget, seconds: the children done by then commit, the rest wait.
BATCH_SECONDS = 1.0


#: The columns of a row :meth:`Outbox.enqueue` writes (no attempt yet, due now, no error).
_QUEUED_COLUMNS = (
    "kind",
    "child_id",
    "day",
    "source",
    "queued_at",
    "attempts",
    "next_attempt",
    "last_error",
)


def _instant(at: dt.datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Outbox:
    """The write side: queue what a transaction touched instead of evaluating it."""

    pipeline: Pipeline
    #: called once rows were queued and committed (e.g. :meth:`OutboxWorker.wake`)
    wakers: list[Callable[[], None]] = field(default_factory=list)

    def install(self, hooks: StoreHooks) -> None:
        """Register the unit check, the interceptor (noting children) and :meth:`enqueue`."""
        hooks.add_validator(check_units)
        hooks.add_interceptor(self.pipeline.on_write)
        hooks.add_pre_commit_hook(self.enqueue)

    def enqueue(self, txn: Transaction) -> bool:
        """Insert the outbox rows of the children the transaction's writes touched (one per
        resource written about a child, :func:`.drain_changes.row_sources`)."""
        pending = take_pending(txn)
        if pending is None or not pending.children:
            return False
        now, day = now_instant(), self.pipeline.today().isoformat()
        rows = [
            (
                DAILY if cid in pending.centre_children else CHILD,
                cid,
                day,
                source[:200],
                now,
                0,
                "",
                "",
            )
            for cid in sorted(pending.children)
            for source in row_sources(pending.touched.get(cid, set()))
        ]
        # the store's bulk insert (COPY on PostgreSQL from 200 rows): a 1,000-entry Bundle's
        # rows as one executemany cost 6-9 % of the server's CPU in bench/ingest.py
        insert_pending({OUTBOX.name: {_QUEUED_COLUMNS: rows}}, txn.conn)
        wakeup.notify(txn.conn)  # PostgreSQL: the workers of other processes, at the commit
        for wake in self.wakers:
            # after the commit: a worker woken earlier found no row yet on PostgreSQL (on
            # SQLite it waited for the writer lock) and slept until its next poll, so a
            # single check's results took 565-598 ms, not 63-97 (bench/results/burst.md)
            txn.after_commit(wake)
        return False  # inserting rows triggers nothing


def _due(now: str) -> Any:
    return or_(OUTBOX.c.next_attempt == "", OUTBOX.c.next_attempt <= now)


def _claim(txn: Transaction, limit: int, now: str) -> list[Any]:
    """Due rows, oldest first, locked for this worker (skipping rows another one holds),
    plus the other queued rows of the same children."""
    postgres = txn.conn.dialect.name == "postgresql"
    query = select(OUTBOX).where(_due(now)).order_by(OUTBOX.c.id).limit(limit)
    if postgres:
        query = query.with_for_update(skip_locked=True)
    rows = list(txn.conn.execute(query).all())
    if not rows:
        return rows
    ids = {r.id for r in rows}
    children = sorted({r.child_id for r in rows})
    more = select(OUTBOX).where(OUTBOX.c.child_id.in_(children), _due(now))
    if postgres:
        more = more.with_for_update(skip_locked=True)
    rows += [r for r in txn.conn.execute(more).all() if r.id not in ids]
    return rows


def _pending_of(rows: Sequence[Any]) -> Pending:
    return Pending(
        children={r.child_id for r in rows},
        centre_children={r.child_id for r in rows if r.kind == DAILY},
    )


def _lock_subjects(txn: Transaction, rows: Sequence[Any]) -> None:
    """PostgreSQL: hold a transaction advisory lock per child and per centre of a morning
    check, in sorted order (no deadlock), so that two workers never evaluate one subject at
    once — a new alert's Flag gets a fresh id, so two concurrent evaluations of a child
    would both create it. The second worker waits, then reads the first one's result."""
    if txn.conn.dialect.name != "postgresql":
        return  # SQLite: one writer at a time already
    children = sorted({r.child_id for r in rows})
    daily = sorted({r.child_id for r in rows if r.kind == DAILY})
    ref = sql.index_table("reference")
    centres = (
        sorted(
            {
                str(c)
                for (c,) in txn.conn.execute(
                    select(ref.c.target_id).where(
                        ref.c.res_type == "Patient",
                        ref.c.res_id.in_(daily),
                        ref.c.param == ENROLMENT_SEARCH,
                    )
                )
                if c
            }
        )
        if daily
        else []
    )
    keys = [f"Patient/{c}" for c in children] + [f"Organization/{c}" for c in centres]
    # one statement, the keys locked in the array's order (WITH ORDINALITY keeps it): a round
    # trip per key was a tenth of a morning-check batch's time
    txn.conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(CAST(:keys AS text[])) "
            "WITH ORDINALITY AS u(k, n) ORDER BY n"
        ),
        {"keys": keys},
    )


def _evaluate(
    txn: Transaction,
    pipeline: Pipeline,
    rows: Sequence[Any],
    seconds: float | None = None,
    *,
    vectorised: bool = True,
) -> int:
    """Evaluate the claimed rows' children, a chunk at a time, until ``seconds`` are spent;
    delete the rows of the children done (the others stay queued). The number of rows done.

    ``vectorised`` (and the rule-input table current): :data:`VECTOR_CHUNK` children at a
    time (:data:`VECTOR_CHUNK_POSTGRES` on PostgreSQL; an incrementally evaluated child
    counting :data:`INCREMENTAL_WEIGHT`, :func:`_chunks`) with the batch engine
    (:func:`.drain_vector.evaluate_children`) when a chunk has at least :data:`VECTOR_MIN`
    children; otherwise
    :data:`CHUNK` at a time with the per-child evaluation (:meth:`Pipeline.evaluate`)."""
    _lock_subjects(txn, rows)
    by_child: dict[str, list[Any]] = {}
    for row in rows:
        by_child.setdefault(row.child_id, []).append(row)
    vectorised = vectorised and rule_inputs_ready(txn)
    step, full = CHUNK, frozenset(by_child)
    if vectorised:
        postgres = txn.conn.dialect.name == "postgresql"
        step = VECTOR_CHUNK_POSTGRES if postgres else VECTOR_CHUNK
        full = changes_of(rows).rescore_all
    started, done = time.monotonic(), []
    for children in _chunks(list(by_child), full, step):
        chunk = [r for cid in children for r in by_child[cid]]
        if vectorised and len(children) >= VECTOR_MIN:
            pending = _pending_of(chunk)
            with pipeline.system_reads(txn):
                evaluate_children(
                    txn,
                    pipeline,
                    sorted(pending.children),
                    pending.centre_children,
                    changes_of(chunk),
                )
        else:
            pipeline.evaluate(txn, _pending_of(chunk))
        done += chunk
        if seconds is not None and time.monotonic() - started > seconds:
            break
    txn.flush()
    txn.conn.execute(delete(OUTBOX).where(OUTBOX.c.id.in_([r.id for r in done])))
    return len(done)


def _chunks(children: list[str], full: frozenset[str], step: int) -> list[list[str]]:
    """``children`` in chunks of ``step`` "full" children, one evaluated again in full
    (:class:`.drain_changes.Changes`) counting 1 and another :data:`INCREMENTAL_WEIGHT`."""
    out: list[list[str]] = [[]]
    weight = 0.0
    for cid in children:
        w = 1.0 if cid in full else INCREMENTAL_WEIGHT
        if out[-1] and weight + w > step:
            out.append([])
            weight = 0.0
        out[-1].append(cid)
        weight += w
    return [c for c in out if c]


def drain_batch(
    repository: Repository,
    pipeline: Pipeline,
    *,
    batch: int = 200,
    seconds: float | None = BATCH_SECONDS,
    vectorised: bool = True,
) -> int:
    """Evaluate one batch of queued changes; the number of outbox rows done (0: none due).

    See the module docstring: one transaction for the whole batch; on failure, each child
    again in its own transaction, a child that still fails kept for a later retry. The
    batch stops after ``seconds`` (the children done so far commit, the rest stay queued):
    on SQLite a write waits for the worker's transaction, and must not wait long."""
    now = now_instant()
    try:
        with (
            bulk_pause(),  # a worker process only (healthbridge.store.gc_policy)
            repository.transaction(SYSTEM_CONTEXT) as txn,
            txn.bulk_cache(),
            txn.deferred_replacements(),  # the updates' SQL at each flush, all together
        ):
            rows = _claim(txn, batch, now)
            return _evaluate(txn, pipeline, rows, seconds, vectorised=vectorised) if rows else 0
    except Exception:
        log.exception("pipeline outbox batch failed; retrying child by child")
    return _drain_one_by_one(repository, pipeline, batch=batch, now=now)


def _drain_one_by_one(repository: Repository, pipeline: Pipeline, *, batch: int, now: str) -> int:
    with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        query = select(OUTBOX.c.child_id).where(_due(now)).order_by(OUTBOX.c.id).limit(batch)
        children = list(dict.fromkeys(r.child_id for r in txn.conn.execute(query)))
    done = 0
    for cid in children:
        try:
            with repository.transaction(SYSTEM_CONTEXT) as txn:
                query = select(OUTBOX).where(OUTBOX.c.child_id == cid, _due(now))
                if txn.conn.dialect.name == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                rows = list(txn.conn.execute(query).all())
                if rows:  # the per-child evaluation: one child, as robust as can be
                    done += _evaluate(txn, pipeline, rows, vectorised=False)
        except Exception as exc:
            log.exception("pipeline outbox: child %s failed", cid)
            _record_failure(repository, cid, now, exc)
    return done


def _record_failure(repository: Repository, child_id: str, now: str, exc: Exception) -> None:
    with repository.transaction(SYSTEM_CONTEXT, plain=True) as txn:
        rows = txn.conn.execute(
            select(OUTBOX.c.id, OUTBOX.c.attempts).where(OUTBOX.c.child_id == child_id, _due(now))
        ).all()
        for row in rows:
            attempts = row.attempts + 1
            wait = min(2**attempts, MAX_BACKOFF_SECONDS)
            later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
            txn.conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row.id)
                .values(
                    attempts=attempts,
                    next_attempt=_instant(later),
                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                )
            )


def drain(
    repository: Repository,
    pipeline: Pipeline,
    *,
    batch: int = 200,
    seconds: float | None = BATCH_SECONDS,
    vectorised: bool = True,
) -> int:
    """Drain every due change (tests, ``healthbridge worker --once``); rows done."""
    total = 0
    while (
        done := drain_batch(
            repository, pipeline, batch=batch, seconds=seconds, vectorised=vectorised
        )
    ) > 0:
        total += done
    return total


@dataclass(frozen=True)
class QueueStatus:
    """The lag of the pipeline: what is queued, how old the oldest is, what keeps failing."""

    queued: int
    failing: int
    oldest_queued_at: str | None
    oldest_age_seconds: float | None
    last_error: str | None


def status(txn: Transaction) -> QueueStatus:
    """The outbox's length, oldest entry and failures (``$pipeline-status``)."""
    count, oldest = txn.conn.execute(select(func.count(), func.min(OUTBOX.c.queued_at))).one()
    failing = txn.conn.execute(
        select(func.count()).select_from(OUTBOX).where(OUTBOX.c.attempts > 0)
    ).scalar_one()
    last_error = txn.conn.execute(
        select(OUTBOX.c.last_error)
        .where(OUTBOX.c.attempts > 0)
        .order_by(OUTBOX.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    age = None
    if oldest:
        then = dt.datetime.fromisoformat(str(oldest).replace("Z", "+00:00"))
        age = round((dt.datetime.now(dt.UTC) - then).total_seconds(), 3)
    return QueueStatus(int(count), int(failing), oldest or None, age, last_error or None)


class OutboxWorker:
    """A thread draining the outbox (the app lifespan starts and stops it; never at import).

    Woken by each enqueueing write of its process (:meth:`wake`) and, on PostgreSQL, of every
    process (:class:`.wakeup.Listener`); polls every ``poll`` seconds for rows due for a
    retry (and queued by other processes, should a notification be missed); waits ``pause``
    seconds between two batches so that writes waiting for the store's writer lock go first."""

    def __init__(
        self,
        repository: Repository,
        pipeline: Pipeline,
        *,
        batch: int = 200,
        poll: float = 0.5,
        pause: float = 0.05,
        seconds: float | None = BATCH_SECONDS,
    ) -> None:
        self.repository = repository
        self.pipeline = pipeline
        self.batch = batch
        self.poll = poll
        #: seconds between two batches (writers go first)
        self.pause = pause
        #: a batch's time budget (see :func:`drain_batch`)
        self.seconds = seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: PostgreSQL: woken by the writes of every process (:mod:`.wakeup`), not only this one's
        self.listener = wakeup.Listener(repository.engine, self.wake)

    def wake(self) -> None:
        """Ask for a round now (called when a write that queued rows has committed)."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="healthbridge-pipeline-worker", daemon=True
            )
            self._thread.start()
            self.listener.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop after the batch in progress (idempotent)."""
        self.listener.stop()
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = drain_batch(
                    self.repository, self.pipeline, batch=self.batch, seconds=self.seconds
                )
            except Exception:  # the database went away: keep the thread, try again later
                log.exception("pipeline worker round failed")
                done = 0
            if done == 0:
                self._wake.wait(self.poll)
                self._wake.clear()
            else:
                # let waiting writers take the store's writer lock (SQLite; the lock is not
                # fair, and a worker re-taking it at once starved them into 503s)
                self._stop.wait(self.pause)
