"""What a cached district was read at: the watermark an incremental refresh starts from.

:func:`data_version` is the cheap fingerprint that says the data is unchanged (the cached
frames are handed out as they are); :class:`Mark` is what was read of each resource type, and
:func:`changes` the resources changed since — or why the watermark cannot vouch for the
cached frames, when the district is read whole again (:mod:`healthbridge.district.cache`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Protocol

import pandas as pd
from sqlalchemy import Connection, text

from healthbridge.district.frames import DistrictFrames
from healthbridge.fhir.values import index_instant

#: Resource types the district frames are read from.
READ_TYPES: Final = ("Patient", "Observation", "Encounter", "Immunization", "Organization")
#: How far before a read a later refresh looks again for changes: a write stamps its rows
#: when it runs and becomes visible when it commits, so rows stamped shortly before a read may
#: appear after it. A write committing later than this (or stamped by a clock further behind)
#: is caught by the version count (see :class:`Mark`) and costs a full read, never a wrong
#: frame.
REFRESH_MARGIN: dt.timedelta = dt.timedelta(minutes=5)
#: More changed resources than this since the last read: read everything again.
DELTA_LIMIT: int = 50_000


def data_version(conn: Connection) -> tuple[object, ...]:
    """A cheap fingerprint of the stored data: the number of versions ever written (every
    committed create, update or delete adds one, whichever transaction commits last) and the
    latest ``lastUpdated`` of each type read (index lookups)."""
    count = conn.exec_driver_sql("SELECT count(*) FROM resource_version").scalar_one()
    latest = tuple(
        conn.execute(
            text("SELECT max(last_updated) FROM resource WHERE res_type = :t"), {"t": rtype}
        ).scalar_one()
        for rtype in READ_TYPES
    )
    return (count, *latest)


@dataclass(frozen=True)
class Mark:
    """What was read of one resource type: the watermark of an incremental refresh.

    The store never removes a version and stamps every version (create, update, delete) with
    the time it was written; a resource's ``lastUpdated`` is its newest version's. With
    ``since`` a little before the read (:data:`REFRESH_MARGIN`), and ``window`` the (version,
    stamp) of
    every row stamped at or after it, a later read finds every resource changed since as a
    row stamped at or after ``since`` whose (version, stamp) is not in ``window`` —
    *provided* no new version is stamped before ``since``. That is checked, not assumed: the
    count of versions of the type grew by exactly as many as the versions stamped at or after
    ``since`` did (``versions``, ``window_versions``), and every row of ``window`` is still
    there. Anything else (a long transaction committing late, a restored backup, another
    database at the same URL) fails the check and the district is read whole again.
    """

    versions: int
    since: str
    window: dict[str, tuple[int, str]]
    window_versions: int


@dataclass(frozen=True)
class State:
    """The cached district: the frames handed out plus what a refresh updates them from."""

    version: tuple[object, ...]
    revision: str | None
    marks: dict[str, Mark]
    observations: pd.DataFrame  # read.growth of every child, in child order
    checkups: pd.DataFrame  # read.checkups, with res_id
    vaccinations: pd.DataFrame  # read.vaccinations, with res_id
    frames: DistrictFrames


def _since(started: dt.datetime) -> str:
    """The window start of a read that started at ``started`` (the store's index form)."""
    return index_instant(started - REFRESH_MARGIN)


def _window(conn: Connection, rtype: str, since: str) -> list[tuple[str, int, str]]:
    rows = conn.execute(
        text(
            "SELECT res_id, version_id, last_updated FROM resource"
            " WHERE res_type = :t AND last_updated >= :s"
        ),
        {"t": rtype, "s": since},
    ).all()
    return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def _counts(conn: Connection, rtype: str, since: str) -> tuple[int, int]:
    """(versions of the type, versions of it stamped at or after ``since``)."""
    versions = conn.execute(
        text("SELECT count(*) FROM resource_version WHERE res_type = :t"), {"t": rtype}
    ).scalar_one()
    recent = conn.execute(
        text(
            "SELECT count(*) FROM resource_version v JOIN resource r"
            " ON v.res_type = r.res_type AND v.res_id = r.res_id"
            " WHERE r.res_type = :t AND r.last_updated >= :s AND v.last_updated >= :s"
        ),
        {"t": rtype, "s": since},
    ).scalar_one()
    return int(versions), int(recent)


def mark(conn: Connection, rtype: str, started: dt.datetime) -> Mark:
    since = _since(started)
    versions, recent = _counts(conn, rtype, since)
    window = {rid: (v, stamp) for rid, v, stamp in _window(conn, rtype, since)}
    return Mark(versions, since, window, recent)


def revision(conn: Connection) -> str | None:
    """The schema revision (a migration may rewrite stored rows without new versions)."""
    if not conn.dialect.has_table(conn, "alembic_version"):  # made without migrations
        return None
    value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


class Watermarked(Protocol):
    """What :func:`changes` needs of a kept read: its schema revision and its marks."""

    @property
    def revision(self) -> str | None: ...
    @property
    def marks(self) -> dict[str, Mark]: ...


def changes(
    conn: Connection, state: Watermarked, types: tuple[str, ...] = READ_TYPES
) -> tuple[dict[str, list[str]], str]:
    """Per type of ``types`` (marked in ``state``), the ids changed since ``state`` was read;
    an empty reason when the watermark holds (see :class:`Mark`), else why the district (or
    the kept values) must be read whole."""
    if revision(conn) != state.revision:
        return {}, "schema revision changed"
    changed: dict[str, list[str]] = {}
    for rtype in types:
        seen = state.marks[rtype]
        versions, recent = _counts(conn, rtype, seen.since)
        if versions - seen.versions != recent - seen.window_versions:
            return {}, f"{rtype}: versions written before the watermark"
        window = _window(conn, rtype, seen.since)
        if len(seen.window.keys() - {rid for rid, _, _ in window}):
            # a stamp never goes back and the store never removes a row: another database
            return {}, f"{rtype}: rows read before are gone"
        changed[rtype] = sorted(
            rid for rid, v, stamp in window if seen.window.get(rid) != (v, stamp)
        )
    total = sum(len(ids) for ids in changed.values())
    if total > DELTA_LIMIT:
        return {}, f"{total} changed resources (more than {DELTA_LIMIT})"
    return changed, ""
