"""``/exchange/...``: measurement-session import and WHO Anthro export (docs/exchange.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from healthbridge.api.deps import ContextDep, RepoDep, SettingsDep
from healthbridge.api.reports import DistrictCacheDep
from healthbridge.district.roles import ANTHRO_EXPORT_ROLES, IMPORT_ROLES, require_role
from healthbridge.errors import BadRequestError, PayloadTooLargeError

router = APIRouter()


@router.post("/session", summary="Import a centre's measurement session (CSV or Excel)")
def import_session(
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8/GBK) or .xlsx")],
    centre: Annotated[str | None, Form(description="Organization/<id> of the centre")] = None,
    performer: Annotated[str | None, Form(description="Practitioner/<id> who measured")] = None,
) -> JSONResponse:
    """Validate every row, match it to a child, write all accepted rows as ONE transaction,
    and return the accepted/rejected report (zh-CN and English messages)."""
    from healthbridge.district.session import import_session_file
    from healthbridge.exchange.errors import SessionFileError

    require_role(context, IMPORT_ROLES, "Session import")
    content = file.file.read(settings.max_request_bytes + 1)
    if len(content) > settings.max_request_bytes:
        raise PayloadTooLargeError(f"File exceeds the limit of {settings.max_request_bytes} bytes")
    try:
        outcome = import_session_file(
            repo,
            context,
            content,
            file.filename or "session.csv",
            centre_reference=centre or None,
            performer_reference=performer or None,
        )
    except SessionFileError as exc:
        raise BadRequestError(f"{exc.message_zh} / {exc.message_en}") from exc
    return JSONResponse(outcome.report())


@router.get("/anthro.csv", summary="A centre's measurements in WHO Anthro's CSV layout")
def anthro_export(
    repo: RepoDep,
    cache: DistrictCacheDep,
    context: ContextDep,
    centre: Annotated[str, Query(description="Organization/<id> of the centre")],
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Response:
    from healthbridge.district.anthro import centre_anthro_csv, centre_id

    require_role(context, ANTHRO_EXPORT_ROLES, "WHO Anthro export")
    text = centre_anthro_csv(repo, context, centre, start=start, end=end, cache=cache)
    name = f"anthro-{centre_id(centre)}.csv"
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
