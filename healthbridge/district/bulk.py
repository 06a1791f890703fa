"""FHIR Bulk Data ``$export`` jobs (Bulk Data Access IG v2.0.0, https://hl7.org/fhir/uv/bulkdata/).

A kick-off **queues** a job in the database (:mod:`healthbridge.district.bulk_jobs`); a worker
of any server process on that database (:mod:`healthbridge.district.bulk_worker`) claims it,
reads **through the Transaction API with the requester's RequestContext** (stored with the
job and rebuilt by the worker, so the access layer's read hooks see — and may refuse — every
resource exported, and audit it), writes one ``<Type>.ndjson`` per exported type to a local
spool directory and, when done, puts the files in the object store
(:mod:`healthbridge.store.objects`: a local directory or S3-compatible storage) under
``<job id>/<Type>.ndjson``. Status, manifest, files and cancellation are answered by any
server process from the database and the store. A job whose server stopped is run again by
another worker (at most :data:`~healthbridge.district.bulk_jobs.MAX_ATTEMPTS` times, then
failed with an OperationOutcome saying so): never left "in progress".

Levels:

* system (``[base]/$export``): every resource of the requested types;
* patient (``[base]/Patient/$export``): resources in the Patient compartment
  (http://hl7.org/fhir/R4/compartmentdefinition-patient.html) of every child;
* group (``[base]/Group/[id]/$export``): Group is not a stored type yet, so the group is a
  **childcare centre**: ``[id]`` is the id of an ``Organization`` and the members are the
  children whose ``childcare-enrollment`` extension names that centre (docs/exchange.md).

``_type`` restricts the types; ``_since`` keeps resources whose ``meta.lastUpdated`` is at or
after the instant; ``_typeFilter`` (``Type?search``, repeatable) keeps only the resources of
that type matching one of its searches (several filters of one type are ORed; types without a
filter are exported whole), as in the Bulk Data IG's ``_typeFilter`` parameter.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine

from healthbridge import terminology as t
from healthbridge.access.auditing import record_access
from healthbridge.access.control import CHILD_TYPES
from healthbridge.district import bulk_jobs as jobs
from healthbridge.district.bulk_jobs import ExportJob, Level, TypeFilter
from healthbridge.errors import BadRequestError, ForbiddenError, NotFoundError
from healthbridge.fhir import facts, r4
from healthbridge.store.hooks import RequestContext
from healthbridge.store.objects import ObjectStore
from healthbridge.store.repository import Repository, StoredResource, Transaction

ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
#: The SearchParameter on that extension's ``centre`` (fhir_profiles/SearchParameter).
ENROLMENT_SEARCH: Final = "enrollment-centre"

#: Types of the R4 Patient compartment that we store, with the search parameter that links
#: them to the patient (CompartmentDefinition-patient; ``Patient`` itself is matched by id).
PATIENT_COMPARTMENT: Final[dict[str, str | None]] = {
    "Patient": None,
    "AuditEvent": "patient",
    "CarePlan": "patient",
    "Condition": "patient",
    "Consent": "patient",
    "Encounter": "patient",
    "EpisodeOfCare": "patient",
    "Flag": "patient",
    "Immunization": "patient",
    "Observation": "patient",
    "Provenance": "patient",
    "QuestionnaireResponse": "patient",
    "RelatedPerson": "patient",
    "ServiceRequest": "patient",
}
#: Types never exported at system level (not stored records).
#: Not exported by default: containers, and audit records (not the children's data; only the
#: admin reads them, through the API).
#: Subscription: its channel headers hold the webhook's shared secrets (notify/delivery.py).
_NOT_EXPORTED: Final = frozenset(
    {"Bundle", "CapabilityStatement", "OperationOutcome", "AuditEvent", "Subscription"}
)
OUTPUT_FORMATS: Final = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
_PAGE: Final = 1000
#: Default lifetime of an export's files (``settings.bulk_export_ttl_hours``).
DEFAULT_TTL: Final = dt.timedelta(hours=24)
_CHUNK: Final = 100
#: Seconds between two heartbeats of a running job; a job whose last one is older than
#: :data:`STALE_AFTER` is taken as stopped (its process died) and run again by any worker.
HEARTBEAT: Final = 5.0
STALE_AFTER: Final = 60.0

log = logging.getLogger(__name__)

__all__ = ["BulkExporter", "ExportJob", "Level", "TypeFilter", "centre_members"]


def exportable_types(level: Level) -> tuple[str, ...]:
    """The default ``_type`` list of a level."""
    if level == "system":
        return tuple(t for t in r4.SUPPORTED_TYPES if t not in _NOT_EXPORTED)
    return tuple(t for t in PATIENT_COMPARTMENT if t not in _NOT_EXPORTED)


def parse_types(value: str | None, level: Level) -> tuple[str, ...]:
    """``_type`` (comma list) checked against the level's types; 400 for unknown ones."""
    allowed = exportable_types(level)
    if not value:
        return allowed
    asked = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    wrong = [t for t in asked if t not in allowed]
    if wrong:
        raise BadRequestError(f"_type not exportable at {level} level: {', '.join(wrong)}")
    return asked


#: Search result parameters that make no sense inside a ``_typeFilter``.
_NOT_FILTERS: Final = frozenset(
    {"_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total"}
)


def parse_type_filters(values: Sequence[str], types: Sequence[str]) -> tuple[TypeFilter, ...]:
    """``_typeFilter`` values (``Observation?code=http://loinc.org|29463-7``) checked against
    the exported types and the search parameters of each type; 400 for anything wrong."""
    from urllib.parse import parse_qsl

    from healthbridge.fhir.query import parse_search
    from healthbridge.store.search import where_clause

    out: list[TypeFilter] = []
    for value in values:
        rtype, sep, query = value.partition("?")
        rtype = rtype.strip()
        if not sep or not query:
            raise BadRequestError(f"_typeFilter {value!r} is not of the form Type?search")
        if rtype not in types:
            raise BadRequestError(f"_typeFilter {value!r}: {rtype} is not exported")
        pairs = tuple(parse_qsl(query, keep_blank_values=True))
        bad = sorted({k for k, _v in pairs if k in _NOT_FILTERS})
        if bad or not pairs:
            raise BadRequestError(f"_typeFilter {value!r}: not a search filter ({bad})")
        # unknown parameters (parse) and unreadable values (building the SQL) are a 400 now,
        # not a failed job later
        where_clause(parse_search(rtype, pairs, default_count=1, max_count=1), "")
        out.append((rtype, pairs))
    return tuple(out)


def _principal(context: RequestContext) -> str | None:
    """The requester an export is bound to: the whole principal — issuer, subject, role and
    organisation — so another token of the same subject (another role or organisation, or
    another issuer's user of the same name) cannot fetch the files."""
    who: Any = getattr(context.access, "principal", None)
    if who is not None:
        role = getattr(who.role, "value", who.role)
        return json.dumps([who.issuer, who.subject, role, who.organization])
    principal: Any = context.principal  # internal callers: a name and roles
    if principal is None:
        return None
    name = str(
        principal
        if isinstance(principal, str)
        else getattr(principal, "subject", None) or getattr(principal, "id", None) or principal
    )
    return json.dumps([name, sorted(context.roles)])


class BulkExporter:
    """Queues, runs, answers, cancels and expires export jobs: their state in the database
    (:mod:`healthbridge.district.bulk_jobs`), their files in ``store``.

    Any server process on the same database and store answers any job; the jobs are run by
    the :class:`~healthbridge.district.bulk_worker.ExportWorker` of any process (``wake``
    starts this process's worker at once after a kick-off)."""

    def __init__(
        self,
        repo: Repository,
        store: ObjectStore,
        *,
        ttl: dt.timedelta = DEFAULT_TTL,
        spool_dir: Path | None = None,
        stale_after: float = STALE_AFTER,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.repo = repo
        self.store = store
        #: how long a finished export's files are kept (then 404 and deleted)
        self.ttl = ttl
        #: where a running job writes its files before they go to the store (local disk)
        self.spool_dir = spool_dir
        #: a running job whose heartbeat is older than this is taken as stopped
        self.stale_after = stale_after
        self.heartbeat = heartbeat
        #: called after a job is queued (the app points it at its worker's ``wake``)
        self.wake: Callable[[], None] = lambda: None

    @property
    def engine(self) -> Engine:
        return self.repo.engine

    # ---------------------------------------------------------------- state
    def load(self, job_id: str) -> ExportJob:
        """The job's state (404 when unknown, cancelled or expired; an expired job's row and
        files are deleted)."""
        if not job_id or not set(job_id) <= set("0123456789abcdef-"):
            raise NotFoundError(f"Export job {job_id!r} not found")
        job = jobs.get_job(self.engine, job_id)
        if job is None or job.state == "cancelled":
            raise NotFoundError(f"Export job {job_id!r} not found")
        if job.state != "in-progress" and self._expired(job):
            self._remove(job)
            raise NotFoundError(f"Export job {job_id!r} not found (expired)")
        return job

    def _expired(self, job: ExportJob, now: float | None = None) -> bool:
        return (now or time.time()) - job.created > self.ttl.total_seconds()

    def _remove(self, job: ExportJob) -> None:
        """Delete the job's files, then its row."""
        self.store.delete_prefix(job.id)
        jobs.delete_job(self.engine, job.id)

    def purge_expired(self) -> int:
        """Delete the files and rows of every expired export that is not running; how many."""
        expired = jobs.expired_jobs(self.engine, time.time() - self.ttl.total_seconds())
        for job in expired:
            self._remove(job)
        return len(expired)

    def owned(self, job_id: str, context: RequestContext) -> ExportJob:
        """The job, if ``context`` is the requester that started it (else 403)."""
        job = self.load(job_id)
        if job.principal != _principal(context):
            raise ForbiddenError("Only the client that started an export may read it")
        return job

    def file(self, job_id: str, resource_type: str, context: RequestContext) -> Iterator[bytes]:
        """The ndjson file of one type of a completed job, as a stream of bytes."""
        job = self.owned(job_id, context)
        key = f"{job_id}/{resource_type}.ndjson"
        outputs = {o["type"] for o in job.outputs}
        if job.state != "completed" or resource_type not in outputs or not self.store.exists(key):
            raise NotFoundError(f"No {resource_type} output in export {job_id}")
        return self.store.stream(key)

    # ---------------------------------------------------------------- lifecycle
    def start(
        self,
        context: RequestContext,
        *,
        level: Level,
        request: str,
        types: Sequence[str],
        since: str | None,
        group: str | None = None,
        type_filters: Sequence[TypeFilter] = (),
    ) -> ExportJob:
        """Queue the job and wake this process's worker; returns at once (expired exports of
        anyone are deleted first)."""
        self.purge_expired()
        if group is not None:
            with self.repo.transaction(context, write=False) as txn:
                txn.read("Organization", group)  # 404 / 410 for an unknown centre
        job = ExportJob(
            id=str(uuid.uuid4()),
            level=level,
            request=request,
            types=tuple(types),
            since=since,
            group=group,
            principal=_principal(context),
            context=jobs.dump_context(context),
            created=time.time(),
            type_filters=tuple(type_filters),
        )
        jobs.insert_job(self.engine, job)
        self.wake()
        return job

    def cancel(self, job_id: str, context: RequestContext) -> None:
        """Cancel a queued or running job or delete a finished one (and its files). A running
        job is marked cancelled; its worker stops at its next heartbeat and removes it."""
        job = self.owned(job_id, context)
        if job.state == "queued" and jobs.delete_job(self.engine, job.id, state="queued"):
            return
        job = self.load(job_id)  # a worker may have claimed it meanwhile
        if job.state == "in-progress":
            jobs.update_job(self.engine, job.id, state="cancelled")
        else:
            self._remove(job)

    def run(self, job: ExportJob, worker: str, stopping: Callable[[], bool]) -> None:
        """Run a claimed job to its end (see :mod:`~healthbridge.district.bulk_worker`):
        completed with its files in the store, failed with the error, handed back to the
        queue when ``stopping()`` (the process shuts down), or removed when it was
        cancelled."""
        beat = _Heartbeat(self, job.id, worker, stopping)
        try:
            with tempfile.TemporaryDirectory(prefix="export-", dir=self._spool()) as spool:
                outputs = self._export(job, jobs.load_context(job.context), Path(spool), beat)
                if beat.alive() and beat.renew(sum(o["count"] for o in outputs)):
                    for output in outputs:
                        name = f"{output['type']}.ndjson"
                        self.store.put_file(f"{job.id}/{name}", Path(spool) / name)
        except Exception as exc:  # any failure ends the job with an error status
            log.warning("export %s failed", job.id, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
            if beat.alive() and jobs.update_job(
                self.engine, job.id, worker, state="error", error=error
            ):
                return
        else:
            total = sum(o["count"] for o in outputs)
            done = {"outputs": outputs, "exported": total, "heartbeat": None}
            if beat.alive() and jobs.update_job(
                self.engine, job.id, worker, state="completed", **done
            ):
                return
        if beat.stopped:  # shutting down: another process (or this one, restarted) resumes
            jobs.update_job(
                self.engine,
                job.id,
                worker,
                state="queued",
                worker=None,
                heartbeat=None,
                attempts=max(job.attempts - 1, 0),
            )
            return
        current = jobs.get_job(self.engine, job.id)
        if current is not None and current.state == "cancelled":
            self._remove(current)

    def _spool(self) -> str | None:
        if self.spool_dir is None:
            return None
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        return str(self.spool_dir)

    # ---------------------------------------------------------------- reading
    def _export(
        self, job: ExportJob, context: RequestContext, folder: Path, beat: _Heartbeat
    ) -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = []
        exported = 0
        with self.repo.transaction(context, write=False) as txn:
            members = None if job.level == "system" else self._members(txn, job)
            exported_children: dict[str, None] = {}
            for rtype in job.types:
                count = 0
                path = folder / f"{rtype}.ndjson"
                with path.open("w", encoding="utf-8") as out:
                    for stored in self._resources(txn, job, rtype, members):
                        if not beat(exported + count):
                            return outputs
                        out.write(json.dumps(stored.resource, ensure_ascii=False) + "\n")
                        count += 1
                        if rtype in CHILD_TYPES:
                            exported_children[stored.reference] = None
                if count:
                    outputs.append({"type": rtype, "count": count})
                    exported += count
                else:
                    path.unlink()
            # the records that left the API, recorded with the request's AuditEvents (which
            # also name the children they belong to)
            record_access(txn, "export", exported_children)
        return outputs

    def _members(self, txn: Transaction, job: ExportJob) -> list[str]:
        if job.level == "patient" or job.group is None:
            return [s.id for s in _pages(txn, "Patient", [("_elements", "id")])]
        return centre_members(txn, job.group)

    def _resources(
        self, txn: Transaction, job: ExportJob, rtype: str, members: list[str] | None
    ) -> Iterator[StoredResource]:
        since = [("_lastUpdated", f"ge{job.since}")] if job.since else []
        filters = [list(pairs) for t, pairs in job.type_filters if t == rtype] or [[]]
        seen: set[str] = set()
        for extra in filters:
            for stored in self._matching(txn, rtype, members, since + extra):
                if len(filters) > 1:  # ORed filters: a resource matching several counts once
                    if stored.id in seen:
                        continue
                    seen.add(stored.id)
                yield stored

    def _matching(
        self,
        txn: Transaction,
        rtype: str,
        members: list[str] | None,
        extra: list[tuple[str, str]],
    ) -> Iterator[StoredResource]:
        if members is None:
            yield from _pages(txn, rtype, extra)
            return
        param = PATIENT_COMPARTMENT[rtype]
        for start in range(0, len(members), _CHUNK):
            chunk = members[start : start + _CHUNK]
            if param is None:
                criteria = [("_id", ",".join(chunk))]
            else:
                criteria = [(param, ",".join(f"Patient/{m}" for m in chunk))]
            yield from _pages(txn, rtype, criteria + extra)


def centre_members(txn: Transaction, centre_id: str) -> list[str]:
    """Ids of the children ever enrolled at ``centre_id`` (any ``childcare-enrollment``
    naming it, past ones included), in id order, as the group's members.

    One search on the ``enrollment-centre`` SearchParameter (fhir_profiles; its expression is
    this extension's ``centre``), instead of reading every Patient of the district; each match
    is still checked against the extension, so the members are exactly the children whose
    extension reads ``Organization/<id>`` (tests/healthbridge/district/test_bulk_members.py
    compares with a scan of every Patient).
    """
    centre = f"Organization/{centre_id}"
    return [
        s.id
        for s in _pages(txn, "Patient", [(ENROLMENT_SEARCH, centre)])
        if _enrolled_in(s.resource or {}, centre)
    ]


def _enrolled_in(patient: dict[str, Any], centre: str) -> bool:
    centre_id = centre.removeprefix("Organization/")
    return any(e.centre_id == centre_id for e in facts.enrolments(patient))


def _pages(
    txn: Transaction, rtype: str, criteria: list[tuple[str, str]]
) -> Iterator[StoredResource]:
    offset = 0
    while True:
        result = txn.search_params(
            rtype, [*criteria, ("_count", str(_PAGE)), ("_offset", str(offset))]
        )
        yield from result.matches
        offset += len(result.matches)
        if not result.matches or offset >= (result.total or 0):
            return


class _Heartbeat:
    """Called for each resource a job writes: renews the job's heartbeat (and progress) every
    ``exporter.heartbeat`` seconds; False once the job must stop — this process is stopping,
    or the job is no longer this worker's (cancelled, or claimed again after a stall).

    On SQLite the export's read is an audited read, a write transaction holding the
    database's write lock until it ends: the heartbeat cannot be written meanwhile (nor can
    another process claim or cancel the job), so it is renewed once the read is over."""

    def __init__(
        self, exporter: BulkExporter, job_id: str, worker: str, stopping: Callable[[], bool]
    ) -> None:
        self.exporter = exporter
        self.job_id = job_id
        self.worker = worker
        self.stopping = stopping
        self.stopped = False
        self.lost = False
        self.while_reading = exporter.engine.dialect.name != "sqlite"
        self._next = time.monotonic() + exporter.heartbeat

    def alive(self) -> bool:
        return not (self.stopped or self.lost)

    def renew(self, exported: int) -> bool:
        """Write the heartbeat now; False when the job is no longer this worker's."""
        self._next = time.monotonic() + self.exporter.heartbeat
        held = jobs.update_job(
            self.exporter.engine, self.job_id, self.worker, heartbeat=time.time(), exported=exported
        )
        self.lost = not held
        return held

    def __call__(self, exported: int) -> bool:
        if self.stopping():
            self.stopped = True
        elif self.while_reading and time.monotonic() >= self._next:
            self.renew(exported)
        return self.alive()
