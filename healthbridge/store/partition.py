"""Monthly partitions of resource versions and AuditEvents on PostgreSQL (``healthbridge db
partition``; docs/capacity.md, issue 19).

What it does (opt-in, once per database, then monthly to create the months ahead):

* ``resource_version`` becomes ``PARTITION BY RANGE (last_updated)`` with one partition per
  month (``resource_version_y2026m12``) and a ``DEFAULT`` partition. Its primary key becomes
  (res_type, res_id, version_id, last_updated): PostgreSQL requires the partition key in every
  unique index of a partitioned table
  (https://www.postgresql.org/docs/15/ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-LIMITATIONS).
  ``_history`` with ``_since`` then reads only the months asked for.
* ``resource`` becomes ``PARTITION BY LIST (res_type)``: ``resource_audit`` holds the
  AuditEvents and is itself ``PARTITION BY RANGE (last_updated)`` by month (plus a default),
  ``resource_clinical`` (the ``DEFAULT`` list partition) holds every other type, unpartitioned
  by time — its size follows the number of children, not the calendar. The parent's primary
  key becomes (res_type, res_id, last_updated); ``resource_clinical`` keeps a unique index on
  (res_type, res_id), so a clinical id stays unique in the database. An AuditEvent's id is
  unique within its month by the database and across months by the server (server-made
  UUIDs; AuditEvents are never updated by HealthBridge).
* The database's ``plan_cache_mode`` is set to ``force_custom_plan`` (new sessions): with
  generic plans the searches on the partitioned ``resource`` chose bad join orders (see
  :func:`partition`).
* Months are created from the oldest row's month to ``ahead`` months after today. Rows that
  reached a default partition (the command was not run in time) are moved into their month
  when it is created, in the same transaction.
* ``detach_audit_before(month)`` detaches the AuditEvent months before ``month``: each becomes
  a plain table (``resource_audit_y2025m01``) to archive (``pg_dump -t`` / ``COPY``) and
  ``DROP``, without a ``DELETE`` of its rows. The AuditEvents' search-index, compartment and
  version rows live in tables shared with the clinical record (not partitioned: they have no
  date column), so they are deleted in the same transaction — the remaining ``DELETE``, about
  half of an AuditEvent's bytes (docs/capacity.md). ``DETACH … CONCURRENTLY`` is not
  available because the parent has a default partition; a plain ``DETACH`` takes a short
  ``ACCESS EXCLUSIVE`` lock on ``resource``.
* The clinical ``idx_*`` and ``compartment`` tables are not partitioned (docs/capacity.md).
* Partition pruning for ``AuditEvent?date=``: the search compares ``recorded`` through the
  ``idx_date`` table, which says nothing about ``resource.last_updated`` (the partition key).
  The server writes an AuditEvent when it records it (``recorded`` ≤ ``last_updated``; they
  are never written through the API), so a lower bound on ``recorded`` is also one on
  ``last_updated``: :func:`audit_date_floor` adds it to the search (one hook in
  :func:`healthbridge.store.search.where_clause`), on every backend — it changes no result.

Why native declarative partitioning and hand-written SQL rather than pg_partman: Debian 12
packages pg_partman (``postgresql-15-partman``) but it is an extension that needs superuser
rights to install and its own background worker or a cron call — more to deploy than the
four statements per month this needs; the month-creation here is idempotent and runs from
the same CLI as the migrations. The conversion itself copies every row of ``resource`` and
``resource_version`` under an ``ACCESS EXCLUSIVE`` lock: run it in a maintenance window
(minutes per million rows), after ``healthbridge db backup``.

Alembic migrations do not know the partitioned layout; a later migration that alters
``resource`` or ``resource_version`` must be written for both layouts (see
docs/deployment.md). On SQLite nothing is done (:func:`partition` says so).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, Engine, text

from healthbridge.fhir.query import SearchQuery, split_prefix
from healthbridge.fhir.values import date_range, index_instant
from healthbridge.store.models import COMPARTMENT_TABLE, INDEX_TABLES, ResourceRow

#: tables whose AuditEvent rows go when a month is detached (keyed by res_type, res_id): every
#: search-index table, the compartment rows and the versions
AUDIT_SIDE_TABLES: tuple[str, ...] = (
    *(table.name for table in INDEX_TABLES.values()),
    COMPARTMENT_TABLE.name,
    "resource_version",
)
#: the two monthly RANGE parents and their default partitions
MONTHLY = {
    "resource_version": "resource_version_default",
    "resource_audit": "resource_audit_default",
}
#: the autovacuum parameters migration 0013 gives the searched tables (analysed after 1 % of
#: their rows change; docs/deployment.md, "PostgreSQL's statistics")
ANALYSE_OFTEN = "autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000"
_MONTH = re.compile(r"_y(\d{4})m(\d{2})$")
_R = ResourceRow.__table__  # type: ignore[attr-defined]


class PartitionError(Exception):
    """The database cannot be partitioned (not PostgreSQL, or a bad argument)."""


@dataclass
class PartitionReport:
    """What :func:`partition` did."""

    converted: list[str] = field(default_factory=list)  # tables turned into partitioned ones
    created: list[str] = field(default_factory=list)  # month partitions created
    moved_rows: int = 0  # rows moved out of a default partition into their new month


def audit_date_floor(query: SearchQuery) -> list[ColumnElement[bool]]:
    """``resource.last_updated >= X`` for each ``AuditEvent?date=`` whose every value has a
    lower bound ``X`` (``ge``, ``gt``, ``eq``, ``sa``, ``ap``): see the module docstring."""
    if query.resource_type != "AuditEvent":
        return []
    floors: list[ColumnElement[bool]] = []
    for flt in query.filters:
        if flt.param.code != "date" or flt.modifier is not None or flt.chain is not None:
            continue
        lows = []
        for value in flt.values:
            prefix, rest = split_prefix(value, "date")
            if prefix not in ("ge", "gt", "eq", "sa", "ap"):
                break
            try:
                lows.append(date_range(rest)[0])
            except ValueError:
                break  # the search itself reports the bad date
        else:
            if lows:
                floors.append(_R.c.last_updated >= min(lows))
    return floors


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def bound(day: dt.date) -> str:
    """A month's bound in the stored ``last_updated`` form (fixed-width UTC text, so text
    order is time order: :func:`healthbridge.fhir.values.index_instant`)."""
    return index_instant(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def month_name(parent: str, day: dt.date) -> str:
    return f"{parent}_y{day.year:04d}m{day.month:02d}"


def is_partitioned(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text("SELECT count(*) FROM pg_partitioned_table p"
                 " JOIN pg_class c ON c.oid = p.partrelid"
                 " WHERE c.relname = :t AND c.relnamespace = 'public'::regnamespace"),
            {"t": table},
        ).scalar_one()
    )  # fmt: skip


def partitions(conn: Connection, parent: str) -> list[str]:
    """The names of ``parent``'s partitions (one level), sorted."""
    rows = conn.execute(
        text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
             " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t ORDER BY 1"),
        {"t": parent},
    )  # fmt: skip
    return [str(r[0]) for r in rows]


def partition(engine: Engine, *, ahead: int = 3, today: dt.date | None = None) -> PartitionReport:
    """Convert (first time) and create the months up to ``ahead`` months after ``today``."""
    if not is_postgresql(engine):
        raise PartitionError(
            f"{engine.dialect.name}: partitioning is a PostgreSQL feature; nothing was changed"
        )
    if not 0 <= ahead <= 36:
        raise PartitionError("--ahead must be between 0 and 36 months")
    today = today or dt.datetime.now(dt.UTC).date()
    report = PartitionReport()
    with engine.begin() as conn:
        conn.execute(text("LOCK TABLE resource, resource_version IN ACCESS EXCLUSIVE MODE"))
        this_month = last = month_start(today)
        for _ in range(ahead):
            last = next_month(last)
        if not is_partitioned(conn, "resource_version"):
            first = _oldest_month(conn, "resource_version") or this_month
            _convert_versions(conn, min(first, this_month), last, report)
        if not is_partitioned(conn, "resource"):
            first = _oldest_month(conn, "resource_version") or this_month
            _convert_resource(conn, min(first, this_month), last, report)
        # Prepared statements (psycopg prepares a statement after 5 runs) get generic plans,
        # planned before the parameters are known: on the partitioned ``resource`` the
        # generic plan of ``Observation?subject&code`` drove from the code's 45,000 index rows
        # (820 ms instead of 3 ms, measured on a 5,000-child district). Custom plans prune
        # at plan time and pick the selective index (docs/capacity.md).
        conn.execute(
            text("DO $$ BEGIN EXECUTE format("
                 "'ALTER DATABASE %I SET plan_cache_mode = force_custom_plan',"
                 " current_database()); END $$")
        )  # fmt: skip
        for parent, default in MONTHLY.items():
            # months before this one only for rows that reached the default partition (a
            # detached month is not created again)
            day = min(_oldest_month(conn, default) or this_month, this_month)
            while day <= last:
                _ensure_month(conn, parent, default, day, report)
                day = next_month(day)
        if report.converted:
            # Autovacuum analyses the new partitions but never a partitioned parent: without
            # this the planner has no statistics for the parents until someone runs ANALYZE
            # (AuditEvent?date=&entity p95 11.8 → 30.6 ms at 100,000 children, back to
            # 16.1 ms after it; bench/results/search.md, 2026-12-07).
            conn.execute(text("ANALYZE resource, resource_version"))
    return report


def detach_audit_before(engine: Engine, before: dt.date) -> list[str]:
    """Detach the AuditEvent months that end on or before ``before``'s month; returns the
    detached tables (left in place, to archive and drop)."""
    if not is_postgresql(engine):
        raise PartitionError(f"{engine.dialect.name}: nothing is partitioned; nothing was changed")
    limit = month_start(before)
    detached: list[str] = []
    with engine.begin() as conn:
        if not is_partitioned(conn, "resource"):
            raise PartitionError("resource is not partitioned: run 'healthbridge db partition'")
        for name in partitions(conn, "resource_audit"):
            match = _MONTH.search(name)
            if match is None or dt.date(int(match[1]), int(match[2]), 1) >= limit:
                continue
            conn.execute(text(f"ALTER TABLE resource_audit DETACH PARTITION {name}"))
            for table in AUDIT_SIDE_TABLES:
                conn.execute(
                    text(f"DELETE FROM {table} WHERE res_type = 'AuditEvent'"
                         f" AND res_id IN (SELECT res_id FROM {name})")
                )  # fmt: skip
            detached.append(name)
    return detached


def _oldest_month(conn: Connection, table: str) -> dt.date | None:
    oldest = conn.execute(text(f"SELECT min(last_updated) FROM {table}")).scalar_one()
    if oldest is None:
        return None
    return month_start(dt.date.fromisoformat(str(oldest)[:10]))


def _rename_old(conn: Connection, table: str) -> str:
    """Rename ``table`` and its indexes out of the way (index names are per schema)."""
    old = f"{table}_unpartitioned"
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    for (index,) in conn.execute(
        text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": old}
    ).all():
        conn.execute(text(f"ALTER INDEX {index} RENAME TO {index}_unpartitioned"))
    return old


def _convert_versions(
    conn: Connection, first: dt.date, last: dt.date, report: PartitionReport
) -> None:
    old = _rename_old(conn, "resource_version")
    conn.execute(
        text(f"CREATE TABLE resource_version (LIKE {old} INCLUDING DEFAULTS)"
             " PARTITION BY RANGE (last_updated)")
    )  # fmt: skip
    conn.execute(
        text("ALTER TABLE resource_version ADD CONSTRAINT resource_version_pkey"
             " PRIMARY KEY (res_type, res_id, version_id, last_updated)")
    )  # fmt: skip
    conn.execute(
        text("CREATE TABLE resource_version_default PARTITION OF resource_version DEFAULT")
    )
    _create_months(conn, "resource_version", first, last, report)
    conn.execute(text(f"INSERT INTO resource_version SELECT * FROM {old}"))
    conn.execute(text(f"DROP TABLE {old}"))
    report.converted.append("resource_version")


def _convert_resource(
    conn: Connection, first: dt.date, last: dt.date, report: PartitionReport
) -> None:
    old = _rename_old(conn, "resource")
    conn.execute(
        text(f"CREATE TABLE resource (LIKE {old} INCLUDING DEFAULTS) PARTITION BY LIST (res_type)")
    )
    conn.execute(
        text("ALTER TABLE resource ADD CONSTRAINT resource_pkey"
             " PRIMARY KEY (res_type, res_id, last_updated)")
    )  # fmt: skip
    conn.execute(text("CREATE INDEX ix_resource_updated ON resource (res_type, last_updated)"))
    conn.execute(
        text("CREATE TABLE resource_audit PARTITION OF resource FOR VALUES IN ('AuditEvent')"
             " PARTITION BY RANGE (last_updated)")
    )  # fmt: skip
    conn.execute(text("CREATE TABLE resource_audit_default PARTITION OF resource_audit DEFAULT"))
    conn.execute(text("CREATE TABLE resource_clinical PARTITION OF resource DEFAULT"))
    # the searched rows live here now: analysed as often as migration 0013 has ``resource``
    conn.execute(text(f"ALTER TABLE resource_clinical SET ({ANALYSE_OFTEN})"))
    conn.execute(
        text("CREATE UNIQUE INDEX ux_resource_clinical_id ON resource_clinical (res_type, res_id)")
    )
    _create_months(conn, "resource_audit", first, last, report)
    conn.execute(text(f"INSERT INTO resource SELECT * FROM {old}"))
    conn.execute(text(f"DROP TABLE {old}"))
    report.converted.append("resource")


def _create_months(
    conn: Connection, parent: str, first: dt.date, last: dt.date, report: PartitionReport
) -> None:
    day = first
    while day <= last:
        name = month_name(parent, day)
        conn.execute(
            text(f"CREATE TABLE {name} PARTITION OF {parent}"
                 f" FOR VALUES FROM ('{bound(day)}') TO ('{bound(next_month(day))}')")
        )  # fmt: skip
        report.created.append(name)
        day = next_month(day)


def _ensure_month(
    conn: Connection, parent: str, default: str, day: dt.date, report: PartitionReport
) -> None:
    """Create ``day``'s month of ``parent`` unless it exists, moving the rows of that month
    that reached the default partition (attaching a range the default holds rows of fails)."""
    name = month_name(parent, day)
    if name in partitions(conn, parent):
        return
    lo, hi = bound(day), bound(next_month(day))
    where = f"last_updated >= '{lo}' AND last_updated < '{hi}'"
    conn.execute(text(f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS)"))
    moved = conn.execute(
        text(f"WITH moved AS (DELETE FROM {default} WHERE {where} RETURNING *)"
             f" INSERT INTO {name} SELECT * FROM moved")
    ).rowcount  # fmt: skip
    conn.execute(
        text(f"ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')")
    )
    report.created.append(name)
    report.moved_rows += max(moved, 0)
