"""Typed domain errors of the FHIR server.

Every error carries the HTTP status and the OperationOutcome issue(s) it stands for; the API
layer (:mod:`healthbridge.api.errors`) is the one place that turns them into responses.
Issue types are from the FHIR ``issue-type`` value set
(https://hl7.org/fhir/R4/valueset-issue-type.html).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One ``OperationOutcome.issue``."""

    severity: str  # fatal | error | warning | information
    code: str  # issue-type code, e.g. "invalid", "not-found"
    diagnostics: str
    expression: tuple[str, ...] = field(default_factory=tuple)

    def to_fhir(self) -> dict[str, Any]:
        """The issue as FHIR JSON."""
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource holding ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


class FhirError(Exception):
    """Base class: an error that maps to an HTTP status and an OperationOutcome."""

    status: int = 500
    code: str = "exception"

    def __init__(self, diagnostics: str, *, issues: Sequence[Issue] | None = None) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.issues: tuple[Issue, ...] = (
            tuple(issues) if issues else (Issue("error", self.code, diagnostics),)
        )

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome describing this error."""
        return operation_outcome(self.issues)


class BadRequestError(FhirError):
    """400: the request is malformed (bad parameter, unparsable body, bad search value)."""

    status = 400
    code = "invalid"


class UnknownSearchParameterError(BadRequestError):
    """400: a search parameter the server does not support (strict handling)."""

    code = "not-supported"


class ForbiddenError(FhirError):
    """403: the caller may not do this (used by the access layer)."""

    status = 403
    code = "forbidden"


class NotFoundError(FhirError):
    """404: no such resource (or type, or route)."""

    status = 404
    code = "not-found"


class MethodNotAllowedError(FhirError):
    """405: the interaction is not allowed on this path."""

    status = 405
    code = "not-supported"


class ConflictError(FhirError):
    """409: a version conflict or a concurrent write."""

    status = 409
    code = "conflict"


class GoneError(FhirError):
    """410: the resource was deleted."""

    status = 410
    code = "deleted"


class PreconditionFailedError(FhirError):
    """412: ``If-Match`` does not match, or a conditional interaction matched several."""

    status = 412
    code = "conflict"


class PayloadTooLargeError(FhirError):
    """413: the request body exceeds the configured maximum."""

    status = 413
    code = "too-costly"


class UnsupportedMediaTypeError(FhirError):
    """415: the request body is not FHIR JSON."""

    status = 415
    code = "not-supported"


class UnprocessableError(FhirError):
    """422: the resource is well-formed JSON but fails validation or business rules."""

    status = 422
    code = "processing"


class NotImplementedInteractionError(FhirError):
    """501: a recognised but unimplemented feature."""

    status = 501
    code = "not-supported"


class ServiceUnavailableError(FhirError):
    """503: the database is unreachable or busy (restart, dropped connection, lock timeout).

    Transient by nature: the client may retry (the response carries ``Retry-After``)."""

    status = 503
    code = "transient"
