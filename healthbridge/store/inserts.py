"""The SQL that writes queued rows, per database.

A transaction queues its ``resource``, ``resource_version``, index, compartment and
rule-input rows (:mod:`healthbridge.store.write_behind`) and :func:`insert_pending` writes
them on the driver's own cursor: multi-row ``INSERT``\\ s on SQLite, ``INSERT``\\ s joined by
data-modifying ``WITH`` clauses and ``COPY`` on PostgreSQL. Also the stored JSON encoder
(:func:`encode`) and the column layout of the queued rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from itertools import chain
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from healthbridge.fhir.searchparams import ROW_KEYS
from healthbridge.store import search as sql
from healthbridge.store.stored import RES

#: Queued rows: table → column names → rows (value tuples in that order).
Pending = dict[str, dict[tuple[str, ...], list[tuple[Any, ...]]]]


@cache
def insert_sql(table: str, columns: tuple[str, ...], mark: str, rows: int = 1) -> str:
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
RESOURCE_COLUMNS = ("res_type", "res_id", "version_id", "last_updated", "deleted", "content")
VERSION_COLUMNS = (*RESOURCE_COLUMNS, "method")
#: Stored JSON: compact, UTF-8 as is (one encoder, not one per call).
STANDARD_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(resource: dict[str, Any]) -> str:
    """The stored JSON text of ``resource``: the same JSON as :data:`STANDARD_JSON` writes, ~15×
    faster (orjson; 15 µs of a growth Observation's write otherwise).

    orjson writes NaN/Infinity as ``null`` and refuses integers beyond 64 bits, where the
    standard encoder keeps them: any output holding ``null`` (which R4 JSON only has in
    primitive arrays paired with ``_element`` arrays) and any refusal is encoded by the
    standard encoder instead, so what is stored never loses a value. Floats may be spelled
    differently (``1e16`` for ``1e+16``): the same JSON number."""
    try:
        out = orjson.dumps(resource)
    except TypeError:
        return STANDARD_JSON.encode(resource)
    if b"null" in out:
        return STANDARD_JSON.encode(resource)
    return out.decode()


#: Per index kind: the table name and the columns of its queued rows, owner first, then the
#: keys of :mod:`healthbridge.fhir.searchparams`' rows in the order its converters write them.
INDEX_LAYOUT: dict[str, tuple[str, tuple[str, ...]]] = {
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
SQLITE_BEHIND_PARAMS = 30_000
#: PostgreSQL statements carry at most 65,535 parameters.
_PG_MAX_PARAMS = 60_000


def insert_statements(
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
            if max_params:  # write-behind: whole statements (write_behind.WriteBehind), one text
                for start in range(0, len(values), per):
                    chunk = values[start : start + per]
                    statement = (
                        insert_sql(table, columns, "?", per)
                        if len(chunk) == per
                        else insert_sql.__wrapped__(table, columns, "?", len(chunk))
                    )
                    yield statement, list(chain.from_iterable(chunk)), False
                continue
            full = len(values) // per * per if len(values) >= 2 * per else 0
            if full:
                statement = insert_sql(table, columns, "?", per)
                for start in range(0, full, per):
                    yield statement, list(chain.from_iterable(values[start : start + per])), False
            if full < len(values):
                yield insert_sql(table, columns, "?"), values[full:], True
        return
    parts: list[tuple[str, list[Any]]] = []
    for table, columns, values in tables:
        per = max(1, _PG_MAX_PARAMS // len(columns))
        for start in range(0, len(values), per):
            chunk = values[start : start + per]
            text_ = (
                insert_sql(table, columns, "%s", len(chunk))
                if len(chunk) <= 16  # statement texts cached for the common small sizes
                else insert_sql.__wrapped__(table, columns, "%s", len(chunk))
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
def copy_sql(table: str, columns: tuple[str, ...]) -> str:
    """``COPY table (columns) FROM STDIN``; names come from our own models (checked)."""
    known = RES.metadata.tables[table].c
    if not all(c in known for c in columns):
        raise ValueError(f"unknown columns for {table}: {columns}")
    names = ", ".join(f'"{c}"' for c in columns)
    return f'COPY "{table}" ({names}) FROM STDIN'


def insert_pending(pending: Pending, conn: Connection, max_params: int = 0) -> None:
    """Insert ``pending`` on ``conn``'s driver connection (``resource`` and
    ``resource_version`` first, then the rest in queue order); ``max_params`` as for
    :func:`insert_statements`. On PostgreSQL tables of :data:`COPY_MIN_ROWS` rows or more
    are copied. Driver errors are wrapped exactly as SQLAlchemy wraps them
    (``DBAPIError.instance``), so the repository maps them as for any other statement."""
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
            statement = copy_sql(table, columns)
            try:
                with cursor.copy(statement) as copy:
                    for values_row in values:
                        copy.write_row(values_row)
            except dbapi_error as exc:
                raise DBAPIError.instance(
                    statement, None, exc, dbapi_error, dialect=dialect
                ) from exc
        for statement, params, many in insert_statements(dialect.name, tables, max_params):
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
