"""SMART on FHIR v2 scopes: parse them and decide what an interaction needs.

Grammar (SMART App Launch 2.0, "Scopes for requesting clinical data",
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
``( 'patient' | 'user' | 'system' ) '/' ( resourceType | '*' ) '.' permissions`` where
``permissions`` is an ordered subset of ``c r u d s`` (create, read, update, delete, search).
SMART v1 suffixes ``.read`` (= ``rs``), ``.write`` (= ``cud``) and ``.*`` (= ``cruds``) are
accepted for older clients. Optional query constraints (``?category=...``) are not supported
and are rejected rather than silently widened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from healthbridge.access.errors import InvalidScopeError


class Context(StrEnum):
    """Whose data the scope is about: the launch patient, the user's reach, or the system."""

    PATIENT = "patient"
    USER = "user"
    SYSTEM = "system"


class Permission(StrEnum):
    """SMART v2 permission letters, in their canonical order."""

    CREATE = "c"
    READ = "r"
    UPDATE = "u"
    DELETE = "d"
    SEARCH = "s"


_ORDER: Final = "cruds"
_V1: Final[dict[str, str]] = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE: Final = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)$")


@dataclass(frozen=True, slots=True)
class Scope:
    """One clinical-data scope."""

    context: Context
    resource_type: str  # a FHIR type or "*"
    permissions: frozenset[Permission]

    def covers(self, resource_type: str, permission: Permission) -> bool:
        """Whether this scope grants ``permission`` on ``resource_type``."""
        return self.resource_type in ("*", resource_type) and permission in self.permissions


def parse_scope(text: str) -> Scope:
    """Parse one SMART scope; raises :class:`InvalidScopeError` for anything else."""
    match = _SCOPE.match(text)
    if not match:
        raise InvalidScopeError(f"not a SMART clinical scope: {text!r}")
    context, resource_type, perms = match.groups()
    letters = _V1.get(perms, perms)
    if not letters or any(ch not in _ORDER for ch in letters):
        raise InvalidScopeError(f"unknown permissions in scope {text!r}")
    positions = [_ORDER.index(ch) for ch in letters]
    if positions != sorted(set(positions)):
        raise InvalidScopeError(f"permissions must be in c-r-u-d-s order without repeats: {text!r}")
    return Scope(Context(context), resource_type, frozenset(Permission(ch) for ch in letters))


def parse_scopes(text: str | Iterable[str]) -> tuple[Scope, ...]:
    """Parse a space-separated scope string (or a list), ignoring non-clinical scopes.

    ``openid``, ``fhirUser``, ``launch``, ``offline_access`` and other non-data scopes carry
    no data permission and are skipped; malformed clinical scopes raise :class:`InvalidScopeError`.
    """
    items = text.split() if isinstance(text, str) else list(text)
    clinical = tuple(f"{c.value}/" for c in Context)
    return tuple(parse_scope(item) for item in items if item.startswith(clinical))


def granted(scopes: Iterable[Scope], resource_type: str, permission: Permission) -> bool:
    """Whether any scope grants ``permission`` on ``resource_type``."""
    return any(scope.covers(resource_type, permission) for scope in scopes)
