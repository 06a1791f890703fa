"""Bulk Data export jobs in the database (table ``bulk_export_job``,
:mod:`healthbridge.store.export_models`), so that every server process sharing the database
can queue, run, answer and cancel them.

A job is *queued* at kick-off. A worker (:mod:`healthbridge.district.bulk_worker`, in any
server process) **claims** it: one write transaction selects the oldest claimable job —
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers of other processes skip it instead of
waiting; on SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the database's write
lock) — and marks it *in-progress* with the worker's name and a heartbeat, only if it is
still in the state it was read in (a compare-and-set, so two workers never both run it).
While it runs the worker renews the heartbeat; a job whose heartbeat is older than the
stale limit (its process died or was restarted) is claimable again and is **run again from
the start**, at most :data:`MAX_ATTEMPTS` times — then it is failed with an OperationOutcome
saying so. A graceful shutdown hands a running job back to the queue at once.

The requester's :class:`~healthbridge.store.hooks.RequestContext` is stored with the job
(:func:`dump_context`: the whole principal, its scopes, the purpose of use and the day the
access rules were evaluated for) and rebuilt by the worker (:func:`load_context`), so the
access layer's read hooks and audit see the same caller on whichever server runs it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, Engine, Table, and_, delete, insert, or_, select, update

from healthbridge.access.control import PrincipalAccess
from healthbridge.access.policy import Purpose
from healthbridge.access.scopes import Permission, Scope, parse_scopes
from healthbridge.access.tokens import Principal, Role
from healthbridge.store.db import WRITE_OPTION, writer_lock
from healthbridge.store.export_models import BulkExportJobRow
from healthbridge.store.hooks import RequestContext

JOBS: Table = BulkExportJobRow.__table__  # type: ignore[attr-defined]
State = Literal["queued", "in-progress", "completed", "error", "cancelled"]
Level = Literal["system", "patient", "group"]
#: ``_typeFilter`` searches: (resource type, search parameters as key/value pairs).
TypeFilter = tuple[str, tuple[tuple[str, str], ...]]
#: A job started this many times without finishing (each time its worker stopped) fails.
MAX_ATTEMPTS: Final = 3
#: The error of a job whose workers kept stopping.
INTERRUPTED: Final = (
    "The export was interrupted {n} times (server restarts) and was abandoned; start a new export"
)


@dataclass(frozen=True)
class ExportJob:
    """One export job as stored."""

    id: str
    level: Level
    request: str
    types: tuple[str, ...]
    since: str | None
    group: str | None
    principal: str | None
    context: str
    created: float
    state: State = "queued"
    transaction_time: str = ""
    exported: int = 0
    outputs: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    type_filters: tuple[TypeFilter, ...] = ()
    worker: str | None = None
    heartbeat: float | None = None
    attempts: int = 0

    @property
    def running(self) -> bool:
        """Queued or in progress (the client is told to poll again)."""
        return self.state in ("queued", "in-progress")

    def manifest(self, file_url: str) -> dict[str, Any]:
        """The completion manifest; ``file_url`` is the download base for this job."""
        return {
            "transactionTime": self.transaction_time,
            "request": self.request,
            "requiresAccessToken": True,
            "output": [
                {"type": o["type"], "url": f"{file_url}/{o['type']}.ndjson", "count": o["count"]}
                for o in self.outputs
            ],
            "error": [],
        }


def _row(job: ExportJob) -> dict[str, Any]:
    spec = {
        "types": list(job.types),
        "since": job.since,
        "group": job.group,
        "type_filters": [[rtype, [list(p) for p in pairs]] for rtype, pairs in job.type_filters],
    }
    return {
        "id": job.id,
        "state": job.state,
        "level": job.level,
        "request": job.request,
        "spec": json.dumps(spec),
        "principal": job.principal,
        "context": job.context,
        "transaction_time": job.transaction_time,
        "created": job.created,
        "exported": job.exported,
        "outputs": json.dumps(list(job.outputs)),
        "error": job.error,
        "worker": job.worker,
        "heartbeat": job.heartbeat,
        "attempts": job.attempts,
    }


def _job(row: Any) -> ExportJob:
    spec = json.loads(row["spec"])
    return ExportJob(
        id=row["id"],
        level=row["level"],
        request=row["request"],
        types=tuple(spec["types"]),
        since=spec["since"],
        group=spec["group"],
        type_filters=tuple(
            (rtype, tuple((k, v) for k, v in pairs)) for rtype, pairs in spec["type_filters"]
        ),
        principal=row["principal"],
        context=row["context"],
        created=float(row["created"]),
        state=row["state"],
        transaction_time=row["transaction_time"],
        exported=int(row["exported"]),
        outputs=tuple(json.loads(row["outputs"])),
        error=row["error"],
        worker=row["worker"],
        heartbeat=None if row["heartbeat"] is None else float(row["heartbeat"]),
        attempts=int(row["attempts"]),
    )


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction (SQLite: the writer lock and ``BEGIN IMMEDIATE``)."""
    with writer_lock(engine), engine.connect() as raw:
        conn = raw.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def insert_job(engine: Engine, job: ExportJob) -> None:
    with writing(engine) as conn:
        conn.execute(insert(JOBS).values(**_row(job)))


def get_job(engine: Engine, job_id: str) -> ExportJob | None:
    with engine.connect() as conn:
        row = conn.execute(select(JOBS).where(JOBS.c.id == job_id)).mappings().first()
    return None if row is None else _job(row)


def update_job(engine: Engine, job_id: str, held_by: str | None = None, **values: Any) -> bool:
    """Set ``values`` on the job; with ``held_by``, only while that worker holds it (False
    when it no longer does: cancelled, or claimed again after a stale heartbeat)."""
    query = update(JOBS).where(JOBS.c.id == job_id)
    if held_by is not None:
        query = query.where(JOBS.c.worker == held_by, JOBS.c.state == "in-progress")
    if "outputs" in values:
        values["outputs"] = json.dumps(list(values["outputs"]))
    with writing(engine) as conn:
        return bool(conn.execute(query.values(**values)).rowcount == 1)


def delete_job(engine: Engine, job_id: str, *, state: str | None = None) -> bool:
    """Delete the job's row (only in ``state``, when given)."""
    query = delete(JOBS).where(JOBS.c.id == job_id)
    if state is not None:
        query = query.where(JOBS.c.state == state)
    with writing(engine) as conn:
        return bool(conn.execute(query).rowcount == 1)


def expired_jobs(engine: Engine, before: float) -> list[ExportJob]:
    """Jobs queued before ``before`` that no worker is running (their files may go)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(JOBS).where(JOBS.c.created < before, JOBS.c.state != "in-progress")
        ).mappings()
        return [_job(r) for r in rows]


def claim(
    engine: Engine, worker: str, *, stale_after: float, now: float | None = None
) -> ExportJob | None:
    """Claim the oldest queued job, or an in-progress one whose heartbeat is stale (see the
    module docstring); None when there is none. A stale job started :data:`MAX_ATTEMPTS`
    times is failed instead (and the next one looked at)."""
    while True:
        now = time.time() if now is None else now
        claimable = or_(
            JOBS.c.state == "queued",
            and_(JOBS.c.state == "in-progress", JOBS.c.heartbeat < now - stale_after),
        )
        with engine.connect() as conn:  # idle workers look without taking the write lock
            if conn.execute(select(JOBS.c.id).where(claimable).limit(1)).first() is None:
                return None
        with writing(engine) as conn:
            query = select(JOBS).where(claimable).order_by(JOBS.c.created).limit(1)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            owner = row["worker"]
            held = JOBS.c.worker.is_(None) if owner is None else JOBS.c.worker == owner
            same = update(JOBS).where(JOBS.c.id == row["id"], JOBS.c.state == row["state"], held)
            if row["attempts"] >= MAX_ATTEMPTS:
                error = INTERRUPTED.format(n=row["attempts"])
                conn.execute(same.values(state="error", error=error, worker=None))
                continue
            started = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            taken = conn.execute(
                same.values(
                    state="in-progress",
                    worker=worker,
                    heartbeat=now,
                    attempts=row["attempts"] + 1,
                    transaction_time=started,
                    exported=0,
                    outputs="[]",
                )
            ).rowcount
            if taken != 1:
                return None
            claimed = conn.execute(select(JOBS).where(JOBS.c.id == row["id"])).mappings().one()
            return _job(claimed)


# ------------------------------------------------------------------------ the caller
def _scope_text(scope: Scope) -> str:
    letters = "".join(p.value for p in Permission if p in scope.permissions)
    return f"{scope.context.value}/{scope.resource_type}.{letters}"


def dump_context(context: RequestContext) -> str:
    """What :func:`load_context` rebuilds the caller's context from (JSON)."""
    data: dict[str, Any] = {
        "principal": None if context.principal is None else str(context.principal),
        "roles": sorted(context.roles),
        "client_address": context.client_address,
        "request_id": context.request_id,
        "base_url": context.base_url,
        "access": None,
    }
    access = context.access
    if isinstance(access, PrincipalAccess):
        who = access.principal
        data["access"] = {
            "subject": who.subject,
            "role": who.role.value,
            "scopes": [_scope_text(s) for s in who.scopes],
            "fhir_user": who.fhir_user,
            "organization": who.organization,
            "issuer": who.issuer,
            "token_id": who.token_id,
            "patient": who.patient,
            "today": access.today.isoformat(),
            "purpose": None if access.purpose is None else access.purpose.value,
        }
    elif access is not None:  # an access control this module cannot rebuild: refuse
        raise TypeError(f"cannot queue an export for access control {type(access).__name__}")
    return json.dumps(data)


def load_context(text: str) -> RequestContext:
    """The context :func:`dump_context` stored."""
    data = json.loads(text)
    access = None
    if data["access"] is not None:
        a = data["access"]
        who = Principal(
            subject=a["subject"],
            role=Role(a["role"]),
            scopes=parse_scopes(a["scopes"]),
            fhir_user=a["fhir_user"],
            organization=a["organization"],
            issuer=a["issuer"],
            token_id=a["token_id"],
            patient=a["patient"],
        )
        purpose = None if a["purpose"] is None else Purpose(a["purpose"])
        access = PrincipalAccess(who, dt.date.fromisoformat(a["today"]), purpose)
    return RequestContext(
        principal=data["principal"],
        roles=frozenset(data["roles"]),
        client_address=data["client_address"],
        request_id=data["request_id"],
        base_url=data["base_url"],
        access=access,
    )
