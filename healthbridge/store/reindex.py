"""Rebuild search-index rows from the stored resources (``healthbridge db reindex``).

Index rows are written with every resource, so a database only needs this when the set of
search parameters grows: a custom SearchParameter added to ``fhir_profiles/SearchParameter/``
(e.g. ``enrollment-centre``) is indexed for new writes at once, but resources stored before
the upgrade have no rows for it until they are re-indexed. Reindexing is idempotent: for each
resource, the rows of the chosen parameters are deleted and extracted again from the current
version. Each batch runs in one write transaction that locks its resource rows (SQLite
``BEGIN IMMEDIATE``; PostgreSQL ``SELECT … FOR UPDATE``), so a concurrent update of the same
resource either happens before (and is re-extracted) or waits.

:func:`rebuild_rule_inputs` fills the typed rule-input table
(:mod:`healthbridge.store.rule_inputs`) of a database that held resources before migration
0005, or after the extractor version changed: the table is marked stale, rebuilt type by type
in batches (keyset pages of the primary key, each its own write transaction locking its
resource rows), and marked built by the current extractor at the end. Until then the batch
reader falls back to the stored documents.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select

from healthbridge.fhir.r4 import SUPPORTED_TYPES
from healthbridge.fhir.searchparams import INDEXED_TYPES, distinct_rows, extract, supported_params
from healthbridge.store import rule_inputs as ri
from healthbridge.store.db import WRITE_OPTION
from healthbridge.store.models import ResourceRow
from healthbridge.store.search import index_table

RES: Table = ResourceRow.__table__  # type: ignore[attr-defined]


class ReindexError(ValueError):
    """An unknown resource type or search parameter was asked for."""


@dataclass(frozen=True)
class ReindexCount:
    """What one resource type's reindex did."""

    resource_type: str
    resources: int
    rows: int


def _types_with(params: Sequence[str] | None, types: Sequence[str] | None) -> list[str]:
    chosen = list(types) if types else list(SUPPORTED_TYPES)
    unknown = [t for t in chosen if t not in SUPPORTED_TYPES]
    if unknown:
        raise ReindexError(f"Unknown resource type(s): {', '.join(unknown)}")
    if params:
        chosen = [t for t in chosen if set(params) & set(supported_params(t))]
        if not chosen:
            raise ReindexError(f"No resource type has search parameter(s) {', '.join(params)}")
    return chosen


def _ids(engine: Engine, resource_type: str) -> list[str]:
    stmt = select(RES.c.res_id).where(RES.c.res_type == resource_type, RES.c.deleted.is_(False))
    with engine.connect() as conn:
        return [str(r) for r in conn.execute(stmt.order_by(RES.c.res_id)).scalars()]


def _batch(
    engine: Engine, resource_type: str, ids: Sequence[str], params: frozenset[str] | None
) -> int:
    written = 0
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        stmt = (
            select(RES.c.res_id, RES.c.content)
            .where(
                RES.c.res_type == resource_type,
                RES.c.res_id.in_(ids),
                RES.c.deleted.is_(False),
            )
            .with_for_update()
        )
        rows = conn.execute(stmt).all()
        found = [str(r.res_id) for r in rows]
        per_kind: dict[str, list[dict[str, Any]]] = {k: [] for k in INDEXED_TYPES}
        for res_id, content in rows:
            extracted = extract(json.loads(content))
            for kind, items in extracted.tables():
                per_kind[kind].extend(
                    {"res_type": resource_type, "res_id": str(res_id), **item}
                    for item in distinct_rows(items)
                    if params is None or item["param"] in params
                )
        for kind in INDEXED_TYPES:
            table = index_table(kind)
            cond = (table.c.res_type == resource_type) & table.c.res_id.in_(found)
            if params is not None:
                cond = cond & table.c.param.in_(sorted(params))
            conn.execute(delete(table).where(cond))
            if per_kind[kind]:
                conn.execute(insert(table), per_kind[kind])
                written += len(per_kind[kind])
    return written


def reindex(
    engine: Engine,
    *,
    params: Sequence[str] | None = None,
    resource_types: Sequence[str] | None = None,
    batch_size: int = 500,
) -> Iterable[ReindexCount]:
    """Re-extract the index rows of ``params`` (all parameters when None) for every current
    resource of ``resource_types`` (every type having one of the parameters when None).

    Yields one :class:`ReindexCount` per type as it finishes. Raises
    :class:`ReindexError` for an unknown type or parameter.
    """
    chosen = frozenset(params) if params else None
    for rtype in _types_with(params, resource_types):
        ids = _ids(engine, rtype)
        rows = 0
        for start in range(0, len(ids), batch_size):
            rows += _batch(engine, rtype, ids[start : start + batch_size], chosen)
        yield ReindexCount(rtype, len(ids), rows)


@dataclass(frozen=True)
class RuleInputCount:
    """What rebuilding one resource type's rule-input rows did."""

    resource_type: str
    resources: int
    rows: int
    seconds: float


def _rule_input_batch(
    engine: Engine, resource_type: str, after: str, batch_size: int
) -> tuple[int, int, str | None]:
    """Rebuild the rows of the next ``batch_size`` current resources after id ``after``;
    returns (resources, rows, last id or None when there were none)."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        stmt = (
            select(RES.c.res_id, RES.c.content)
            .where(
                RES.c.res_type == resource_type,
                RES.c.res_id > after,
                RES.c.deleted.is_(False),
            )
            .order_by(RES.c.res_id)
            .limit(batch_size)
            .with_for_update()
        )
        found = conn.execute(stmt).all()
        if not found:
            return 0, 0, None
        last = str(found[-1].res_id)
        rows = [
            tuple(row.values())
            for res_id, content in found
            for row in ri.rows(resource_type, str(res_id), json.loads(content), content)
        ]
        table = ri.RULE_INPUT
        conn.execute(  # rows a concurrent write put there since the type was cleared
            delete(table).where(
                table.c.res_type == resource_type,
                table.c.res_id.in_([str(r.res_id) for r in found]),
            )
        )
        if rows:
            mark = "%s" if conn.dialect.name == "postgresql" else "?"
            columns = ", ".join(ri.COLUMNS)
            marks = ", ".join(mark for _ in ri.COLUMNS)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.executemany(f"INSERT INTO rule_input ({columns}) VALUES ({marks})", rows)
            finally:
                cursor.close()
    return len(found), len(rows), last


def _set_state(engine: Engine, version: int | None) -> None:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        ri.mark_built(conn, version)


def rebuild_rule_inputs(engine: Engine, *, batch_size: int = 5_000) -> Iterable[RuleInputCount]:
    """Rebuild the rule-input table from the current resources (idempotent); yields one
    :class:`RuleInputCount` per type as it finishes. Writes made meanwhile keep their rows
    current as usual; a resource deleted meanwhile loses its row with the deletion."""
    _set_state(engine, None)
    for rtype in ri.TYPES:
        start = time.perf_counter()
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
            # rows of resources deleted while the table was not maintained (older databases)
            conn.execute(delete(ri.RULE_INPUT).where(ri.RULE_INPUT.c.res_type == rtype))
        after, resources, rows = "", 0, 0
        while True:
            n, written, last = _rule_input_batch(engine, rtype, after, batch_size)
            if last is None:
                break
            resources, rows, after = resources + n, rows + written, last
        yield RuleInputCount(rtype, resources, rows, time.perf_counter() - start)
    _set_state(engine, ri.EXTRACTOR_VERSION)
