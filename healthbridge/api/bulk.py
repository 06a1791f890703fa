"""FHIR Bulk Data ``$export`` (Bulk Data Access IG v2.0.0, asynchronous request pattern).

* kick-off: ``GET [base]/$export``, ``[base]/Patient/$export``, ``[base]/Group/[id]/$export``
  with ``Prefer: respond-async`` → 202 + ``Content-Location`` (the status URL);
  ``_type``, ``_since``, ``_outputFormat`` (ndjson only);
* status: ``GET [base]/$export-status/[job]`` → 202 + ``X-Progress`` / ``Retry-After`` while
  running, 200 + the manifest when done, 500 + OperationOutcome when failed;
  ``DELETE`` cancels a running job or deletes a finished one (202);
* files: ``GET [base]/$export-file/[job]/[Type].ndjson`` (``application/fhir+ndjson``), only
  for the client that started the export (``requiresAccessToken`` is true).

These routes are mounted in front of the generic FHIR router so ``$export`` is not dispatched
to the operations registry. Group is not a stored type: the group id is a childcare centre's
Organization id (see :mod:`healthbridge.district.bulk`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import FileResponse

from healthbridge.api.deps import BaseUrlDep, ContextDep, RepoDep, SettingsDep
from healthbridge.api.responses import FhirResponse
from healthbridge.district.bulk import OUTPUT_FORMATS, BulkExporter, Level, parse_types
from healthbridge.district.roles import EXPORT_ROLES, require_role
from healthbridge.errors import BadRequestError, Issue, operation_outcome
from healthbridge.fhir.values import date_range
from healthbridge.store.repository import Repository

router = APIRouter()
_EXPORTER_LOCK = threading.Lock()

Prefer = Annotated[str | None, Header()]
Types = Annotated[str | None, Query(alias="_type")]
Since = Annotated[str | None, Query(alias="_since")]
OutputFormat = Annotated[str | None, Query(alias="_outputFormat")]


def exporter(request: Request, repo: Repository, data_dir: Path) -> BulkExporter:
    """The app's exporter (created on first use; job state lives under ``data_dir``)."""
    with _EXPORTER_LOCK:
        current: BulkExporter | None = getattr(request.app.state, "bulk_exporter", None)
        if current is None or current.repo is not repo:
            current = BulkExporter(repo, data_dir / "bulk-export")
            request.app.state.bulk_exporter = current
        return current


def _kick_off(
    request: Request,
    repo: Repository,
    context: ContextDep,
    settings: SettingsDep,
    base: str,
    *,
    level: Level,
    prefer: str | None,
    types: str | None,
    since: str | None,
    output_format: str | None,
    group: str | None = None,
) -> Response:
    require_role(context, EXPORT_ROLES, "Bulk export")
    if "respond-async" not in (prefer or ""):
        raise BadRequestError("$export needs the header 'Prefer: respond-async'")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise BadRequestError(f"_outputFormat {output_format!r} is not supported (ndjson only)")
    if since is not None:
        try:
            date_range(since)
        except ValueError as exc:
            raise BadRequestError(f"Invalid _since {since!r}") from exc
    job = exporter(request, repo, settings.data_dir).start(
        context,
        level=level,
        request=str(request.url),
        types=parse_types(types, level),
        since=since,
        group=group,
    )
    return Response(
        status_code=202, headers={"Content-Location": f"{base}/$export-status/{job.id}"}
    )


@router.get("/$export", summary="Bulk Data system-level export (async)")
def export_system(
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    base: BaseUrlDep,
    prefer: Prefer = None,
    types: Types = None,
    since: Since = None,
    output_format: OutputFormat = None,
) -> Response:
    return _kick_off(
        request,
        repo,
        context,
        settings,
        base,
        level="system",
        prefer=prefer,
        types=types,
        since=since,
        output_format=output_format,
    )


@router.get("/Patient/$export", summary="Bulk Data patient-level export (async)")
def export_patients(
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    base: BaseUrlDep,
    prefer: Prefer = None,
    types: Types = None,
    since: Since = None,
    output_format: OutputFormat = None,
) -> Response:
    return _kick_off(
        request,
        repo,
        context,
        settings,
        base,
        level="patient",
        prefer=prefer,
        types=types,
        since=since,
        output_format=output_format,
    )


@router.get("/Group/{group_id}/$export", summary="Bulk Data export of a centre's children")
def export_group(
    group_id: str,
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    base: BaseUrlDep,
    prefer: Prefer = None,
    types: Types = None,
    since: Since = None,
    output_format: OutputFormat = None,
) -> Response:
    return _kick_off(
        request,
        repo,
        context,
        settings,
        base,
        level="group",
        prefer=prefer,
        types=types,
        since=since,
        output_format=output_format,
        group=group_id,
    )


@router.get("/$export-status/{job_id}", summary="Bulk Data export status / manifest")
def export_status(
    job_id: str,
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    base: BaseUrlDep,
) -> Response:
    job = exporter(request, repo, settings.data_dir).owned(job_id, context)
    if job.state == "in-progress":
        return Response(
            status_code=202,
            headers={"X-Progress": f"{job.exported} resources exported", "Retry-After": "2"},
        )
    if job.state == "error":
        outcome = operation_outcome([Issue("error", "exception", job.error or "export failed")])
        return FhirResponse(outcome, status_code=500)
    return FhirResponse(job.manifest(f"{base}/$export-file/{job.id}"))


@router.delete("/$export-status/{job_id}", summary="Cancel or delete a Bulk Data export")
def export_cancel(
    job_id: str, request: Request, repo: RepoDep, context: ContextDep, settings: SettingsDep
) -> Response:
    exporter(request, repo, settings.data_dir).cancel(job_id, context)
    return Response(status_code=202)


@router.get("/$export-file/{job_id}/{name}", summary="One ndjson output file")
def export_file(
    job_id: str,
    name: str,
    request: Request,
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
) -> Response:
    rtype = name.removesuffix(".ndjson")
    path = exporter(request, repo, settings.data_dir).file(job_id, rtype, context)
    return FileResponse(path, media_type="application/fhir+ndjson")
