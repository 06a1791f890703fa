"""Reads beyond a single resource: history, search (with includes) and ``$everything``.

The functions behind :meth:`Transaction.history`, :meth:`Transaction.search` and
:meth:`Transaction.everything <healthbridge.store.transaction.Transaction.everything>`
(http://hl7.org/fhir/R4/http.html#history, search.html, patient-operation-everything.html);
each runs on the transaction's connection with its access control and read hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from healthbridge.errors import BadRequestError, Issue, NotFoundError
from healthbridge.fhir import r4
from healthbridge.fhir.query import SearchQuery, parse_search
from healthbridge.fhir.values import date_range
from healthbridge.store import search as sql
from healthbridge.store.stored import (
    RES,
    VER,
    SearchResult,
    StoredResource,
    check_type,
    from_row,
    versions,
)

if TYPE_CHECKING:
    from healthbridge.store.transaction import Transaction


def history(
    txn: Transaction,
    resource_type: str | None = None,
    resource_id: str | None = None,
    *,
    since: str | None = None,
    count: int | None = None,
    offset: int = 0,
) -> tuple[list[StoredResource], int]:
    """Versions newest first (instance, type or system level) and the total count."""
    if resource_type is not None:
        check_type(resource_type)
    txn._check("history", resource_type)
    txn.flush()
    conds = []
    if resource_type is not None:
        conds.append(VER.c.res_type == resource_type)
    if resource_id is not None:
        conds.append(VER.c.res_id == resource_id)
        if txn._current(str(resource_type), resource_id) is None:
            raise NotFoundError(f"{resource_type}/{resource_id} not found")
        if txn.restricted:
            txn._hide(str(resource_type), resource_id)
    else:
        seen = txn.visible_clause(VER.c.res_type, VER.c.res_id)
        if seen is not None:
            conds.append(seen)
    if since is not None:
        try:
            conds.append(VER.c.last_updated >= date_range(since)[0])
        except ValueError as exc:
            raise BadRequestError(f"Invalid _since {since!r}") from exc
    total = txn.conn.execute(select(func.count()).select_from(VER).where(*conds)).scalar_one()
    limit = min(count or txn.default_count, txn.max_count)
    rows = txn.conn.execute(
        versions()
        .where(*conds)
        .order_by(VER.c.last_updated.desc(), VER.c.version_id.desc(), VER.c.res_id)
        .limit(limit)
        .offset(offset)
    ).all()
    items = [from_row(r, method=r.method) for r in rows]
    txn._read_hook("history", resource_type, [i for i in items if not i.deleted])
    return items, int(total)


def search_params(
    txn: Transaction,
    resource_type: str,
    params: Sequence[tuple[str, str]],
    *,
    lenient: bool = False,
) -> SearchResult:
    """Parse and run a search given as key/value pairs."""
    check_type(resource_type)
    query = parse_search(
        resource_type,
        params,
        default_count=txn.default_count,
        max_count=txn.max_count,
        lenient=lenient,
    )
    return search(txn, query)


def search(txn: Transaction, query: SearchQuery) -> SearchResult:
    """Run a parsed search (only what the caller may see: totals and pages included)."""
    txn._check("search", query.resource_type)
    txn.flush()
    where = sql.where_clause(query, txn.base_url, visible=txn.visible_clause)
    total: int | None = None
    matches: list[StoredResource] = []
    if query.summary != "count" and query.count > 0:
        rows = txn.conn.execute(
            select(RES)
            .where(where)
            .order_by(*sql.order_by(query))
            .limit(query.count)
            .offset(query.offset)
        ).all()
        matches = [from_row(r) for r in rows]
        if len(rows) < query.count and (rows or query.offset == 0):
            # a short page holds the last match: the total needs no second query
            total = query.offset + len(rows)
    if total is None and query.total != "none":
        total = txn.conn.execute(select(func.count()).select_from(RES).where(where)).scalar_one()
    included = includes(txn, query, matches) if matches else []
    issues = [
        Issue("warning", "not-supported", f"Search parameter {name!r} was ignored")
        for name in query.ignored
    ]
    txn._read_hook("search", query.resource_type, matches + included)
    return SearchResult(matches, included, total, query, issues)


def fetch(txn: Transaction, refs: set[tuple[str, str]]) -> list[StoredResource]:
    """The current, visible, not deleted resources of ``(type, id)`` pairs."""
    out: list[StoredResource] = []
    by_type: dict[str, list[str]] = {}
    for t, i in refs:
        by_type.setdefault(t, []).append(i)
    seen = txn.visible_clause(RES.c.res_type, RES.c.res_id)
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
            rows = txn.conn.execute(select(RES).where(*conds)).all()
            out.extend(from_row(r) for r in rows)
    return out


def includes(
    txn: Transaction, query: SearchQuery, matches: list[StoredResource]
) -> list[StoredResource]:
    """The resources ``_include``\\ d and ``_revinclude``\\ d by a page of matches."""
    ref = sql.index_table("reference")
    seen = {(m.resource_type, m.id) for m in matches}
    wanted: set[tuple[str, str]] = set()
    ids = [m.id for m in matches]
    for inc in query.includes:
        conds = [ref.c.res_type == query.resource_type, ref.c.res_id.in_(ids)]
        if inc.param is not None:
            conds.append(sql.param_rows(ref, inc.param))
        if inc.target_type:
            conds.append(ref.c.target_type == inc.target_type)
        for row in txn.conn.execute(select(ref.c.target_type, ref.c.target_id).where(*conds)):
            if row.target_type and r4.is_supported(row.target_type):
                wanted.add((row.target_type, row.target_id))
    for inc in query.revincludes:
        conds = [
            ref.c.res_type == inc.source_type,
            ref.c.target_type == query.resource_type,
            ref.c.target_id.in_(ids),
        ]
        if inc.param is not None:
            conds.append(sql.param_rows(ref, inc.param))
        for row in txn.conn.execute(select(ref.c.res_id).where(*conds)):
            wanted.add((inc.source_type, row.res_id))
    return fetch(txn, wanted - seen)


def everything(
    txn: Transaction,
    patient_id: str,
    *,
    types: set[str] | None = None,
    page: tuple[int, int] | None = None,
) -> list[StoredResource]:
    """``Patient/[id]/$everything``: the patient, everything referring to it, and what
    those resources refer to (practitioners, organisations, encounters ...). ``page``
    ``(offset, count)`` returns only that slice of a stable order (the whole count is then
    left in ``attributes["everything_total"]``)."""
    patient = txn.read("Patient", patient_id)
    ref = sql.index_table("reference")
    txn.flush()
    rows = txn.conn.execute(
        select(ref.c.res_type, ref.c.res_id)
        .where(ref.c.target_type == "Patient", ref.c.target_id == patient_id)
        .distinct()
    ).all()
    compartment = fetch(txn, {(r.res_type, r.res_id) for r in rows})
    seen = {("Patient", patient_id)} | {(c.resource_type, c.id) for c in compartment}
    linked: set[tuple[str, str]] = set()
    sources = [patient, *compartment]
    for chunk_start in range(0, len(sources), 500):
        chunk = sources[chunk_start : chunk_start + 500]
        for rtype in {c.resource_type for c in chunk}:
            ids = [c.id for c in chunk if c.resource_type == rtype]
            for row in txn.conn.execute(
                select(ref.c.target_type, ref.c.target_id).where(
                    ref.c.res_type == rtype, ref.c.res_id.in_(ids)
                )
            ):
                if row.target_type and r4.is_supported(row.target_type):
                    linked.add((row.target_type, row.target_id))
    extra = fetch(txn, linked - seen)
    out = [patient, *compartment, *extra]
    if types is not None:
        out = [s for s in out if s.resource_type in types]
    if page is None:
        txn._read_hook("operation", "Patient", out)
        return out
    # a page: the patient first, the rest in (type, id) order, so pages do not overlap
    out = out[:1] + sorted(out[1:], key=lambda s: (s.resource_type, s.id))
    offset, count = page
    shown = out[offset : offset + count]
    txn._read_hook("operation", "Patient", shown)
    txn.attributes["everything_total"] = len(out)
    return shown
