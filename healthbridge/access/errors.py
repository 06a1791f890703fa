"""Access errors. ``api/errors.py`` maps them: authentication failures to 401, a missing
scope or role permission to 403; a resource outside the caller's reach is reported as not
found (404), never as forbidden, so that its existence is not revealed."""

from __future__ import annotations


class AccessError(Exception):
    """Base class of access-control failures."""


class AuthenticationError(AccessError):
    """No valid bearer token (missing, malformed, expired, bad signature, wrong issuer...)."""


class InvalidScopeError(AuthenticationError):
    """A token carries a malformed SMART scope."""


class PermissionDeniedError(AccessError):
    """The caller is authenticated but its role or scopes do not allow the interaction."""
