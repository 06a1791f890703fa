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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import Subquery, Text, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH

from healthbridge.fhir.facts import SEVERITY_SUFFIX, flag_severity, ref_id
from healthbridge.store.id_search import search_where
from healthbridge.store.repository import Transaction
from healthbridge.store.stored import RES

#: the first extension of that url (SQL/JSON path, PostgreSQL 12+)
_PG_SEVERITY: Final = '$.extension[*] ? (@.url like_regex "/alert-severity$")'
#: ids restricted per search (``_id`` values; the store binds each as a parameter)
ID_CHUNK = 500


def search_elements(
    txn: Transaction,
    resource_type: str,
    params: Sequence[tuple[str, str]],
    elements: Sequence[str],
) -> list[dict[str, Any]]:
    """Every match of a search the caller may see, as ``{"resourceType", "id", element: value}``
    (elements absent from the document are left out), in id order (no ``_sort``)."""
    where, order = search_where(txn, resource_type, params)
    if txn.conn.dialect.name == "postgresql":
        sub = _as_jsonb(where, order)
        packed = func.jsonb_build_array(*(sub.c.doc[(e,)] for e in elements))
        stmt = select(sub.c.res_id, cast(packed, Text)).order_by(sub.c.res_id)
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


def _as_jsonb(where: Any, order: Sequence[Any] = ()) -> Subquery:
    """PostgreSQL: the matches' ``res_id`` and content cast to ``jsonb`` as ``doc``, in a
    sub-SELECT fenced with ``OFFSET 0`` — else the planner pulls it up and copies the cast
    into every element read, parsing the document once per element (as
    :func:`healthbridge.inputs.dbframes._statement` avoids)."""
    inner = select(RES.c.res_id, cast(RES.c.content, JSONB).label("doc"))
    return inner.where(where).order_by(*order).offset(0).subquery()


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


@dataclass(frozen=True, slots=True)
class AlertMark:
    """What a list needs of one alert Flag to count and rank a child's open alerts."""

    flag_id: str
    patient_id: str | None  # the subject, when a local Patient
    active: bool
    severity: str | None  # the ``alert-severity`` code (None when it has none)


def alert_mark(flag: Mapping[str, Any]) -> AlertMark:
    """:class:`AlertMark` of a whole Flag (the reading :func:`alert_marks` does in SQL)."""
    return AlertMark(
        str(flag["id"]),
        ref_id(flag.get("subject") or {}, "Patient"),
        flag.get("status") == "active",
        flag_severity(flag),
    )


def alert_marks(txn: Transaction, params: Sequence[tuple[str, str]] = ()) -> list[AlertMark]:
    """:func:`alert_mark` of every Flag a search finds that the caller may see, read in the
    database: status, subject reference and the first ``…/alert-severity`` extension's code
    (SQLite: ``json_each`` over ``extension`` in array order; PostgreSQL:
    ``jsonb_path_query_first``), so no Flag leaves the database whole."""
    where, order = search_where(txn, "Flag", params)
    if txn.conn.dialect.name == "postgresql":  # the content as jsonb, as dbframes reads it
        sub = _as_jsonb(where)
        path = cast(literal(_PG_SEVERITY), JSONPATH)
        first = func.jsonb_path_query_first(sub.c.doc, path, type_=JSONB)
        stmt = select(
            sub.c.res_id,
            sub.c.doc["status"].astext,
            sub.c.doc[("subject", "reference")].astext,
            first["valueCode"].astext,
        ).order_by(sub.c.res_id)
    else:
        ext = func.json_each(RES.c.content, "$.extension").table_valued("key", "value").alias("e")
        url = func.json_extract(ext.c.value, "$.url")
        severity = (
            select(func.json_extract(ext.c.value, "$.valueCode"))
            .where(url.op("GLOB")(f"*{SEVERITY_SUFFIX}"))
            .order_by(ext.c.key)
            .limit(1)
            .scalar_subquery()
        )
        stmt = (
            select(
                RES.c.res_id,
                func.json_extract(RES.c.content, "$.status"),
                func.json_extract(RES.c.content, "$.subject.reference"),
                severity,
            )
            .where(where)
            .order_by(*order)
        )
    out = []
    for rid, status, subject, code in txn.conn.execute(stmt):
        patient = ref_id(subject, "Patient") if isinstance(subject, str) else None
        sev = None if code is None else str(code)
        out.append(AlertMark(str(rid), patient, status == "active", sev))
    return out
