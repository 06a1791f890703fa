"""What the store hands back (:class:`StoredResource`, :class:`WriteResult`,
:class:`SearchResult`), the tables they are read from, and the small checks and conversions
every interaction shares (row → stored version, version stamps, type and body checks)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Table, and_, func, select

from healthbridge.errors import BadRequestError, Issue, NotFoundError, UnprocessableError
from healthbridge.fhir import r4
from healthbridge.fhir.query import SearchQuery
from healthbridge.fhir.values import format_instant, index_instant
from healthbridge.store.models import ResourceRow, ResourceVersionRow

RES: Table = ResourceRow.__table__  # type: ignore[attr-defined]
VER: Table = ResourceVersionRow.__table__  # type: ignore[attr-defined]
#: the largest version id the column holds
MAX_VERSION = 2**31 - 1


def versions() -> Select[Any]:
    """``resource_version`` rows with their JSON: the version row's own for a former version,
    the ``resource`` row's for the current one (whose version row holds NULL: the current JSON
    is stored once). An outer join on the current row's primary key, so one index probe per
    version read; ``COALESCE`` takes the current row's JSON only where the version row has none.
    Filter and order it by ``VER``'s columns."""
    current = and_(
        RES.c.res_type == VER.c.res_type,
        RES.c.res_id == VER.c.res_id,
        RES.c.version_id == VER.c.version_id,
    )
    return select(
        VER.c.res_type,
        VER.c.res_id,
        VER.c.version_id,
        VER.c.last_updated,
        VER.c.deleted,
        VER.c.method,
        func.coalesce(VER.c.content, RES.c.content).label("content"),
    ).select_from(VER.outerjoin(RES, current))


@dataclass(frozen=True)
class StoredResource:
    """One stored version."""

    resource_type: str
    id: str
    version_id: int
    last_updated: str  # FHIR instant
    deleted: bool
    resource: dict[str, Any] | None
    method: str = "PUT"

    @property
    def etag(self) -> str:
        """The weak ETag of this version (http.html#versioning)."""
        return f'W/"{self.version_id}"'

    @property
    def reference(self) -> str:
        """``Type/id``."""
        return f"{self.resource_type}/{self.id}"


@dataclass(frozen=True)
class WriteResult:
    """Outcome of a create/update: the version written (or found) and whether it is new."""

    stored: StoredResource
    created: bool
    changed: bool = True  # False when a conditional create matched an existing resource


@dataclass
class SearchResult:
    """A page of matches plus included resources."""

    matches: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    query: SearchQuery
    issues: list[Issue] = field(default_factory=list)


def from_row(row: Any, *, method: str = "PUT") -> StoredResource:
    """The stored version in a ``resource`` or ``resource_version`` row."""
    content = json.loads(row.content) if not row.deleted else None
    last = content["meta"]["lastUpdated"] if content else instant_from_index(row.last_updated)
    return StoredResource(
        row.res_type, row.res_id, row.version_id, last, bool(row.deleted), content, method
    )


def stamps(now: dt.datetime) -> tuple[str, str]:
    """``(format_instant(now), index_instant(now))`` for a UTC time from :func:`instant_now`
    (millisecond precision), formatted once — every write stamps its version with both."""
    if now.utcoffset() != dt.timedelta(0) or now.microsecond % 1000:
        return format_instant(now), index_instant(now)
    day = (
        f"{now.year:04d}-{now.month:02d}-{now.day:02d}"
        f"T{now.hour:02d}:{now.minute:02d}:{now.second:02d}"
    )
    return f"{day}.{now.microsecond // 1000:03d}Z", f"{day}.{now.microsecond:06d}"


def instant_from_index(value: str) -> str:
    """The FHIR instant of an indexed timestamp (microseconds → milliseconds, UTC)."""
    return value[:23] + "Z"


def check_issues(issues: list[Issue]) -> None:
    """422 listing every issue when any is an error (write validators)."""
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        raise UnprocessableError(errors[0].diagnostics, issues=issues)


def resource_type_of(resource: dict[str, Any]) -> str:
    """The ``resourceType`` of a body (400 when it is not a resource, 404 when unsupported)."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        raise BadRequestError("Body is not a FHIR resource (no resourceType)")
    check_type(rtype)
    return rtype


def check_type(resource_type: str) -> None:
    """404 for a resource type this server does not support."""
    if not r4.is_supported(resource_type):
        raise NotFoundError(f"Resource type {resource_type!r} is not supported")
