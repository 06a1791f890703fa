"""Request dependencies: the repository, settings, request context and FHIR bodies."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from healthbridge.access.http import base_url
from healthbridge.access.tokens import Principal
from healthbridge.config import Settings
from healthbridge.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository

_JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def get_repository(request: Request) -> Repository:
    """The repository created by the app's lifespan."""
    repo: Repository = request.app.state.repository
    return repo


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_principal(request: Request) -> Principal:
    """The verified caller (401 without a valid bearer token); see docs/access.md.

    Routes and pages that need a caller declare ``PrincipalDep`` (or ``ContextDep``); routes
    that do not are public (``/fhir/metadata``, ``/docs``, login pages).
    """
    from healthbridge.access.http import authenticate

    return authenticate(request)


def get_context(
    request: Request, principal: Annotated[Principal, Depends(get_principal)]
) -> RequestContext:
    """Who is calling, with the access control the store enforces for them."""
    from healthbridge.access.http import request_context

    return request_context(request, principal, base_url(request))


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"Request body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def fhir_body(request: Request) -> dict[str, Any] | None:
    """The request body as a FHIR JSON object (None when empty); 415 for other media types."""
    settings = get_app_settings(request)
    raw = await read_body(request, settings.max_request_bytes)
    if not raw.strip():
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _JSON_TYPES:
        raise UnsupportedMediaTypeError(
            f"Content-Type {media or '(none)'!r} is not supported; use application/fhir+json"
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"Body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # nesting deeper than the parser's recursion limit
        raise BadRequestError("Body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequestError("Body must be a JSON object")
    if _too_deep(data, MAX_JSON_DEPTH):
        raise BadRequestError(f"Body is nested more than {MAX_JSON_DEPTH} levels deep")
    return data


#: Deepest accepted JSON nesting. Real resources stay far below (a nested Questionnaire or a
#: Bundle of resources with extensions is ~20 levels); validation, index extraction and
#: serialisation recurse, so a bound here keeps hostile bodies from exhausting the stack.
MAX_JSON_DEPTH = 100


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests dicts/lists more than ``limit`` levels (the value itself is
    level 1). Recursive, at most ``limit`` frames deep (the parser already refused what
    exceeds the interpreter's recursion limit); only containers are visited, which keeps it a
    few milliseconds for a 1 MB Bundle."""
    if limit < 1:
        return True
    if type(value) is not dict and type(value) is not list:
        return False
    return _exceeds(value, limit)


def _exceeds(container: Any, budget: int) -> bool:
    items: Any = container.values() if type(container) is dict else container
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and (budget <= 1 or _exceeds(item, budget - 1)):
            return True
    return False


RepoDep = Annotated[Repository, Depends(get_repository)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ContextDep = Annotated[RequestContext, Depends(get_context)]
BodyDep = Annotated["dict[str, Any] | None", Depends(fhir_body)]
BaseUrlDep = Annotated[str, Depends(base_url)]
