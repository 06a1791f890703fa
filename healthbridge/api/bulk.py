"""FHIR Bulk Data ``$export`` (Bulk Data Access IG v2.0.0, asynchronous request pattern).

* kick-off: ``GET [base]/$export``, ``[base]/Patient/$export``, ``[base]/Group/[id]/$export``
  with ``Prefer: respond-async`` → 202 + ``Content-Location`` (the status URL);
  ``_type``, ``_since``, ``_outputFormat`` (ndjson only), ``_typeFilter`` (repeatable). The same
  three URLs accept ``POST`` with a ``Parameters`` body carrying those parameters
  (https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-kick-off-request); other parameters
  (``patient``, ``includeAssociatedData``, ``_elements``) are refused with 400, not ignored;
* status: ``GET [base]/$export-status/[job]`` → 202 + ``X-Progress`` (``queued`` or the count
  exported so far) / ``Retry-After`` while queued or running, 200 + the manifest when done,
  500 + OperationOutcome when failed;
  ``DELETE`` cancels a running job or deletes a finished one (202);
* files: ``GET [base]/$export-file/[job]/[Type].ndjson`` (``application/fhir+ndjson``), only
  for the client that started the export (``requiresAccessToken`` is true).

Any server process on the same database and object store answers any job (the job state is in
the database, the files in the store; :func:`start_exports`, called by the app lifespan, makes
the exporter and starts this process's workers). These routes are mounted in front of the
generic FHIR router so ``$export`` is not dispatched to the operations registry. Group is not a
stored type: the group id is a childcare centre's Organization id (see
:mod:`healthbridge.district.bulk`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from healthbridge.access.control import PrincipalAccess
from healthbridge.access.policy import Purpose
from healthbridge.api.deps import BaseUrlDep, ContextDep, RepoDep, SettingsDep
from healthbridge.api.responses import FhirResponse
from healthbridge.config import Settings
from healthbridge.district.bulk import (
    OUTPUT_FORMATS,
    BulkExporter,
    Level,
    parse_type_filters,
    parse_types,
)
from healthbridge.district.bulk_worker import ExportWorker
from healthbridge.district.roles import EXPORT_ROLES, require_role
from healthbridge.errors import BadRequestError, Issue, operation_outcome
from healthbridge.fhir.values import date_range
from healthbridge.store.hooks import RequestContext
from healthbridge.store.objects import open_store
from healthbridge.store.repository import Repository

router = APIRouter()
#: The worker's local spool directory under ``Settings.data_dir`` (files being written).
SPOOL_SUBDIR = "bulk-export-spool"

Prefer = Annotated[str | None, Header()]
Types = Annotated[str | None, Query(alias="_type")]
Since = Annotated[str | None, Query(alias="_since")]
OutputFormat = Annotated[str | None, Query(alias="_outputFormat")]
TypeFilters = Annotated[list[str] | None, Query(alias="_typeFilter")]
#: Our addition: the purpose of use of the export (a v3 ActReason code, docs/access.md
#: "Consent by purpose"); ``HRESCH`` exports only the children whose guardian consented to
#: research. Absent: the caller's ordinary (care) reach.
PurposeParam = Annotated[str | None, Query(alias="_purpose")]
#: Parameters of a POST kick-off we honour (Parameters.parameter.name → the query name).
POST_PARAMETERS = ("_type", "_since", "_outputFormat", "_typeFilter", "_purpose")


@dataclass
class Exports:
    """The app's exporter and the workers of this process (see :func:`start_exports`)."""

    exporter: BulkExporter
    workers: list[ExportWorker] = field(default_factory=list)

    def wake(self) -> None:
        for worker in self.workers:
            worker.wake()

    def stop(self) -> None:
        """Stop the workers (a running job goes back to the queue for another process)."""
        for worker in self.workers:
            worker.stop()


def start_exports(app: FastAPI, repo: Repository, settings: Settings) -> Exports:
    """Make the app's exporter (``app.state.bulk_exporter``; state in the database, files in
    the configured object store) and start this process's export workers (lifespan)."""
    exporter = BulkExporter(
        repo,
        open_store(settings),
        ttl=dt.timedelta(hours=settings.bulk_export_ttl_hours),
        spool_dir=settings.data_dir / SPOOL_SUBDIR,
    )
    exports = Exports(exporter)
    for _ in range(settings.bulk_export_workers):
        worker = ExportWorker(exporter, poll=settings.bulk_export_poll_seconds)
        worker.start()
        exports.workers.append(worker)
    exporter.wake = exports.wake
    app.state.bulk_exporter = exporter
    app.state.bulk_workers = exports.workers
    return exports


def exporter(request: Request) -> BulkExporter:
    """The app's exporter (made by the lifespan, :func:`start_exports`)."""
    current: BulkExporter = request.app.state.bulk_exporter
    return current


@dataclass(frozen=True)
class KickOff:
    """Everything a kick-off request carries (the same for every export level)."""

    request: Request
    repo: Repository
    context: RequestContext
    settings: Settings
    base: str
    prefer: str | None
    types: str | None
    since: str | None
    output_format: str | None
    type_filters: tuple[str, ...] = ()
    purpose: str | None = None

    def _context(self) -> RequestContext:
        """The request's context, its reach narrowed to the export's purpose."""
        if self.purpose is None:
            return self.context
        try:
            purpose = Purpose(self.purpose)
        except ValueError as exc:
            known = ", ".join(p.value for p in Purpose)
            raise BadRequestError(f"_purpose must be one of {known}") from exc
        access = self.context.access
        if not isinstance(access, PrincipalAccess):
            return self.context
        narrowed = replace(access, purpose=None if purpose is Purpose.CARE else purpose)
        return replace(self.context, access=narrowed)

    def start(self, level: Level, group: str | None = None) -> Response:
        """Check the request and start the export job; 202 with the status URL."""
        require_role(self.context, EXPORT_ROLES, "Bulk export")
        context = self._context()
        if "respond-async" not in (self.prefer or ""):
            raise BadRequestError("$export needs the header 'Prefer: respond-async'")
        if self.output_format is not None and self.output_format not in OUTPUT_FORMATS:
            raise BadRequestError(
                f"_outputFormat {self.output_format!r} is not supported (ndjson only)"
            )
        if self.since is not None:
            try:
                date_range(self.since)
            except ValueError as exc:
                raise BadRequestError(f"Invalid _since {self.since!r}") from exc
        types = parse_types(self.types, level)
        job = exporter(self.request).start(
            context,
            level=level,
            # the configured or allowed base, never the raw Host header (api/deps.base_url)
            request=self.base
            + self.request.url.path.removeprefix("/fhir")
            + (f"?{self.request.url.query}" if self.request.url.query else ""),
            types=types,
            since=self.since,
            group=group,
            type_filters=parse_type_filters(self.type_filters, types),
        )
        return Response(
            status_code=202, headers={"Content-Location": f"{self.base}/$export-status/{job.id}"}
        )


def kick_off(
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    base: BaseUrlDep,
    prefer: Prefer = None,
    types: Types = None,
    since: Since = None,
    output_format: OutputFormat = None,
    type_filters: TypeFilters = None,
    purpose: PurposeParam = None,
) -> KickOff:
    """The kick-off parameters of http://hl7.org/fhir/uv/bulkdata/export.html#query-parameters."""
    return KickOff(
        request,
        repo,
        context,
        settings,
        base,
        prefer,
        types,
        since,
        output_format,
        tuple(type_filters or ()),
        purpose,
    )


def parameters_body(body: bytes) -> dict[str, list[str]]:
    """The values of a POST kick-off's ``Parameters`` resource, by parameter name.

    Each parameter carries one primitive ``value[x]`` (``valueString``, ``valueInstant`` …);
    unknown or unsupported parameters are a 400 rather than silently ignored.
    """
    import json

    try:
        resource = json.loads(body) if body.strip() else {"resourceType": "Parameters"}
    except ValueError as exc:
        raise BadRequestError("The $export body is not JSON") from exc
    if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
        raise BadRequestError("A POST $export body must be a Parameters resource")
    out: dict[str, list[str]] = {}
    for item in resource.get("parameter") or []:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in POST_PARAMETERS:
            raise BadRequestError(f"$export parameter {name!r} is not supported")
        values = [v for k, v in item.items() if k.startswith("value") and isinstance(v, str)]
        if len(values) != 1:
            raise BadRequestError(f"$export parameter {name!r} needs one string-like value")
        out.setdefault(name, []).append(values[0])
    for single in ("_since", "_outputFormat", "_purpose"):
        if len(out.get(single, [])) > 1:
            raise BadRequestError(f"$export parameter {single!r} given more than once")
    return out


async def kick_off_post(
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    base: BaseUrlDep,
    prefer: Prefer = None,
) -> KickOff:
    """The same parameters from a POST kick-off's ``Parameters`` body."""
    values = parameters_body(await request.body())

    def one(name: str) -> str | None:
        return values[name][0] if name in values else None

    return KickOff(
        request,
        repo,
        context,
        settings,
        base,
        prefer,
        ",".join(values["_type"]) if "_type" in values else None,
        one("_since"),
        one("_outputFormat"),
        tuple(values.get("_typeFilter", ())),
        one("_purpose"),
    )


KickOffDep = Annotated[KickOff, Depends(kick_off)]
PostKickOffDep = Annotated[KickOff, Depends(kick_off_post)]


@router.get("/$export", summary="Bulk Data system-level export (async)")
def export_system(kick: KickOffDep) -> Response:
    return kick.start("system")


@router.post("/$export", summary="Bulk Data system-level export (async, Parameters body)")
def export_system_post(kick: PostKickOffDep) -> Response:
    return kick.start("system")


@router.get("/Patient/$export", summary="Bulk Data patient-level export (async)")
def export_patients(kick: KickOffDep) -> Response:
    return kick.start("patient")


@router.post("/Patient/$export", summary="Bulk Data patient-level export (Parameters body)")
def export_patients_post(kick: PostKickOffDep) -> Response:
    return kick.start("patient")


@router.get("/Group/{group_id}/$export", summary="Bulk Data export of a centre's children")
def export_group(group_id: str, kick: KickOffDep) -> Response:
    return kick.start("group", group=group_id)


@router.post("/Group/{group_id}/$export", summary="Bulk Data group export (Parameters body)")
def export_group_post(group_id: str, kick: PostKickOffDep) -> Response:
    return kick.start("group", group=group_id)


@router.get("/$export-status/{job_id}", summary="Bulk Data export status / manifest")
def export_status(job_id: str, request: Request, context: ContextDep, base: BaseUrlDep) -> Response:
    job = exporter(request).owned(job_id, context)
    if job.running:
        progress = f"{job.exported} resources exported" if job.state == "in-progress" else "queued"
        return Response(status_code=202, headers={"X-Progress": progress, "Retry-After": "2"})
    if job.state == "error":
        outcome = operation_outcome([Issue("error", "exception", job.error or "export failed")])
        return FhirResponse(outcome, status_code=500)
    return FhirResponse(job.manifest(f"{base}/$export-file/{job.id}"))


@router.delete("/$export-status/{job_id}", summary="Cancel or delete a Bulk Data export")
def export_cancel(job_id: str, request: Request, context: ContextDep) -> Response:
    exporter(request).cancel(job_id, context)
    return Response(status_code=202)


@router.get("/$export-file/{job_id}/{name}", summary="One ndjson output file")
def export_file(job_id: str, name: str, request: Request, context: ContextDep) -> Response:
    rtype = name.removesuffix(".ndjson")
    chunks: Iterator[bytes] = exporter(request).file(job_id, rtype, context)
    return StreamingResponse(chunks, media_type="application/fhir+ndjson")
