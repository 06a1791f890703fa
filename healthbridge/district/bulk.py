"""FHIR Bulk Data ``$export`` jobs (Bulk Data Access IG v2.0.0, https://hl7.org/fhir/uv/bulkdata/).

A kick-off creates a job directory under ``<data_dir>/bulk-export/<job id>/`` holding
``job.json`` (the job's state, rewritten atomically) and one ``<Type>.ndjson`` file per
exported type. The job runs in a daemon thread of the app process and reads **through the
Transaction API with the requester's RequestContext**, so the access layer's read hooks see
(and may refuse) every resource exported. Because the state is on disk, a status request after
a restart answers sensibly: completed jobs keep serving their manifest and files; a job that
was running when the process stopped is reported as failed ("interrupted, start a new export").

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
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

from healthbridge import terminology as t
from healthbridge.access.auditing import record_access
from healthbridge.access.control import CHILD_TYPES
from healthbridge.errors import BadRequestError, ForbiddenError, NotFoundError
from healthbridge.fhir import facts, r4
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository, StoredResource, Transaction

Level = Literal["system", "patient", "group"]
#: ``_typeFilter`` searches: (resource type, search parameters as key/value pairs).
TypeFilter = tuple[str, tuple[tuple[str, str], ...]]
ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
#: The SearchParameter on that extension's ``centre`` (fhir_profiles/SearchParameter).
ENROLMENT_SEARCH: Final = "enrollment-centre"
State = Literal["in-progress", "completed", "error", "cancelled"]

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


@dataclass(frozen=True)
class ExportJob:
    """The persisted state of one export."""

    id: str
    level: Level
    request: str
    transaction_time: str
    types: tuple[str, ...]
    since: str | None
    group: str | None
    principal: str | None
    state: State = "in-progress"
    exported: int = 0
    outputs: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    type_filters: tuple[TypeFilter, ...] = ()

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
    """Starts, tracks, cancels and serves export jobs stored under ``root``."""

    def __init__(self, repo: Repository, root: Path, *, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self.repo = repo
        self.root = root
        #: how long a finished export's files are kept (then 404 and deleted)
        self.ttl = ttl
        self._live: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- state on disk
    def _dir(self, job_id: str) -> Path:
        if not job_id or not set(job_id) <= set("0123456789abcdef-"):
            raise NotFoundError(f"Export job {job_id!r} not found")
        return self.root / job_id

    def _save(self, job: ExportJob) -> None:
        path = self._dir(job.id)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / "job.json.tmp"
        tmp.write_text(json.dumps(asdict(job)), encoding="utf-8")
        os.replace(tmp, path / "job.json")

    def load(self, job_id: str) -> ExportJob:
        """The job's state (a job interrupted by a restart is reported as an error)."""
        path = self._dir(job_id) / "job.json"
        # Liveness first: a job that finishes while its file is read is then still "live"
        # here, so a stale in-progress state is never mistaken for an interrupted job.
        with self._lock:
            live = job_id in self._live
        if not path.is_file():
            raise NotFoundError(f"Export job {job_id!r} not found")
        data = json.loads(path.read_text(encoding="utf-8"))
        job = ExportJob(
            **{
                **data,
                "types": tuple(data["types"]),
                "outputs": tuple(data["outputs"]),
                "type_filters": tuple(
                    (rtype, tuple((k, v) for k, v in pairs))
                    for rtype, pairs in data.get("type_filters", ())
                ),
            }
        )
        if not live and self._expired(job):
            shutil.rmtree(self._dir(job_id), ignore_errors=True)
            raise NotFoundError(f"Export job {job_id!r} not found (expired)")
        if job.state == "in-progress" and not live:
            job = replace(
                job,
                state="error",
                error="The export was interrupted (server restart); start a new export",
            )
        return job

    def _expired(self, job: ExportJob, now: dt.datetime | None = None) -> bool:
        started = dt.datetime.fromisoformat(job.transaction_time)
        return (now or dt.datetime.now(dt.UTC)) - started > self.ttl

    def purge_expired(self) -> int:
        """Delete the files of every expired export that is not running; how many."""
        if not self.root.is_dir():
            return 0
        with self._lock:
            live = set(self._live)
        removed = 0
        for folder in self.root.iterdir():
            if folder.name in live or not (folder / "job.json").is_file():
                continue
            try:
                started = json.loads((folder / "job.json").read_text("utf-8"))["transaction_time"]
                expired = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(started) > self.ttl
            except (OSError, ValueError, KeyError):
                continue
            if expired:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def owned(self, job_id: str, context: RequestContext) -> ExportJob:
        """The job, if ``context`` is the requester that started it (else 403)."""
        job = self.load(job_id)
        if job.principal != _principal(context):
            raise ForbiddenError("Only the client that started an export may read it")
        return job

    def file(self, job_id: str, resource_type: str, context: RequestContext) -> Path:
        """The ndjson file of one type of a completed job."""
        job = self.owned(job_id, context)
        if job.state != "completed" or resource_type not in {o["type"] for o in job.outputs}:
            raise NotFoundError(f"No {resource_type} output in export {job_id}")
        return self._dir(job_id) / f"{resource_type}.ndjson"

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
        """Create the job and start its thread; returns at once (expired exports of anyone
        are deleted first)."""
        self.purge_expired()
        if group is not None:
            with self.repo.transaction(context, write=False) as txn:
                txn.read("Organization", group)  # 404 / 410 for an unknown centre
        job = ExportJob(
            id=str(uuid.uuid4()),
            level=level,
            request=request,
            transaction_time=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            types=tuple(types),
            since=since,
            group=group,
            principal=_principal(context),
            type_filters=tuple(type_filters),
        )
        cancel = threading.Event()
        with self._lock:
            self._live[job.id] = cancel
        self._save(job)
        thread = threading.Thread(
            target=self._run, args=(job, context, cancel), name=f"bulk-export-{job.id}", daemon=True
        )
        thread.start()
        return job

    def cancel(self, job_id: str, context: RequestContext) -> None:
        """Cancel a running job or delete a finished one (and its files)."""
        job = self.owned(job_id, context)
        with self._lock:
            event = self._live.get(job.id)
        if event is not None:
            event.set()
        else:
            shutil.rmtree(self._dir(job_id), ignore_errors=True)

    def _run(self, job: ExportJob, context: RequestContext, cancel: threading.Event) -> None:
        try:
            outputs = self._export(job, context, cancel)
            if cancel.is_set():
                shutil.rmtree(self._dir(job.id), ignore_errors=True)
                return
            total = sum(o["count"] for o in outputs)
            self._save(replace(job, state="completed", outputs=tuple(outputs), exported=total))
        except Exception as exc:  # any failure ends the job with an error status
            if not cancel.is_set():
                self._save(replace(job, state="error", error=f"{type(exc).__name__}: {exc}"))
        finally:
            with self._lock:
                self._live.pop(job.id, None)

    # ---------------------------------------------------------------- reading
    def _export(
        self, job: ExportJob, context: RequestContext, cancel: threading.Event
    ) -> list[dict[str, Any]]:
        folder = self._dir(job.id)
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
                        if cancel.is_set():
                            return outputs
                        out.write(json.dumps(stored.resource, ensure_ascii=False) + "\n")
                        count += 1
                        if rtype in CHILD_TYPES:
                            exported_children[stored.reference] = None
                if count:
                    outputs.append({"type": rtype, "count": count})
                    exported += count
                    self._save(replace(job, exported=exported))
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
