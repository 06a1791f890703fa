"""The FHIR RESTful API (http://hl7.org/fhir/R4/http.html) mounted at ``/fhir``.

Handlers are thin: they parse headers, call the repository inside one transaction and shape
the response. Errors are raised as typed exceptions and rendered by :mod:`healthbridge.api.errors`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from healthbridge.api.capability import capability_statement
from healthbridge.api.deps import (
    BaseUrlDep,
    BodyDep,
    ContextDep,
    RepoDep,
    SettingsDep,
    read_body,
)
from healthbridge.api.responses import FhirResponse, http_date
from healthbridge.errors import (
    BadRequestError,
    Issue,
    MethodNotAllowedError,
    NotFoundError,
    UnsupportedMediaTypeError,
    operation_outcome,
)
from healthbridge.fhir import r4
from healthbridge.fhir.query import MAX_INT
from healthbridge.fhir.values import format_instant, instant_now
from healthbridge.operations import (
    Level,
    OperationCall,
    OperationRegistry,
    parameters_from_body,
)
from healthbridge.store import bundle as bundles
from healthbridge.store.repository import StoredResource, WriteResult

router = APIRouter()


def _prefer(request: Request, key: str) -> str | None:
    for part in request.headers.get("prefer", "").split(";"):
        for item in part.split(","):
            k, _, v = item.strip().partition("=")
            if k.strip() == key:
                return v.strip().strip('"')
    return None


def _if_match(request: Request) -> int | None:
    value = request.headers.get("if-match")
    if not value:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise BadRequestError(f"Invalid If-Match {value!r}")
    return int(text)


def _check_type(rtype: str) -> None:
    if not r4.is_supported(rtype):
        raise NotFoundError(f"Resource type {rtype!r} is not supported")


def _resource_response(
    stored: StoredResource,
    base: str,
    *,
    status: int = 200,
    request: Request | None = None,
    location: bool = False,
) -> Response:
    headers = {"ETag": stored.etag, "Last-Modified": http_date(stored.last_updated)}
    if location:
        headers["Location"] = f"{base}/{stored.reference}/_history/{stored.version_id}"
    prefer = _prefer(request, "return") if request is not None else None
    if prefer == "minimal":
        return Response(status_code=status, headers=headers)
    if prefer == "OperationOutcome":
        oo = operation_outcome([Issue("information", "informational", f"{stored.reference} ok")])
        return FhirResponse(oo, status_code=status, headers=headers)
    return FhirResponse(stored.resource, status_code=status, headers=headers)


def _write_response(result: WriteResult, base: str, request: Request) -> Response:
    status = 201 if result.created else 200
    return _resource_response(result.stored, base, status=status, request=request, location=True)


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


# ----------------------------------------------------------------------------- system level
@router.get("/metadata", summary="CapabilityStatement")
def metadata(request: Request, base: BaseUrlDep) -> Response:
    ops: OperationRegistry = request.app.state.operations
    return FhirResponse(capability_statement(base, ops, request.app.state.started))


@router.post("/", summary="Batch or transaction Bundle", operation_id="bundle")
@router.post("", include_in_schema=False, operation_id="bundle_no_slash")
def system_bundle(
    request: Request,
    repo: RepoDep,
    ctx: ContextDep,
    body: BodyDep,
    settings: SettingsDep,
    base: BaseUrlDep,
) -> Response:
    if body is None or body.get("resourceType") != "Bundle":
        raise BadRequestError("POST to the base URL needs a batch or transaction Bundle")
    out = bundles.process(
        repo,
        ctx,
        body,
        max_entries=settings.max_bundle_entries,
        base=base,
        minimal=_prefer(request, "return") == "minimal",
    )
    return FhirResponse(out)


@router.get("/_history", summary="System history")
def system_history(request: Request, repo: RepoDep, ctx: ContextDep, base: BaseUrlDep) -> Response:
    return _history(request, repo, ctx, base, None, None)


def _history(
    request: Request, repo: Any, ctx: Any, base: str, rtype: str | None, rid: str | None
) -> Response:
    params = dict(request.query_params)
    unknown = set(params) - {"_count", "_since", "_offset", "_format"}
    if unknown:
        raise BadRequestError(f"Unsupported history parameters: {', '.join(sorted(unknown))}")
    try:
        count = int(params["_count"]) if "_count" in params else None
        offset = int(params.get("_offset", "0"))
    except ValueError as exc:
        raise BadRequestError("_count and _offset must be integers") from exc
    if not (0 <= offset <= MAX_INT and (count is None or 0 <= count <= MAX_INT)):
        raise BadRequestError(f"_count and _offset must be between 0 and {MAX_INT}")
    with repo.transaction(ctx, write=False) as txn:
        items, total = txn.history(
            rtype, rid, since=params.get("_since"), count=count, offset=offset
        )
    return FhirResponse(bundles.history_bundle(items, total, base=base))


def _operation(
    request: Request,
    repo: Any,
    ctx: Any,
    base: str,
    body: dict[str, Any] | None,
    name: str,
    rtype: str | None,
    rid: str | None,
) -> Response:
    registry: OperationRegistry = request.app.state.operations
    level: Level = "instance" if rid else "type" if rtype else "system"
    op = registry.find(name, level, rtype, request.method)
    params: list[tuple[str, Any]] = list(_query_pairs(request))
    params += parameters_from_body(body)
    with repo.transaction(ctx, write=op.affects_state) as txn:
        if rtype and rid:
            txn.read(rtype, rid)  # 404/410 before the handler runs
        call = OperationCall(op.name, level, rtype, rid, params, body, txn, base, request.method)
        result = op.handler(call)
    if isinstance(result, Response):
        return result
    return FhirResponse(result)


@router.get("/{name}", summary="Search (or system $operation)", operation_id="search_type")
@router.post("/{name}", summary="Create (or system $operation)", operation_id="create")
def system_level(
    name: str,
    request: Request,
    repo: RepoDep,
    ctx: ContextDep,
    base: BaseUrlDep,
    body: BodyDep,
) -> Response:
    if name.startswith("$"):
        return _operation(request, repo, ctx, base, body, name, None, None)
    if request.method == "GET":
        return search(name, request, repo, ctx, base, _query_pairs(request))
    _check_type(name)
    r4.check_writable(name)
    if body is None:
        raise BadRequestError("Create needs a resource body")
    if body.get("resourceType") != name:
        raise BadRequestError("resourceType does not match the URL")
    with repo.transaction(ctx, write=True) as txn:
        result = txn.create(body, if_none_exist=request.headers.get("if-none-exist"))
    if not result.changed:
        return _resource_response(result.stored, base, status=200, request=request)
    return _write_response(result, base, request)


def search(
    rtype: str,
    request: Request,
    repo: Any,
    ctx: Any,
    base: str,
    pairs: list[tuple[str, str]],
) -> Response:
    _check_type(rtype)
    lenient = _prefer(request, "handling") == "lenient"
    with repo.transaction(ctx, write=False) as txn:
        result = txn.search_params(rtype, pairs, lenient=lenient)
    echo = result.query.echo

    def link(offset: int) -> str:
        qs = urlencode([*echo, *([("_offset", str(offset))] if offset else [])])
        return f"{base}/{rtype}" + (f"?{qs}" if qs else "")

    return FhirResponse(bundles.searchset(result, base=base, self_link=link))


# ----------------------------------------------------------------------------- type level
@router.put("/{rtype}", summary="Conditional update")
def conditional_update(
    rtype: str, request: Request, repo: RepoDep, ctx: ContextDep, body: BodyDep, base: BaseUrlDep
) -> Response:
    _check_type(rtype)
    r4.check_writable(rtype)
    if not request.url.query:
        raise MethodNotAllowedError("PUT on a type needs search criteria (conditional update)")
    if body is None:
        raise BadRequestError("Update needs a resource body")
    with repo.transaction(ctx, write=True) as txn:
        result = txn.conditional_update(rtype, request.url.query, body)
    return _write_response(result, base, request)


@router.post("/{rtype}/_search", summary="Search by POST")
async def search_post(
    rtype: str,
    request: Request,
    repo: RepoDep,
    ctx: ContextDep,
    base: BaseUrlDep,
    settings: SettingsDep,
) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await read_body(request, settings.max_request_bytes)
    if raw.strip() and media != "application/x-www-form-urlencoded":
        raise UnsupportedMediaTypeError("POST _search needs application/x-www-form-urlencoded")
    try:
        form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise BadRequestError("The form body is not UTF-8") from exc
    pairs = _query_pairs(request) + form
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(search, rtype, request, repo, ctx, base, pairs)


@router.get("/{rtype}/_history", summary="Type history")
def type_history(
    rtype: str, request: Request, repo: RepoDep, ctx: ContextDep, base: BaseUrlDep
) -> Response:
    _check_type(rtype)
    return _history(request, repo, ctx, base, rtype, None)


# ----------------------------------------------------------------------------- instance level
@router.get("/{rtype}/{rid}", summary="Read (or type $operation)", operation_id="read")
@router.post("/{rtype}/{rid}", summary="Type $operation", operation_id="type_operation")
def read_or_type_op(
    rtype: str,
    rid: str,
    request: Request,
    repo: RepoDep,
    ctx: ContextDep,
    base: BaseUrlDep,
    body: BodyDep,
) -> Response:
    _check_type(rtype)
    if rid.startswith("$"):
        return _operation(request, repo, ctx, base, body, rid, rtype, None)
    if request.method == "POST":
        raise MethodNotAllowedError(f"POST is not allowed on {rtype}/{rid}")
    with repo.transaction(ctx, write=False) as txn:
        stored = txn.read(rtype, rid)
    return _resource_response(stored, base)


@router.put("/{rtype}/{rid}", summary="Update (create-on-update allowed)")
def update(
    rtype: str,
    rid: str,
    request: Request,
    repo: RepoDep,
    ctx: ContextDep,
    body: BodyDep,
    base: BaseUrlDep,
) -> Response:
    _check_type(rtype)
    r4.check_writable(rtype)
    if body is None:
        raise BadRequestError("Update needs a resource body")
    with repo.transaction(ctx, write=True) as txn:
        result = txn.update(rtype, rid, body, if_match=_if_match(request))
    return _write_response(result, base, request)


@router.delete("/{rtype}/{rid}", summary="Delete")
def delete(rtype: str, rid: str, repo: RepoDep, ctx: ContextDep) -> Response:
    _check_type(rtype)
    with repo.transaction(ctx, write=True) as txn:
        stored = txn.delete(rtype, rid)
    headers = {"ETag": stored.etag} if stored is not None else {}
    return Response(status_code=204, headers=headers)


@router.get("/{rtype}/{rid}/_history", summary="Instance history")
def instance_history(
    rtype: str, rid: str, request: Request, repo: RepoDep, ctx: ContextDep, base: BaseUrlDep
) -> Response:
    _check_type(rtype)
    return _history(request, repo, ctx, base, rtype, rid)


@router.get("/{rtype}/{rid}/_history/{vid}", summary="Version read")
def vread(
    rtype: str, rid: str, vid: str, repo: RepoDep, ctx: ContextDep, base: BaseUrlDep
) -> Response:
    _check_type(rtype)
    if not vid.isdigit():
        raise NotFoundError(f"No version {vid!r}")
    with repo.transaction(ctx, write=False) as txn:
        stored = txn.vread(rtype, rid, int(vid))
    return _resource_response(stored, base)


@router.get("/{rtype}/{rid}/{name}", summary="Instance $operation", operation_id="instance_op_get")
@router.post(
    "/{rtype}/{rid}/{name}", summary="Instance $operation", operation_id="instance_op_post"
)
def instance_op(
    rtype: str,
    rid: str,
    name: str,
    request: Request,
    repo: RepoDep,
    ctx: ContextDep,
    base: BaseUrlDep,
    body: BodyDep,
) -> Response:
    _check_type(rtype)
    if not name.startswith("$"):
        raise NotFoundError(f"Unknown path {rtype}/{rid}/{name}")
    return _operation(request, repo, ctx, base, body, name, rtype, rid)


def started_instant() -> str:
    """The CapabilityStatement date (server start)."""
    return format_instant(instant_now())
