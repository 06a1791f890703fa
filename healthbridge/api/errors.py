"""The one place where errors become HTTP responses: always an OperationOutcome.

Typed domain errors (:mod:`healthbridge.errors`) carry their status; FastAPI's request
validation errors become 400; Starlette's 404 (unknown route) and 405 become OperationOutcomes
too; anything else is logged and becomes a 500 OperationOutcome without internal details.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from healthbridge.access.http import audit_refusal
from healthbridge.api.responses import FhirResponse
from healthbridge.errors import FhirError, Issue, operation_outcome

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
}


def outcome_response(
    status: int, issues: list[Issue], headers: dict[str, str] | None = None
) -> Response:
    """An OperationOutcome response with ``status``."""
    return FhirResponse(operation_outcome(issues), status_code=status, headers=headers)


#: RFC 6750 §3: a 401 names the scheme (and why the token was refused).
WWW_AUTHENTICATE = 'Bearer realm="healthbridge", error="invalid_token"'


async def _fhir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FhirError)
    await audit_refusal(request, exc)
    headers: dict[str, str] | None = None
    if exc.status == 401:
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE}
    elif exc.status == 503:
        headers = {"Retry-After": "1"}
    return FhirResponse(exc.outcome(), status_code=exc.status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue("error", "invalid", f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}")
        for e in exc.errors()
    ]
    return outcome_response(400, issues or [Issue("error", "invalid", "Invalid request")])


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "exception")
    detail = str(exc.detail) if exc.detail else "HTTP error"
    headers = dict(exc.headers) if exc.headers else None
    return outcome_response(exc.status_code, [Issue("error", code, detail)], headers)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("Unhandled error", exc_info=exc)
    return outcome_response(500, [Issue("fatal", "exception", "Internal server error")])


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(FhirError, _fhir_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
