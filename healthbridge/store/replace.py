"""The SQL of an update or a deletion: the current row replaced, the replaced version's JSON
moved into its version row, and its derived rows (index, rule-input, access) removed.

An update runs about a dozen statements: the current row (checked: exactly one row, else a
concurrent change), the version row, the seven index tables, and the rule-input, compartment
and patient-link rows of the types that have them. Built with SQLAlchemy's expression
language, their construction and execution cost more than the database's own work (an
outbox worker updating its Flags and Tasks spent a fifth of its time there), so they are
fixed SQL texts run on the driver's cursor, as :mod:`healthbridge.store.inserts` does for
the queued inserts: one statement after the other on SQLite; on PostgreSQL the version row
and the deletions in one statement of data-modifying ``WITH`` clauses
(https://www.postgresql.org/docs/15/queries-with.html#QUERIES-WITH-MODIFYING), i.e. two
round trips instead of twelve. The rows written and removed are those of the expression
language's statements (``tests/healthbridge/store/test_replace.py`` compares every table).

:func:`replace_many` runs the same statements for many updates at once (``executemany``:
one prepared statement stepped per update on SQLite, a pipeline of them in one round trip on
PostgreSQL), for a transaction that defers its updates to its next flush
(:meth:`~healthbridge.store.write_behind.QueuedWrites.deferred_replacements`: an outbox
worker rewriting thousands of scores, Flags and Tasks).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from healthbridge.errors import ConflictError
from healthbridge.fhir.searchparams import INDEXED_TYPES
from healthbridge.store import access_tables, rule_inputs
from healthbridge.store import search as sql

#: Columns of the current row an update or deletion sets, in this order.
CURRENT_COLUMNS = ("version_id", "last_updated", "deleted", "content")


@cache
def _owner_tables(rtype: str, compartment: bool) -> tuple[tuple[str, str, str], ...]:
    """``(table, type column, id column)`` of every derived row of a ``rtype`` resource that
    an update (``compartment``) or a deletion removes."""
    out = [(sql.index_table(kind).name, "res_type", "res_id") for kind in INDEXED_TYPES]
    if rtype in rule_inputs.TYPES:
        out.append((rule_inputs.RULE_INPUT.name, "res_type", "res_id"))
    if rtype in access_tables.link_types():
        out.append((access_tables.LINK.name, "src_type", "src_id"))
    if compartment and rtype in access_tables.compartment_types():
        out.append((access_tables.COMPARTMENT.name, "res_type", "res_id"))
    return tuple(out)


def _update_current(mark: str) -> str:
    sets = ", ".join(f'"{c}" = {mark}' for c in CURRENT_COLUMNS)
    return (
        f'UPDATE "resource" SET {sets} WHERE "res_type" = {mark} AND "res_id" = {mark} '
        f'AND "version_id" = {mark}'
    )


def _move_version(mark: str) -> str:
    return (
        f'UPDATE "resource_version" SET "content" = {mark} WHERE "res_type" = {mark} '
        f'AND "res_id" = {mark} AND "version_id" = {mark} AND "content" IS NULL'
    )


def _delete(table: str, type_col: str, id_col: str, mark: str) -> str:
    return f'DELETE FROM "{table}" WHERE "{type_col}" = {mark} AND "{id_col}" = {mark}'


@cache
def statements(dialect: str, rtype: str, compartment: bool) -> tuple[str, ...]:
    """The SQL texts after the current row's update: one per statement on SQLite, one in
    all on PostgreSQL (each takes the parameters of :func:`replace_current`, in order)."""
    mark = "%s" if dialect == "postgresql" else "?"
    parts = [_move_version(mark)] + [
        _delete(table, t, i, mark) for table, t, i in _owner_tables(rtype, compartment)
    ]
    if dialect != "postgresql":
        return tuple(parts)
    heads = ", ".join(f"w{n} AS ({text})" for n, text in enumerate(parts[:-1]))
    return (f"WITH {heads} {parts[-1]}",)


def replace_current(
    conn: Connection, prev: Any, row: dict[str, Any], *, compartment: bool = True
) -> None:
    """Replace the current row ``prev`` by ``row`` (the :data:`CURRENT_COLUMNS`), move
    ``prev``'s JSON into its version row and delete its derived rows (the compartment's
    only when ``compartment``: a deletion keeps them). :class:`ConflictError` when the
    current row is no longer ``prev``'s version (a concurrent change). Driver errors are
    wrapped as SQLAlchemy wraps them (``DBAPIError.instance``)."""
    _replace(conn, prev.res_type, compartment, [(prev, row, compartment)])


#: A deferred replacement: the replaced current row, the new current row's values
#: (:data:`CURRENT_COLUMNS`) and whether the compartment rows go too (see :func:`replace_current`).
Replacement = tuple[Any, dict[str, Any], bool]


def replace_many(conn: Connection, replacements: list[Replacement]) -> None:
    """:func:`replace_current` for each of ``replacements`` (at most one per resource, each
    ``prev`` the resource's current row in the database), a statement at a time for all of
    them of one type and kind. :class:`ConflictError` when any current row is no longer its
    ``prev``'s version."""
    groups: dict[tuple[str, bool], list[Replacement]] = {}
    for item in replacements:
        groups.setdefault((item[0].res_type, item[2]), []).append(item)
    for (rtype, compartment), items in groups.items():
        _replace(conn, rtype, compartment, items)


def _replace(conn: Connection, rtype: str, compartment: bool, items: list[Replacement]) -> None:
    """The statements of :func:`replace_current` for ``items`` (all of type ``rtype`` and
    kind ``compartment``): executed once for one item, else ``executemany``."""
    dialect = conn.dialect
    mark = "%s" if dialect.name == "postgresql" else "?"
    many = len(items) > 1
    first = _update_current(mark)
    owners = len(_owner_tables(rtype, compartment))
    rest = statements(dialect.name, rtype, compartment)
    moves = [[prev.content, rtype, prev.res_id, prev.version_id] for prev, _r, _c in items]
    keys = [[rtype, prev.res_id] for prev, _r, _c in items]
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def run(statement: str, params: list[list[Any]]) -> None:
        if many:
            cursor.executemany(statement, params)
        else:
            cursor.execute(statement, params[0])

    statement = first
    try:
        run(
            first,
            [
                [*(row[c] for c in CURRENT_COLUMNS), rtype, prev.res_id, prev.version_id]
                for prev, row, _c in items
            ],
        )
        if cursor.rowcount != len(items):
            name = f"a {rtype}" if many else f"{rtype}/{items[0][0].res_id}"
            raise ConflictError(f"{name} was changed concurrently")
        if dialect.name == "postgresql":  # one statement
            statement = rest[0]
            run(statement, [m + k * owners for m, k in zip(moves, keys, strict=True)])
        else:
            for n, statement in enumerate(rest):
                run(statement, moves if n == 0 else keys)
    except dbapi_error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dbapi_error, dialect=dialect, ismulti=many
        ) from exc
    finally:
        cursor.close()
