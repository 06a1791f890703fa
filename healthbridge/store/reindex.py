"""Rebuild search-index rows from the stored resources (``healthbridge db reindex``).

Index rows are written with every resource, so a database only needs this when the set of
search parameters grows: a custom SearchParameter added to ``fhir_profiles/SearchParameter/``
(e.g. ``enrollment-centre``) is indexed for new writes at once, but resources stored before
the upgrade have no rows for it until they are re-indexed. Reindexing is idempotent: for each
resource, the rows of the chosen parameters are deleted and extracted again from the current
version. Each batch runs in one write transaction that locks its resource rows (SQLite
``BEGIN IMMEDIATE``; PostgreSQL ``SELECT … FOR UPDATE``), so a concurrent update of the same
resource either happens before (and is re-extracted) or waits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select

from healthbridge.fhir.r4 import SUPPORTED_TYPES
from healthbridge.fhir.searchparams import INDEXED_TYPES, extract, supported_params
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
                    for item in items
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
