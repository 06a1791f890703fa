"""The repository: FHIR interactions over one database transaction.

:class:`Repository` owns the engine and the hooks; :meth:`Repository.transaction` yields a
:class:`Transaction`, the handle through which every interaction runs (and which write
interceptors receive). Index and history inserts are buffered and flushed in batches before
the next query and at commit, which keeps large transaction Bundles fast on both backends.

Interactions follow http://hl7.org/fhir/R4/http.html: read, vread, create (server-assigned id),
update (create-on-update allowed), delete, history, search, and their conditional forms.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from healthbridge.errors import (
    BadRequestError,
    ConflictError,
    GoneError,
    Issue,
    NotFoundError,
    PreconditionFailedError,
    ServiceUnavailableError,
    UnprocessableError,
)
from healthbridge.fhir import facts, r4
from healthbridge.fhir.query import SearchQuery, parse_search
from healthbridge.fhir.searchparams import INDEXED_TYPES, ROW_KEYS, IndexRows, extract
from healthbridge.fhir.values import date_range, format_instant, index_instant, instant_now
from healthbridge.store import access_tables, rule_inputs
from healthbridge.store import search as sql
from healthbridge.store.db import (
    BULK_CACHE_KIB,
    WRITE_OPTION,
    restart_wal,
    wal_path,
    writer_lock,
)
from healthbridge.store.hooks import (
    MAX_HOOK_DEPTH,
    ReadEvent,
    RequestContext,
    StoreHooks,
    WriteAction,
    WriteContext,
    WriteEvent,
)
from healthbridge.store.models import ResourceRow, ResourceVersionRow

RES: Table = ResourceRow.__table__  # type: ignore[attr-defined]
VER: Table = ResourceVersionRow.__table__  # type: ignore[attr-defined]
_MAX_VERSION = 2**31 - 1
_ID_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def new_id() -> str:
    """A server-assigned logical id: a time-ordered UUID (version 7, RFC 9562 §5.7).

    48 bits of Unix milliseconds, then 74 random bits. Ids assigned one after another sort
    together, so the B-tree inserts of a large write land on the last pages of the primary
    key, the owner indexes and — within one code — the lookup indexes, which stay in the page
    cache; with random (version 4) ids every insert touched a random page. At 100,000
    Observations this took ingest from 0.72 to 0.48 ms CPU per resource
    (bench/results/store.md, wave 4). The id is no more revealing than ``meta.lastUpdated``
    of the first version, and its 74 random bits keep it unguessable.
    """
    value = (time.time_ns() // 1_000_000 & _MS_MASK) << 80 | int.from_bytes(os.urandom(10), "big")
    h = f"{value & _V7_CLEAR | _V7_SET:032x}"  # str(uuid.UUID(int=...)) without the object
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_MS_MASK = (1 << 48) - 1
#: version (bits 76-79) and variant (bits 62-63) fields of the 128-bit value
_V7_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V7_SET = (0x7 << 76) | (0x2 << 62)


_GC_GUARD = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk write (nestable, thread-safe).

    A 10,000-row session import holds ~50,000 resources with their index rows — millions of
    container objects alive at once — and every few hundred allocations the collector
    traverses the young ones, every so often all of them: ≈10 % of the import's CPU. The
    write path makes no reference cycles to reclaim; whatever cyclic garbage anything else
    leaves meanwhile is collected once the collector runs again after the block (the last
    block to end restores the collector if it was on when the first began).
    """
    import gc

    global _gc_pauses, _gc_was_enabled
    with _GC_GUARD:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC_GUARD:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


#: Threads of Repository._restart_wal_later not yet joined.
_WAL_RESTARTS: list[threading.Thread] = []
_WAL_RESTARTS_GUARD = threading.Lock()


def wait_for_wal_restarts(timeout: float | None = None) -> None:
    """Join the background WAL restarts started after bulk writes (see
    :meth:`Repository._restart_wal_later`)."""
    with _WAL_RESTARTS_GUARD:
        threads = list(_WAL_RESTARTS)
    for thread in threads:
        thread.join(timeout)


def check_id(resource_id: str) -> None:
    """FHIR ``id``: 1-64 characters of ``[A-Za-z0-9\\-\\.]``."""
    if not 1 <= len(resource_id) <= 64 or not set(resource_id) <= _ID_OK:
        raise BadRequestError(f"Invalid resource id {resource_id!r}")


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


def _from_row(row: Any, *, method: str = "PUT") -> StoredResource:
    content = json.loads(row.content) if not row.deleted else None
    last = content["meta"]["lastUpdated"] if content else _instant_from_index(row.last_updated)
    return StoredResource(
        row.res_type, row.res_id, row.version_id, last, bool(row.deleted), content, method
    )


@cache
def _insert_sql(table: str, columns: tuple[str, ...], mark: str, rows: int = 1) -> str:
    """``INSERT`` of ``rows`` rows with the driver's positional marker (``?`` for sqlite3,
    ``%s`` for psycopg); table and column names come from our own models, never from input."""
    known = RES.metadata.tables[table].c
    if not all(c in known for c in columns):
        raise ValueError(f"unknown columns for {table}: {columns}")
    one = "(" + ", ".join(mark for _ in columns) + ")"
    # quoted: some column names are SQL keywords (patient_link.end); all are lower case
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join(one for _ in range(rows))


#: Column order of the queued ``resource`` and ``resource_version`` rows.
_RESOURCE_COLUMNS = ("res_type", "res_id", "version_id", "last_updated", "deleted", "content")
_VERSION_COLUMNS = (*_RESOURCE_COLUMNS, "method")
#: Stored JSON: compact, UTF-8 as is (one encoder, not one per call).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _encode(resource: dict[str, Any]) -> str:
    """The stored JSON text of ``resource``: the same JSON as :data:`_JSON` writes, ~15×
    faster (orjson; 15 µs of a growth Observation's write otherwise).

    orjson writes NaN/Infinity as ``null`` and refuses integers beyond 64 bits, where the
    standard encoder keeps them: any output holding ``null`` (which R4 JSON only has in
    primitive arrays paired with ``_element`` arrays) and any refusal is encoded by the
    standard encoder instead, so what is stored never loses a value. Floats may be spelled
    differently (``1e16`` for ``1e+16``): the same JSON number."""
    try:
        out = orjson.dumps(resource)
    except TypeError:
        return _JSON.encode(resource)
    if b"null" in out:
        return _JSON.encode(resource)
    return out.decode()


#: Per index kind: the table name and the columns of its queued rows, owner first, then the
#: keys of :mod:`healthbridge.fhir.searchparams`' rows in the order its converters write them.
_INDEX_LAYOUT: dict[str, tuple[str, tuple[str, ...]]] = {
    kind: (sql.index_table(kind).name, ("res_type", "res_id", "param", *keys))
    for kind, keys in ROW_KEYS.items()
}

#: SQLite: parameters per multi-row ``INSERT`` of a large flush. One statement of ~150 rows
#: costs a quarter less CPU than ``executemany`` of the same rows (one bind-step-reset cycle
#: per row there); well under SQLite's variable limit (32,766 since 3.32, 999 before).
_SQLITE_PARAMS = 960
#: SQLite, write-behind thread: parameters per statement. Between two statements the thread
#: must win the GIL back from the thread building resources (up to the 5 ms switch
#: interval), so its statements are large; under SQLite's default limit of 32,766.
_SQLITE_BEHIND_PARAMS = 30_000
#: Queued rows handed to the write-behind thread at a time (see Transaction.write_behind).
WRITE_BEHIND_ROWS = 20_000
#: PostgreSQL statements carry at most 65,535 parameters.
_PG_MAX_PARAMS = 60_000


def _insert_statements(
    dialect: str,
    tables: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]],
    max_params: int = 0,
) -> Iterator[tuple[str, Any, bool]]:
    """``(statement, parameters, executemany?)`` inserting ``(table, columns, rows)``.

    SQLite: multi-row ``VALUES`` of :data:`_SQLITE_PARAMS` parameters for a table's large
    batches, ``executemany`` for the rest (rows in queue order either way). PostgreSQL: multi-row
    ``VALUES``, and consecutive tables joined into one statement with data-modifying ``WITH``
    clauses (https://www.postgresql.org/docs/15/queries-with.html#QUERIES-WITH-MODIFYING), so
    an audit record's eight tables or a small write are one round trip; psycopg's
    ``executemany`` ran a pipeline per table, a third of the time of an audited search.
    """
    if dialect != "postgresql":
        for table, columns, values in tables:
            per = max(1, (max_params or _SQLITE_PARAMS) // len(columns))
            if max_params:  # write-behind: whole statements (see _WriteBehind), one text
                for start in range(0, len(values), per):
                    chunk = values[start : start + per]
                    statement = (
                        _insert_sql(table, columns, "?", per)
                        if len(chunk) == per
                        else _insert_sql.__wrapped__(table, columns, "?", len(chunk))
                    )
                    yield statement, list(chain.from_iterable(chunk)), False
                continue
            full = len(values) // per * per if len(values) >= 2 * per else 0
            if full:
                statement = _insert_sql(table, columns, "?", per)
                for start in range(0, full, per):
                    yield statement, list(chain.from_iterable(values[start : start + per])), False
            if full < len(values):
                yield _insert_sql(table, columns, "?"), values[full:], True
        return
    parts: list[tuple[str, list[Any]]] = []
    for table, columns, values in tables:
        per = max(1, _PG_MAX_PARAMS // len(columns))
        for start in range(0, len(values), per):
            chunk = values[start : start + per]
            text_ = (
                _insert_sql(table, columns, "%s", len(chunk))
                if len(chunk) <= 16  # statement texts cached for the common small sizes
                else _insert_sql.__wrapped__(table, columns, "%s", len(chunk))
            )
            parts.append((text_, list(chain.from_iterable(chunk))))
    batch: list[tuple[str, list[Any]]] = []
    size = 0
    for part in [*parts, None]:
        if part is None or (batch and size + len(part[1]) > _PG_MAX_PARAMS):
            if batch:
                heads = [f"w{i} AS ({sql_text})" for i, (sql_text, _p) in enumerate(batch[:-1])]
                statement = ("WITH " + ", ".join(heads) + " " if heads else "") + batch[-1][0]
                yield statement, [v for _sql, params in batch for v in params], False
            batch, size = [], 0
        if part is not None:
            batch.append(part)
            size += len(part[1])


#: PostgreSQL: tables receiving at least this many rows in one flush are loaded with ``COPY``
#: (https://www.postgresql.org/docs/15/sql-copy.html) — a 1,000-entry Bundle's ~12,000 index
#: rows — instead of multi-row ``INSERT``\ s whose parameters psycopg adapts one by one; small
#: writes (an audit record) keep their single round trip.
COPY_MIN_ROWS = 200


@cache
def _copy_sql(table: str, columns: tuple[str, ...]) -> str:
    """``COPY table (columns) FROM STDIN``; names come from our own models (checked)."""
    known = RES.metadata.tables[table].c
    if not all(c in known for c in columns):
        raise ValueError(f"unknown columns for {table}: {columns}")
    names = ", ".join(f'"{c}"' for c in columns)
    return f'COPY "{table}" ({names}) FROM STDIN'


def _stamps(now: dt.datetime) -> tuple[str, str]:
    """``(format_instant(now), index_instant(now))`` for a UTC time from :func:`instant_now`
    (millisecond precision), formatted once — every write stamps its version with both."""
    if now.utcoffset() != dt.timedelta(0) or now.microsecond % 1000:
        return format_instant(now), index_instant(now)
    day = (
        f"{now.year:04d}-{now.month:02d}-{now.day:02d}"
        f"T{now.hour:02d}:{now.minute:02d}:{now.second:02d}"
    )
    return f"{day}.{now.microsecond // 1000:03d}Z", f"{day}.{now.microsecond:06d}"


def _instant_from_index(value: str) -> str:
    return value[:23] + "Z"


Pending = dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]]


class _WriteBehind:
    """The thread of :meth:`Transaction.write_behind`: inserts handed-off batches in order.

    Each statement it runs has the same text as the previous ones of its table (``rows``
    rows: SQLite compiles it once — compiling a 5,000-row ``INSERT`` costs ten times running
    it); rows short of a whole statement are kept back (``carry``) and go first in the next
    batch of their table, or — once the thread is joined — to the caller's own flush, ahead of
    anything queued since, so every table still receives its rows in the order queued.
    """

    def __init__(self, insert: Any, params: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._insert = insert
        self._params = params
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-behind")
        self._futures: list[Any] = []
        self._failed = False
        self._carry: Pending = {}

    def submit(self, pending: Pending) -> None:
        self._futures.append(self._executor.submit(self._run, pending))

    def _run(self, pending: Pending) -> None:
        if self._failed:
            return  # an earlier batch failed: the transaction will roll back
        try:
            merged: Pending = self._carry
            for table, groups in pending.items():
                into = merged.setdefault(table, {})
                for columns, rows in groups.items():
                    into.setdefault(columns, []).extend(rows)
            whole: Pending = {}
            self._carry = {}
            for table, groups in merged.items():
                for columns, rows in groups.items():
                    per = max(1, self._params // len(columns)) if self._params else len(rows)
                    cut = len(rows) // per * per
                    if cut:
                        whole.setdefault(table, {})[columns] = rows[:cut]
                    if cut < len(rows):
                        self._carry.setdefault(table, {})[columns] = rows[cut:]
            if whole:
                self._insert(whole)
        except BaseException:
            self._failed = True
            raise

    def join(self) -> Pending:
        """Wait for every batch handed over; raise the first error; the rows kept back."""
        futures, self._futures = self._futures, []
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            raise errors[0]
        carry, self._carry = self._carry, {}
        return carry

    def close(self) -> None:
        """Wait for the thread (errors already raised or superseded) and end it."""
        try:
            with suppress(Exception):  # the block's own exception is what propagates
                self.join()
        finally:
            self._executor.shutdown(wait=True)


class Transaction:
    """All interactions inside one database transaction (see module docstring)."""

    def __init__(
        self,
        conn: Connection,
        *,
        hooks: StoreHooks,
        context: RequestContext,
        settings_base_url: str = "",
        default_count: int = 20,
        max_count: int = 1000,
    ) -> None:
        self._conn = conn
        #: the write-behind thread, while :meth:`write_behind` is on (else None)
        self._behind: _WriteBehind | None = None
        self._pending_rows = 0
        #: True once :meth:`write_behind` handed rows to its thread (a bulk write)
        self.handed_over = False
        self.hooks = hooks
        self.context = context
        self.base_url = context.base_url or settings_base_url
        self.default_count = default_count
        self.max_count = max_count
        #: buffered inserts: table → column names → rows (value tuples in that order)
        self._pending: dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]] = {}
        #: current rows read ahead by :meth:`prefetch_current` (None: no such resource), each
        #: used once and dropped as soon as anything writes that resource
        self._prefetched: dict[tuple[str, str], Any] = {}
        self._depth = 0
        self._elevated = 0
        #: per-transaction state of hooks (e.g. the accesses an audit hook collects)
        self.attributes: dict[str, Any] = {}

    @property
    def conn(self) -> Connection:
        """The transaction's connection; any inserts handed to the write-behind thread are
        finished first, so whoever uses the connection is alone on it and sees them."""
        if self._behind is not None:
            self._catch_up()
        return self._conn

    def _catch_up(self) -> None:
        """Wait for the write-behind thread and insert the rows it kept back."""
        assert self._behind is not None
        carry = self._behind.join()
        if carry:
            self._insert_pending(carry, self._conn)

    # ------------------------------------------------------------------ access control
    @property
    def server_work(self) -> bool:
        """True inside write interceptors and :meth:`as_server` blocks: work the server does
        on its own authority (derived data, audit records), not the caller's access."""
        return self._depth > 0 or self._elevated > 0

    @property
    def elevated(self) -> bool:
        """True inside :meth:`as_server` blocks."""
        return self._elevated > 0

    @property
    def restricted(self) -> bool:
        """Whether the caller's access control applies to the current call."""
        return self.context.access is not None and not self.server_work

    @contextmanager
    def as_server(self) -> Iterator[Transaction]:
        """Run a block with the server's authority (no reach filter, no write checks)."""
        self._elevated += 1
        try:
            yield self
        finally:
            self._elevated -= 1

    def _check(self, interaction: str, resource_type: str | None) -> None:
        if self.restricted:
            assert self.context.access is not None
            self.context.access.check(interaction, resource_type)

    def visible_clause(self, type_col: Any, id_col: Any) -> ColumnElement[bool] | None:
        """The caller's visibility condition on (type, id) columns (None: everything)."""
        if not self.restricted:
            return None
        assert self.context.access is not None
        return self.context.access.visible(type_col, id_col)

    def is_visible(self, resource_type: str, resource_id: str) -> bool:
        """Whether the caller may see ``resource_type/resource_id`` (existing or not)."""
        clause = self.visible_clause(RES.c.res_type, RES.c.res_id)
        if clause is None:
            return True
        self.flush()
        found = self.conn.execute(
            select(RES.c.res_id).where(
                RES.c.res_type == resource_type, RES.c.res_id == resource_id, clause
            )
        ).first()
        return found is not None

    def _hide(self, resource_type: str, resource_id: str, suffix: str = "") -> None:
        """404 — exactly as for a resource that does not exist — when out of reach."""
        if not self.is_visible(resource_type, resource_id):
            raise NotFoundError(f"{resource_type}/{resource_id}{suffix} not found")

    def compartment_of(self, resource_type: str, resource_id: str) -> frozenset[str]:
        """The patients whose compartment the current version belongs to."""
        self.flush()
        comp = access_tables.COMPARTMENT
        rows = self.conn.execute(
            select(comp.c.patient_id).where(
                comp.c.res_type == resource_type, comp.c.res_id == resource_id
            )
        ).all()
        return frozenset(r.patient_id for r in rows)

    # ------------------------------------------------------------------ buffering
    def _queue(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            groups = self._pending.setdefault(table, {})
            for row in rows:
                groups.setdefault(tuple(row), []).append(tuple(row.values()))
            self._queued(len(rows))

    def _queue_values(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Queue rows already laid out as ``columns`` (no per-row dicts)."""
        if rows:
            groups = self._pending.get(table)
            if groups is None:
                groups = self._pending[table] = {}
            queued = groups.get(columns)
            if queued is None:
                groups[columns] = list(rows)
            else:
                queued.extend(rows)
            self._queued(len(rows))

    def _queued(self, count: int) -> None:
        self._pending_rows += count
        if self._behind is not None and self._pending_rows >= WRITE_BEHIND_ROWS:
            pending, self._pending, self._pending_rows = self._pending, {}, 0
            self._behind.submit(pending)
            self.handed_over = True

    @contextmanager
    def write_behind(self) -> Iterator[Transaction]:
        """Insert buffered rows on a second thread while this one goes on (bulk writes).

        Inside the block, every :data:`WRITE_BEHIND_ROWS` queued rows are handed, in order, to
        one thread of this transaction that inserts them on the same connection (same SQL as
        :meth:`flush`), while the caller builds, indexes and queues the next resources: the
        database's own work (B-tree inserts; the sqlite3 and psycopg drivers release the GIL
        while in the database) overlaps Python's on a second core. Nothing else changes: one
        transaction, rows in the order queued, and any use of the connection — every read,
        :meth:`flush`, commit, :attr:`conn` for hooks — first waits until the thread is done
        (and raises its error, which rolls the transaction back like any failed insert).
        """
        if self._behind is not None:
            yield self
            return
        conn = self._conn
        max_params = 0
        raw: Any = None
        cache_size = None
        if conn.dialect.name == "sqlite":
            import sqlite3

            raw = conn.connection.driver_connection
            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            max_params = max(1, min(_SQLITE_BEHIND_PARAMS, int(limit)))
            cache_size = raw.execute("PRAGMA cache_size").fetchone()[0]
            raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        self._behind = _WriteBehind(lambda p: self._insert_pending(p, conn, max_params), max_params)
        try:
            yield self
            self._catch_up()
        finally:
            behind, self._behind = self._behind, None
            behind.close()
            if cache_size is not None:
                # dirty pages stay cached until the commit; only clean ones are let go
                raw.execute(f"PRAGMA cache_size={int(cache_size)}")

    def flush(self) -> None:
        """Write buffered inserts (done automatically before queries and at commit).

        On the driver's own cursor: a read with its AuditEvent writes to eight tables and a
        1,000-entry Bundle to ten, and SQLAlchemy's per-statement and per-row processing cost
        more than the inserts. Driver errors are wrapped exactly as SQLAlchemy wraps them
        (``DBAPIError.instance``), so :meth:`Repository.transaction` maps them as for any other
        statement (409, 400, 503). See :func:`_insert_statements` for the SQL per backend.
        """
        if self._behind is not None:
            self._catch_up()
        if not self._pending:
            return
        pending, self._pending, self._pending_rows = self._pending, {}, 0
        self._insert_pending(pending, self._conn)

    def _insert_pending(
        self,
        pending: Pending,
        conn: Connection,
        max_params: int = 0,
    ) -> None:
        """Insert ``pending`` (see :meth:`flush`) on ``conn``'s driver connection;
        ``max_params`` as for :func:`_insert_statements`."""
        order = ["resource", "resource_version"] + [
            k for k in pending if k not in ("resource", "resource_version")
        ]
        tables: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = []
        for name in order:
            groups = pending.get(name, {})
            tables.extend((name, keys, values) for keys, values in groups.items())
        dialect = conn.dialect
        dbapi_error = dialect.loaded_dbapi.Error
        copied: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = []
        if dialect.name == "postgresql":
            copied = [t for t in tables if len(t[2]) >= COPY_MIN_ROWS]
            tables = [t for t in tables if len(t[2]) < COPY_MIN_ROWS]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for table, columns, values in copied:
                statement = _copy_sql(table, columns)
                try:
                    with cursor.copy(statement) as copy:
                        for values_row in values:
                            copy.write_row(values_row)
                except dbapi_error as exc:
                    raise DBAPIError.instance(
                        statement, None, exc, dbapi_error, dialect=dialect
                    ) from exc
            for statement, params, many in _insert_statements(dialect.name, tables, max_params):
                try:
                    if many:
                        cursor.executemany(statement, params)
                    else:
                        cursor.execute(statement, params)
                except dbapi_error as exc:
                    raise DBAPIError.instance(
                        statement, None, exc, dbapi_error, dialect=dialect, ismulti=many
                    ) from exc
        finally:
            cursor.close()

    def run_pre_commit(self) -> None:
        """Run the pre-commit hooks until none reports more work (bounded)."""
        # Deferred derived-data work is the server's own, like write interceptors: the
        # caller's write was authorised already, and their reach must not hide or refuse it.
        with self.as_server():
            for _round in range(MAX_HOOK_DEPTH):
                if not any([hook(self) for hook in self.hooks.pre_commit_hooks]):
                    return
        raise UnprocessableError("Pre-commit hooks did not settle")

    # ------------------------------------------------------------------ reads
    def prefetch_current(self, keys: Sequence[tuple[str, str]], *, lock: bool = True) -> None:
        """Read the current rows of ``(type, id)`` pairs ahead, one query per type and 500
        ids, for the updates about to run (a transaction Bundle's PUT entries); each update
        then takes its row from here instead of a query of its own. On PostgreSQL the rows are
        locked as the updates' own reads would lock them (``FOR UPDATE``). A write to any of
        these resources in the meantime drops its row, so nothing stale is ever used."""
        self.flush()
        by_type: dict[str, set[str]] = {}
        for rtype, rid in keys:
            by_type.setdefault(rtype, set()).add(rid)
        for rtype, ids in by_type.items():
            ordered = sorted(ids)
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                stmt = select(RES).where(RES.c.res_type == rtype, RES.c.res_id.in_(chunk))
                if lock:
                    stmt = stmt.with_for_update()
                found = {row.res_id: row for row in self.conn.execute(stmt)}
                for rid in chunk:
                    self._prefetched[(rtype, rid)] = found.get(rid)

    def _current(self, resource_type: str, resource_id: str, *, lock: bool = False) -> Any:
        if self._prefetched:
            key = (resource_type, resource_id)
            if key in self._prefetched:
                return self._prefetched.pop(key)
        self.flush()
        stmt = select(RES).where(RES.c.res_type == resource_type, RES.c.res_id == resource_id)
        if lock:  # PostgreSQL: serialise concurrent writers of one resource (If-Match safety)
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).first()

    def _read_hook(self, interaction: Any, rtype: str | None, items: list[StoredResource]) -> None:
        if self.hooks.read_hooks and items:
            event = ReadEvent(interaction, rtype, tuple(items), self.context)
            for hook in self.hooks.read_hooks:
                hook(self, event)

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        """The current version; :class:`NotFoundError` / :class:`GoneError` (deleted)."""
        _check_type(resource_type)
        self._check("read", resource_type)
        row = self._current(resource_type, resource_id)
        if row is None:
            raise NotFoundError(f"{resource_type}/{resource_id} not found")
        if self.restricted:
            self._hide(resource_type, resource_id)
        if row.deleted:
            raise GoneError(f"{resource_type}/{resource_id} was deleted")
        stored = _from_row(row)
        self._read_hook("read", resource_type, [stored])
        return stored

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        """A specific version."""
        _check_type(resource_type)
        if not 0 < version_id <= _MAX_VERSION:  # beyond the column's integer range
            raise NotFoundError(f"{resource_type}/{resource_id}/_history/{version_id} not found")
        self._check("vread", resource_type)
        if self.restricted:
            self._hide(resource_type, resource_id, f"/_history/{version_id}")
        self.flush()
        row = self.conn.execute(
            select(VER).where(
                VER.c.res_type == resource_type,
                VER.c.res_id == resource_id,
                VER.c.version_id == version_id,
            )
        ).first()
        if row is None:
            raise NotFoundError(f"{resource_type}/{resource_id}/_history/{version_id} not found")
        if row.deleted:
            raise GoneError(f"{resource_type}/{resource_id} version {version_id} is a deletion")
        stored = _from_row(row, method=row.method)
        self._read_hook("vread", resource_type, [stored])
        return stored

    def history(
        self,
        resource_type: str | None = None,
        resource_id: str | None = None,
        *,
        since: str | None = None,
        count: int | None = None,
        offset: int = 0,
    ) -> tuple[list[StoredResource], int]:
        """Versions newest first (instance, type or system level) and the total count."""
        if resource_type is not None:
            _check_type(resource_type)
        self._check("history", resource_type)
        self.flush()
        conds = []
        if resource_type is not None:
            conds.append(VER.c.res_type == resource_type)
        if resource_id is not None:
            conds.append(VER.c.res_id == resource_id)
            if self._current(str(resource_type), resource_id) is None:
                raise NotFoundError(f"{resource_type}/{resource_id} not found")
            if self.restricted:
                self._hide(str(resource_type), resource_id)
        else:
            seen = self.visible_clause(VER.c.res_type, VER.c.res_id)
            if seen is not None:
                conds.append(seen)
        if since is not None:
            try:
                conds.append(VER.c.last_updated >= date_range(since)[0])
            except ValueError as exc:
                raise BadRequestError(f"Invalid _since {since!r}") from exc
        total = self.conn.execute(select(func.count()).select_from(VER).where(*conds)).scalar_one()
        limit = min(count or self.default_count, self.max_count)
        rows = self.conn.execute(
            select(VER)
            .where(*conds)
            .order_by(VER.c.last_updated.desc(), VER.c.version_id.desc(), VER.c.res_id)
            .limit(limit)
            .offset(offset)
        ).all()
        items = [_from_row(r, method=r.method) for r in rows]
        self._read_hook("history", resource_type, [i for i in items if not i.deleted])
        return items, int(total)

    def search_params(
        self, resource_type: str, params: Sequence[tuple[str, str]], *, lenient: bool = False
    ) -> SearchResult:
        """Parse and run a search given as key/value pairs."""
        _check_type(resource_type)
        query = parse_search(
            resource_type,
            params,
            default_count=self.default_count,
            max_count=self.max_count,
            lenient=lenient,
        )
        return self.search(query)

    def search(self, query: SearchQuery) -> SearchResult:
        """Run a parsed search (only what the caller may see: totals and pages included)."""
        self._check("search", query.resource_type)
        self.flush()
        where = sql.where_clause(query, self.base_url, visible=self.visible_clause)
        total: int | None = None
        matches: list[StoredResource] = []
        if query.summary != "count" and query.count > 0:
            rows = self.conn.execute(
                select(RES)
                .where(where)
                .order_by(*sql.order_by(query))
                .limit(query.count)
                .offset(query.offset)
            ).all()
            matches = [_from_row(r) for r in rows]
            if len(rows) < query.count and (rows or query.offset == 0):
                # a short page holds the last match: the total needs no second query
                total = query.offset + len(rows)
        if total is None:
            total = self.conn.execute(
                select(func.count()).select_from(RES).where(where)
            ).scalar_one()
        included = self._includes(query, matches) if matches else []
        issues = [
            Issue("warning", "not-supported", f"Search parameter {name!r} was ignored")
            for name in query.ignored
        ]
        self._read_hook("search", query.resource_type, matches + included)
        return SearchResult(matches, included, int(total), query, issues)

    def _fetch(self, refs: set[tuple[str, str]]) -> list[StoredResource]:
        out: list[StoredResource] = []
        by_type: dict[str, list[str]] = {}
        for t, i in refs:
            by_type.setdefault(t, []).append(i)
        seen = self.visible_clause(RES.c.res_type, RES.c.res_id)
        for t, ids in sorted(by_type.items()):
            ordered = sorted(ids)
            for start in range(0, len(ordered), 500):
                conds = [
                    RES.c.res_type == t,
                    RES.c.res_id.in_(ordered[start : start + 500]),
                    RES.c.deleted.is_(False),
                ]
                if seen is not None:
                    conds.append(seen)
                rows = self.conn.execute(select(RES).where(*conds)).all()
                out.extend(_from_row(r) for r in rows)
        return out

    def _includes(self, query: SearchQuery, matches: list[StoredResource]) -> list[StoredResource]:
        ref = sql.index_table("reference")
        seen = {(m.resource_type, m.id) for m in matches}
        wanted: set[tuple[str, str]] = set()
        ids = [m.id for m in matches]
        for inc in query.includes:
            conds = [ref.c.res_type == query.resource_type, ref.c.res_id.in_(ids)]
            if inc.param != "*":
                conds.append(ref.c.param == inc.param)
            if inc.target_type:
                conds.append(ref.c.target_type == inc.target_type)
            for row in self.conn.execute(select(ref.c.target_type, ref.c.target_id).where(*conds)):
                if row.target_type and r4.is_supported(row.target_type):
                    wanted.add((row.target_type, row.target_id))
        for inc in query.revincludes:
            conds = [
                ref.c.res_type == inc.source_type,
                ref.c.target_type == query.resource_type,
                ref.c.target_id.in_(ids),
            ]
            if inc.param != "*":
                conds.append(ref.c.param == inc.param)
            for row in self.conn.execute(select(ref.c.res_id).where(*conds)):
                wanted.add((inc.source_type, row.res_id))
        return self._fetch(wanted - seen)

    def everything(
        self,
        patient_id: str,
        *,
        types: set[str] | None = None,
        page: tuple[int, int] | None = None,
    ) -> list[StoredResource]:
        """``Patient/[id]/$everything``: the patient, everything referring to it, and what
        those resources refer to (practitioners, organisations, encounters ...). ``page``
        ``(offset, count)`` returns only that slice of a stable order (the whole count is then
        left in ``attributes["everything_total"]``)."""
        patient = self.read("Patient", patient_id)
        ref = sql.index_table("reference")
        self.flush()
        rows = self.conn.execute(
            select(ref.c.res_type, ref.c.res_id)
            .where(ref.c.target_type == "Patient", ref.c.target_id == patient_id)
            .distinct()
        ).all()
        compartment = self._fetch({(r.res_type, r.res_id) for r in rows})
        seen = {("Patient", patient_id)} | {(c.resource_type, c.id) for c in compartment}
        linked: set[tuple[str, str]] = set()
        sources = [patient, *compartment]
        for chunk_start in range(0, len(sources), 500):
            chunk = sources[chunk_start : chunk_start + 500]
            for rtype in {c.resource_type for c in chunk}:
                ids = [c.id for c in chunk if c.resource_type == rtype]
                for row in self.conn.execute(
                    select(ref.c.target_type, ref.c.target_id).where(
                        ref.c.res_type == rtype, ref.c.res_id.in_(ids)
                    )
                ):
                    if row.target_type and r4.is_supported(row.target_type):
                        linked.add((row.target_type, row.target_id))
        extra = self._fetch(linked - seen)
        out = [patient, *compartment, *extra]
        if types is not None:
            out = [s for s in out if s.resource_type in types]
        if page is None:
            self._read_hook("operation", "Patient", out)
            return out
        # a page: the patient first, the rest in (type, id) order, so pages do not overlap
        out = out[:1] + sorted(out[1:], key=lambda s: (s.resource_type, s.id))
        offset, count = page
        shown = out[offset : offset + count]
        self._read_hook("operation", "Patient", shown)
        self.attributes["everything_total"] = len(out)
        return shown

    # ------------------------------------------------------------------ writes
    def _validate(
        self, resource: dict[str, Any], action: WriteAction, prev: Any, *, trusted: bool = False
    ) -> None:
        if not trusted:
            r4.validate(resource)
        validators = self.hooks.validators
        if not trusted and self.hooks.input_validators:
            validators = [*validators, *self.hooks.input_validators]
        if not validators:
            return
        ctx = WriteContext(action, self.context, _from_row(prev) if prev is not None else None)
        _check_issues([i for v in validators for i in v(resource, ctx)])

    def _write(
        self,
        resource: dict[str, Any],
        *,
        resource_id: str,
        prev: Any,
        action: WriteAction,
        method: str,
        prepared: IndexRows | None = None,
        trusted: bool = False,
    ) -> StoredResource:
        rtype = str(resource["resourceType"])
        # absolute references to this server are stored relative (healthbridge.fhir.facts)
        resource = facts.localised(resource, self.base_url)
        if self._prefetched:
            self._prefetched.pop((rtype, resource_id), None)
        restricted = self.restricted
        if restricted and prev is not None and not self.is_visible(rtype, resource_id):
            raise NotFoundError(f"{rtype}/{resource_id} not found")
        version = (prev.version_id + 1) if prev is not None else 1
        now = instant_now()
        stamp, index_stamp = _stamps(now)
        resource["id"] = resource_id
        raw_meta = resource.get("meta")
        if raw_meta is not None and not isinstance(raw_meta, dict):
            raise UnprocessableError("Resource.meta must be a JSON object")
        meta = dict(raw_meta or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = stamp
        resource["meta"] = meta
        if prepared is None:
            self._validate(resource, action, prev, trusted=trusted)
        index_rows = prepared or extract(resource)
        comp_rows, link_rows = access_tables.rows_for(rtype, resource_id, resource, index_rows)
        if restricted:
            assert self.context.access is not None
            patients = frozenset(r["patient_id"] for r in comp_rows)
            if prev is not None and not prev.deleted:
                patients |= self.compartment_of(rtype, resource_id)
            self.context.access.check_write(
                self,
                action,
                rtype,
                resource,
                patients,
                create_on_update=method == "PUT" and (prev is None or bool(prev.deleted)),
            )
            if link_rows:
                link_rows = self.context.access.filter_links(self, rtype, resource_id, link_rows)
        content = _encode(resource)
        values = (rtype, resource_id, version, index_stamp, False, content)
        if prev is None:
            self._queue_values("resource", _RESOURCE_COLUMNS, [values])
        else:
            self._replace_current(prev, dict(zip(_RESOURCE_COLUMNS, values, strict=True)))
            access_tables.clear(self.conn, rtype, resource_id, compartment=True)
        self._queue_values("resource_version", _VERSION_COLUMNS, [(*values, method)])
        self._index(rtype, resource_id, index_rows)
        self._queue("compartment", comp_rows)
        self._queue("patient_link", link_rows)
        self._queue(rule_inputs.TABLE, rule_inputs.rows(rtype, resource_id, resource, content))
        stored = StoredResource(
            rtype, resource_id, version, meta["lastUpdated"], False, resource, method
        )
        self._intercept(action, stored, prev)
        return stored

    def _replace_current(self, prev: Any, row: dict[str, Any]) -> None:
        self.flush()
        result = self.conn.execute(
            update(RES)
            .where(
                RES.c.res_type == prev.res_type,
                RES.c.res_id == prev.res_id,
                RES.c.version_id == prev.version_id,
            )
            .values(**{k: v for k, v in row.items() if k not in ("res_type", "res_id")})
        )
        if result.rowcount != 1:
            raise ConflictError(f"{prev.res_type}/{prev.res_id} was changed concurrently")
        for kind in INDEXED_TYPES:
            table = sql.index_table(kind)
            self.conn.execute(
                delete(table).where(
                    table.c.res_type == prev.res_type, table.c.res_id == prev.res_id
                )
            )
        if prev.res_type in rule_inputs.TYPES:
            ri = rule_inputs.RULE_INPUT
            self.conn.execute(
                delete(ri).where(ri.c.res_type == prev.res_type, ri.c.res_id == prev.res_id)
            )

    def _index(self, rtype: str, resource_id: str, index_rows: IndexRows) -> None:
        canonical = index_rows.canonical
        for kind, (table, columns) in _INDEX_LAYOUT.items():
            rows = getattr(index_rows, kind)
            if rows:
                keys = columns[2:]
                if canonical or all(tuple(r) == keys for r in rows):
                    self._queue_values(
                        table, columns, [(rtype, resource_id, *r.values()) for r in rows]
                    )
                else:  # laid out otherwise: grouped by key order
                    self._queue(
                        table, [{"res_type": rtype, "res_id": resource_id, **r} for r in rows]
                    )

    def _intercept(self, action: WriteAction, stored: StoredResource, prev: Any) -> None:
        if not self.hooks.interceptors:
            return
        if self._depth >= MAX_HOOK_DEPTH:
            raise UnprocessableError("Write interceptors recursed too deeply")
        event = WriteEvent(
            action, stored, _from_row(prev) if prev is not None else None, self.context, self._depth
        )
        self._depth += 1
        try:
            for interceptor in self.hooks.interceptors:
                interceptor(self, event)
        finally:
            self._depth -= 1

    def _conditional_match(self, resource_type: str, criteria: str) -> list[StoredResource]:
        """The (at most two) resources matching conditional ``criteria``.

        Callers are conditional creates and updates, which write when nothing matches. Two
        concurrent callers with the same criteria must not both see "no match" and both
        create (http.html#ccreate: the server "SHALL" not create duplicates). SQLite write
        transactions are already serialised by ``BEGIN IMMEDIATE``; on PostgreSQL (READ
        COMMITTED) a transaction-scoped advisory lock keyed by type and criteria serialises
        them, and the search below then sees the other transaction's committed row.
        """
        from urllib.parse import parse_qsl

        pairs = parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)
        if not pairs:
            raise BadRequestError(f"Empty conditional criteria {criteria!r}")
        self._lock_criteria(resource_type, pairs)
        query = parse_search(resource_type, pairs, default_count=2, max_count=2)
        query.count, query.offset, query.includes, query.revincludes = 2, 0, [], []
        return self.search(query).matches

    def _lock_criteria(self, resource_type: str, pairs: Sequence[tuple[str, str]]) -> None:
        if self.conn.dialect.name != "postgresql":
            return
        key = json.dumps([resource_type, sorted(pairs)], ensure_ascii=False)
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        lock_id = int.from_bytes(digest, "big", signed=True)
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})

    def create(
        self,
        resource: dict[str, Any],
        *,
        if_none_exist: str | None = None,
        assigned_id: str | None = None,
        prepared: IndexRows | None = None,
        trusted: bool = False,
    ) -> WriteResult:
        """Create with a server-assigned id; with ``if_none_exist`` a conditional create.

        ``assigned_id`` is for Bundle processing, which pre-assigns ids to ``urn:uuid:``
        entries so references between entries can be rewritten before anything is written.
        ``prepared`` comes from :meth:`Repository.prepare_create` (validation and index
        extraction already done, outside the database transaction).

        ``trusted`` is for resources the server builds itself from typed code (never for
        client input): the base-R4 door (:func:`healthbridge.fhir.r4.validate`) and the input
        validators (profile conformance) are skipped — the tests check their output with the
        same validator and the profiles they claim — while business validators, index extraction,
        access checks, interceptors, audit and history run as for any write.
        """
        rtype = _resource_type(resource)
        self._check("create", rtype)
        if if_none_exist:
            found = self._conditional_match(rtype, if_none_exist)
            if len(found) > 1:
                raise PreconditionFailedError(f"Conditional create matched several {rtype}")
            if found:
                return WriteResult(found[0], created=False, changed=False)
        resource = dict(resource)
        stored = self._write(
            resource,
            resource_id=assigned_id or new_id(),
            prev=None,
            action="create",
            method="POST",
            prepared=prepared,
            trusted=trusted,
        )
        return WriteResult(stored, created=True)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        if_match: int | None = None,
        trusted: bool = False,
    ) -> WriteResult:
        """Update (or create-on-update) ``resource_type/resource_id``; ``if_match`` is the
        expected current version (412 when stale); ``trusted`` as for :meth:`create`."""
        _check_type(resource_type)
        self._check("update", resource_type)
        check_id(resource_id)
        if _resource_type(resource) != resource_type:
            raise BadRequestError("resourceType does not match the URL")
        if resource.get("id") != resource_id:
            raise BadRequestError(f"Resource id {resource.get('id')!r} does not match URL id")
        prev = self._current(resource_type, resource_id, lock=True)
        if if_match is not None and (prev is None or prev.deleted or prev.version_id != if_match):
            current = "none" if prev is None else str(prev.version_id)
            raise PreconditionFailedError(
                f"If-Match version {if_match} does not match current version {current}"
            )
        stored = self._write(
            dict(resource),
            resource_id=resource_id,
            prev=prev,
            action="update" if prev is not None and not prev.deleted else "create",
            method="PUT",
            trusted=trusted,
        )
        return WriteResult(stored, created=prev is None or bool(prev.deleted))

    def conditional_update(
        self, resource_type: str, criteria: str, resource: dict[str, Any]
    ) -> WriteResult:
        """``PUT [type]?criteria`` (http.html#cond-update)."""
        found = self._conditional_match(resource_type, criteria)
        if len(found) > 1:
            raise PreconditionFailedError(f"Conditional update matched several {resource_type}")
        if found:
            target = found[0].id
            if resource.get("id") not in (None, target):
                raise BadRequestError("Resource id does not match the matched resource")
        else:
            target = str(resource.get("id") or new_id())
        return self.update(resource_type, target, {**resource, "id": target})

    def delete(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """Delete (a new, deleted version); None if already deleted. 404 if never existed."""
        _check_type(resource_type)
        self._check("delete", resource_type)
        prev = self._current(resource_type, resource_id, lock=True)
        if self._prefetched:
            self._prefetched.pop((resource_type, resource_id), None)
        if prev is None:
            raise NotFoundError(f"{resource_type}/{resource_id} not found")
        if self.restricted:
            self._hide(resource_type, resource_id)
            assert self.context.access is not None
            previous = _from_row(prev) if not prev.deleted else None
            self.context.access.check_write(
                self,
                "delete",
                resource_type,
                previous.resource if previous is not None else None,
                self.compartment_of(resource_type, resource_id),
                create_on_update=False,
            )
        if prev.deleted:
            return None
        now = instant_now()
        row = {
            "res_type": resource_type,
            "res_id": resource_id,
            "version_id": prev.version_id + 1,
            "last_updated": index_instant(now),
            "deleted": True,
            "content": "{}",
        }
        self._replace_current(prev, row)
        access_tables.clear(self.conn, resource_type, resource_id, compartment=False)
        self._queue("resource_version", [{**row, "method": "DELETE"}])
        stored = StoredResource(
            resource_type,
            resource_id,
            prev.version_id + 1,
            format_instant(now),
            True,
            None,
            "DELETE",
        )
        self._intercept("delete", stored, prev)
        return stored


def _check_issues(issues: list[Issue]) -> None:
    """422 listing every issue when any is an error (write validators)."""
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        raise UnprocessableError(errors[0].diagnostics, issues=issues)


def _resource_type(resource: dict[str, Any]) -> str:
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        raise BadRequestError("Body is not a FHIR resource (no resourceType)")
    _check_type(rtype)
    return rtype


def _check_type(resource_type: str) -> None:
    if not r4.is_supported(resource_type):
        raise NotFoundError(f"Resource type {resource_type!r} is not supported")


class Repository:
    """Owns the engine and hooks; opens :class:`Transaction`s."""

    def __init__(
        self,
        engine: Engine,
        *,
        hooks: StoreHooks | None = None,
        base_url: str = "",
        default_count: int = 20,
        max_count: int = 1000,
    ) -> None:
        self.engine = engine
        self._wal = wal_path(engine)
        self.hooks = hooks or StoreHooks()
        self.base_url = base_url
        self.default_count = default_count
        self.max_count = max_count

    def _restart_wal_later(self) -> None:
        """:func:`~healthbridge.store.db.restart_wal` on a thread of its own, after a bulk
        write (one that used :meth:`Transaction.write_behind`).

        Such a write leaves hundreds of MB in the WAL (a 10,000-row session import: ~300 MB);
        emptying it copies all of it back into the database and syncs the file — seconds of
        I/O that the committed import does not need (its durability is that of every commit
        at ``synchronous=NORMAL``). The thread takes this process's writer lock first, as the
        request would have held it, so in-process writers queue behind it exactly as before;
        the response just does not wait. Errors are dropped as :func:`restart_wal` drops a
        busy checkpoint: the next write retries. :func:`wait_for_wal_restarts` joins these
        threads (benchmarks, tests, shutdown).
        """
        engine, wal = self.engine, self._wal

        def run() -> None:
            try:
                with writer_lock(engine), engine.connect() as conn:
                    restart_wal(conn, wal)
            except Exception:  # the engine may be gone (shut down): nothing to do
                return

        thread = threading.Thread(target=run, name="wal-restart", daemon=True)
        with _WAL_RESTARTS_GUARD:
            _WAL_RESTARTS[:] = [t for t in _WAL_RESTARTS if t.is_alive()]
            _WAL_RESTARTS.append(thread)
        thread.start()

    def prepare_create(
        self, resource: dict[str, Any], context: RequestContext, *, trusted: bool = False
    ) -> IndexRows:
        """Validate a resource to be created and extract its index rows *before* opening a
        database transaction (CPU work that then does not hold SQLite's write lock). The
        resource must already carry its final references; ``id``/``meta.versionId``/
        ``meta.lastUpdated`` are not indexed, so setting them later changes nothing.
        ``trusted`` as for :meth:`Transaction.create` (server-built resources only)."""
        _resource_type(resource)
        resource = facts.localised(resource, context.base_url or self.base_url)
        if not trusted:
            r4.validate(resource)
        validators = self.hooks.validators
        if not trusted and self.hooks.input_validators:
            validators = [*validators, *self.hooks.input_validators]
        if validators:
            ctx = WriteContext("create", context, None)
            _check_issues([i for v in validators for i in v(resource, ctx)])
        return extract(resource)

    @contextmanager
    def transaction(
        self, context: RequestContext, *, write: bool = True, plain: bool = False
    ) -> Iterator[Transaction]:
        """One database transaction; commits on success, rolls back on any exception.

        Read hooks that audit need to write, so reads run as write transactions when read
        hooks are registered. ``plain`` runs without any hook (a read-only lookup for the
        server itself, e.g. checking a token's identity claims).
        """
        hooks = StoreHooks() if plain else self.hooks
        write = write or bool(hooks.read_hooks)
        try:
            with (
                writer_lock(self.engine) if write else nullcontext(),
                self.engine.connect() as conn,
            ):
                conn = conn.execution_options(**{WRITE_OPTION: write})
                with conn.begin():
                    txn = Transaction(
                        conn,
                        hooks=hooks,
                        context=context,
                        settings_base_url=self.base_url,
                        default_count=self.default_count,
                        max_count=self.max_count,
                    )
                    yield txn
                    if write and hooks.pre_commit_hooks:
                        txn.run_pre_commit()
                    for hook in hooks.commit_hooks:
                        hook(txn)
                    txn.flush()
                if write and txn.handed_over and self._wal is not None:
                    self._restart_wal_later()
                elif write:
                    restart_wal(conn, self._wal)
        except IntegrityError as exc:
            raise ConflictError(f"Concurrent write conflict: {exc.orig}") from exc
        except DataError as exc:
            # A value the database cannot hold, e.g. U+0000 in PostgreSQL text.
            raise BadRequestError(f"Value cannot be stored or searched: {exc.orig}") from exc
        except DBAPIError as exc:
            message = str(exc).lower()
            if "deadlock" in message or "could not serialize" in message:
                raise ConflictError("Concurrent write conflict, retry") from exc
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                # The server went away (restart, network) or SQLite stayed locked past the
                # busy timeout. The transaction did not commit (or, if the connection died
                # during COMMIT, its fate is unknown to us): a clean, retryable 503. Pooled
                # connections are checked with pre-ping, so the next request reconnects.
                raise ServiceUnavailableError(
                    "The database is temporarily unavailable; retry later"
                ) from exc
            raise
