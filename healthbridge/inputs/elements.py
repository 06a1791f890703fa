"""Search matches as partial resources of a few top-level elements (like FHIR's ``_elements``,
http://hl7.org/fhir/R4/search.html#elements), read field-wise in the database.

The paediatrician's list sorts ~4,500 children by their open alerts (~14,000 Flags) at
10,000 children; parsing every whole document in Python was ~65 % of the page. Here the
search keeps its access check and reach rules (:func:`healthbridge.store.id_search.
search_where`) and only the named elements leave the database, in the same query — SQLite's
multi-path ``json_extract``, PostgreSQL's ``jsonb_build_array`` of ``#>`` paths (as
:mod:`healthbridge.inputs.dbframes` reads whole districts) — so the callers apply the same
readers (:mod:`healthbridge.fhir.facts`, the alert views) to the same values as on whole
documents. Nothing is named in the audit here: the caller names what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Text, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB

from healthbridge.store.id_search import search_where
from healthbridge.store.repository import Transaction
from healthbridge.store.stored import RES

#: ids restricted per search (``_id`` values; the store binds each as a parameter)
ID_CHUNK = 500


def search_elements(
    txn: Transaction,
    resource_type: str,
    params: Sequence[tuple[str, str]],
    elements: Sequence[str],
) -> list[dict[str, Any]]:
    """Every match of a search the caller may see, as ``{"resourceType", "id", element: value}``
    (elements absent from the document are left out), in the search's order."""
    where, order = search_where(txn, resource_type, params)
    if txn.conn.dialect.name == "postgresql":
        inner = select(RES.c.res_id, cast(RES.c.content, JSONB).label("doc"))
        sub = inner.where(where).order_by(*order).subquery()
        packed = func.jsonb_build_array(*(sub.c.doc[(e,)] for e in elements))
        stmt = select(sub.c.res_id, cast(packed, Text))
    else:
        paths = [f"$.{e}" for e in elements]
        if len(paths) == 1:
            paths.append("$.id")  # two paths or more: json_extract answers a JSON array
        stmt = (
            select(RES.c.res_id, func.json_extract(RES.c.content, *paths))
            .where(where)
            .order_by(*order)
        )
    out = []
    for rid, values in txn.conn.execute(stmt):
        found: dict[str, Any] = {"resourceType": resource_type, "id": rid}
        loaded = orjson.loads(values)
        found.update((e, v) for e, v in zip(elements, loaded, strict=False) if v is not None)
        out.append(found)
    return out


def read_elements(
    txn: Transaction, resource_type: str, ids: Sequence[str], elements: Sequence[str]
) -> list[dict[str, Any]]:
    """The resources among ``ids`` the caller may see (a ``_id`` search, :data:`ID_CHUNK`
    at a time), as :func:`search_elements` returns them, in the order of ``ids``."""
    found: dict[str, dict[str, Any]] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), ID_CHUNK):
        chunk = ",".join(unique[start : start + ID_CHUNK])
        found.update(
            (r["id"], r) for r in search_elements(txn, resource_type, [("_id", chunk)], elements)
        )
    return [found[i] for i in unique if i in found]
