"""Access errors. They are FHIR errors (:mod:`healthbridge.errors`), so the API renders them as
OperationOutcomes in one place (``api/errors.py``) and Bundle processing reports them per
entry: authentication failures are 401 (with ``WWW-Authenticate``), a missing scope or role
permission is 403. A resource outside the caller's reach is reported as not found (404,
:class:`healthbridge.errors.NotFoundError`), never as forbidden, so that its existence is not
revealed."""

from __future__ import annotations

from healthbridge.errors import FhirError


class AccessError(FhirError):
    """Base class of access-control failures."""

    status = 403
    code = "forbidden"


class AuthenticationError(AccessError):
    """No valid bearer token (missing, malformed, expired, bad signature, wrong issuer...)."""

    status = 401
    code = "login"


class InvalidScopeError(AuthenticationError):
    """A token carries a malformed SMART scope."""


class PermissionDeniedError(AccessError):
    """The caller is authenticated but its role or scopes do not allow the interaction."""

    status = 403
    code = "forbidden"
