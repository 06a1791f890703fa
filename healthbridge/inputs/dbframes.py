"""Field-wise reads of current resources straight into DataFrames (whole-district reads).

Shared by ``healthbridge evaluate`` (:mod:`healthbridge.pipeline.batch_read`) and the district
reports (:mod:`healthbridge.district.gather`): instead of shipping every stored resource to
Python and parsing it there, the database extracts the fields asked for — SQLite's multi-path
``json_extract`` (the document parsed once per row, the requested values returned as one small
JSON array), PostgreSQL's ``jsonb_build_array`` of ``#>`` paths on the content cast once per
row (a fenced sub-SELECT, see :func:`_statement`) — and :func:`fields` turns the rows into
columns. Values keep their JSON types (a number stays a number, ``true`` stays ``True``, an
object or array comes back whole), so callers apply exactly the same rules as the
per-resource functions of :mod:`healthbridge.inputs.extract`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import Connection

from healthbridge.fhir import facts
from healthbridge.terminology import CS_NIP_VACCINE


class UnsupportedPathError(ValueError):
    """A JSON path outside the subset the readers support (a programming error: paths are
    code, never input)."""


_PATH = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)$")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _steps(path: str) -> list[str]:
    """``$.a.b[0].c`` → ``["a", "b", "0", "c"]`` (validated: paths are code, never input)."""
    match = _PATH.match(path)
    if match is None:
        raise UnsupportedPathError(f"unsupported JSON path {path!r}")
    return [name or index for name, index in _STEP.findall(match.group(1))]


def _statement(dialect: str, paths: Sequence[str], exclude: bool, ids: int = 0) -> str:
    """The SELECT of ``res_id`` and the packed JSON array of the ``paths`` values (its first
    element is always the id, so SQLite returns an array even for one path)."""
    where = _where(dialect, ids)
    if dialect == "postgresql":
        values = ", ".join(
            ["doc #> '{id}'"]
            + ["doc #> '{" + ",".join(f'"{s}"' for s in _steps(p)) + "}'" for p in paths]
        )
        if exclude:
            where += " AND strpos(content, %s) = 0"
        # OFFSET 0 keeps the planner from pulling the subquery up: pulled up, ``doc`` is
        # replaced by ``content::jsonb`` in every ``#>``, and each path detoasts and parses
        # the whole document again (PostgreSQL flattens a sub-SELECT without LIMIT/OFFSET;
        # measured on 1,000 stored forecasts of 17 KB: 610 ms for two paths, 190 ms fenced).
        return (
            f"SELECT res_id, jsonb_build_array({values})::text FROM "
            f"(SELECT res_id, content::jsonb AS doc FROM resource WHERE {where} OFFSET 0) AS r"
        )
    for p in paths:
        _steps(p)
    values = ", ".join(f"'{p}'" for p in paths)
    if exclude:
        where += " AND instr(content, ?) = 0"
    return f"SELECT res_id, json_extract(content, '$.id', {values}) FROM resource WHERE {where}"


def _where(dialect: str, ids: int = 0) -> str:
    """The WHERE clause of a read of one type's current resources; ``ids``: only that many
    ids (one array parameter on PostgreSQL, one parameter each on SQLite)."""
    if dialect == "postgresql":
        return "res_type = %s AND NOT deleted" + (" AND res_id = ANY(%s)" if ids else "")
    where = "res_type = ? AND deleted = 0"
    return where + (f" AND res_id IN ({', '.join('?' * ids)})" if ids else "")


def fields(
    conn: Connection,
    resource_type: str,
    paths: Mapping[str, str],
    *,
    exclude_containing: str | None = None,
    res_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per current (not deleted) resource of ``resource_type``: ``res_id`` and one
    column per ``paths`` entry (name → JSON path ``$.a.b[0].c``), missing values as None.

    ``exclude_containing`` skips resources whose stored JSON contains that text (e.g. the
    derived growth-score Observations, marked by their code system). Rows go through the DBAPI
    cursor directly (this reads millions of rows; SQLAlchemy's row objects would cost more
    than the extraction).
    ``res_ids`` reads only those resources (an incremental refresh), :data:`ID_CHUNK` a query.
    """
    if res_ids is not None:
        return _fields_of(conn, resource_type, paths, exclude_containing, list(res_ids))
    names = list(paths)
    stmt = _statement(conn.dialect.name, [paths[n] for n in names], exclude_containing is not None)
    params: tuple[Any, ...] = (resource_type,)
    if exclude_containing is not None:
        params += (exclude_containing,)
    return _run(conn, stmt, params, names)


def _run(conn: Connection, stmt: str, params: tuple[Any, ...], names: list[str]) -> pd.DataFrame:
    loads = orjson.loads
    ids: list[str] = []
    packed: list[Any] = []
    for rid, values in _rows(conn, stmt, params):
        ids.append(rid)
        packed.append(loads(values))
    if not packed:
        frame = _empty(names)
    else:
        columns = list(zip(*packed, strict=True))[1:]  # the first value is the id
        frame = pd.DataFrame(
            {n: pd.Series(c, dtype=object) for n, c in zip(names, columns, strict=True)}
        )
    frame.insert(0, "res_id", pd.Series(ids, dtype=object))
    return frame


def _rows(conn: Connection, stmt: str, params: tuple[Any, ...]) -> Iterator[Any]:
    """The rows of ``stmt`` through the DBAPI cursor, 50,000 at a time (these reads return
    millions of rows: SQLAlchemy's row objects would cost more than the extraction)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(stmt, params)
        while batch := cursor.fetchmany(50_000):
            yield from batch
    finally:
        cursor.close()


#: Ids bound per query of a ``res_ids`` read (SQLite's default limit is 32,766 variables).
ID_CHUNK = 500


def _id_chunks(
    dialect: str, resource_type: str, res_ids: Sequence[str]
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(ids, parameters)`` of each query of a ``res_ids`` read, :data:`ID_CHUNK` ids a
    query, as :func:`_where` binds them."""
    for start in range(0, len(res_ids), ID_CHUNK):
        chunk = list(res_ids[start : start + ID_CHUNK])
        yield len(chunk), (resource_type, *([chunk] if dialect == "postgresql" else chunk))


def _fields_of(
    conn: Connection,
    resource_type: str,
    paths: Mapping[str, str],
    exclude_containing: str | None,
    res_ids: list[str],
) -> pd.DataFrame:
    """:func:`fields` restricted to ``res_ids`` (in chunks; rows in chunk order)."""
    names = list(paths)
    parts = []
    for ids, params in _id_chunks(conn.dialect.name, resource_type, res_ids):
        stmt = _statement(
            conn.dialect.name, [paths[n] for n in names], exclude_containing is not None, ids
        )
        if exclude_containing is not None:
            params += (exclude_containing,)
        parts.append(_run(conn, stmt, params, names))
    if not parts:
        frame = _empty(names)
        frame.insert(0, "res_id", pd.Series([], dtype=object))
        return frame
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def documents(
    conn: Connection, resource_type: str, *, res_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every current (not deleted) resource of ``resource_type`` (``res_ids``: those only,
    :data:`ID_CHUNK` a query), parsed from the stored JSON as it is.

    Whole documents through :func:`fields` (path ``$``) made PostgreSQL parse each stored
    text into ``jsonb`` and print it again before Python parsed it: for the vaccination
    forecasts (about 17 KB each) that was the largest item of a re-evaluation on PostgreSQL
    (docs/pipeline.md, "Open points")."""
    dialect = conn.dialect.name
    queries = (
        [(0, (resource_type,))]
        if res_ids is None
        else list(_id_chunks(dialect, resource_type, res_ids))
    )
    loads = orjson.loads
    return [
        loads(content)
        for ids, params in queries
        for (content,) in _rows(
            conn, f"SELECT content FROM resource WHERE {_where(dialect, ids)}", params
        )
    ]


def _empty(names: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({n: pd.Series(dtype=object) for n in names})


def ref_ids(references: Sequence[Any], resource_type: str) -> list[str | None]:
    """Reference strings → ids of the local ``resource_type`` (None for anything else):
    the vectorised form of :func:`healthbridge.fhir.facts.ref_id`."""
    return facts.ref_ids(references, resource_type)


def coded(codings: Sequence[Any], system: str, *, last: bool = False) -> list[str | None]:
    """Per coding array: the first non-empty code of ``system`` (as
    :func:`healthbridge.inputs.extract.loinc_code` reads ``code``), or with ``last`` the
    code of the last coding of ``system`` whatever it holds (as the per-resource loops over
    ``vaccineCode`` / ``Encounter.type`` do)."""
    if system == CS_NIP_VACCINE and last:
        return [facts.nip_vaccine(array) for array in codings]
    out: list[str | None] = []
    for array in codings:
        found: Any = None
        for c in array if isinstance(array, list) else ():
            if not isinstance(c, dict) or c.get("system") != system:
                continue
            if last:
                found = c.get("code")
            elif c.get("code"):
                found = str(c["code"])
                break
        out.append(found if found is None or isinstance(found, str) else str(found))
    return out


def concept_codings(concepts: Any) -> list[Any]:
    """The codings of every CodeableConcept in a list (e.g. ``Encounter.type``), in order."""
    if not isinstance(concepts, list):
        return []
    return [
        c for concept in concepts if isinstance(concept, dict) for c in concept.get("coding") or ()
    ]


def all_codes(codings: Any, system: str) -> tuple[str, ...]:
    """Every non-empty code of ``system`` in one coding array, in order."""
    if not isinstance(codings, list):
        return ()
    return tuple(
        str(c["code"])
        for c in codings
        if isinstance(c, dict) and c.get("system") == system and c.get("code")
    )


def days(values: Sequence[Any]) -> pd.Series:
    """Calendar dates as written (``YYYY-MM-DD`` prefix; invalid → NaT), as datetime64."""
    head = pd.Series(
        [v[:10] if isinstance(v, str) and len(v) >= 10 else None for v in values], dtype=object
    )
    return pd.to_datetime(head, format="%Y-%m-%d", errors="coerce")


def numbers(values: Sequence[Any]) -> pd.Series:
    """JSON numbers as float64 (booleans, strings, non-finite → NaN)."""
    return pd.Series(
        [
            float(v) if isinstance(v, int | float) and not isinstance(v, bool) else float("nan")
            for v in values
        ],
        dtype="float64",
    ).where(lambda s: s.abs() != float("inf"))
