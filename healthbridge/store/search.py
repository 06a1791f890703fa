"""Translate a parsed :class:`~healthbridge.fhir.query.SearchQuery` into SQL.

Each filter becomes ``resource.res_id IN (SELECT res_id FROM idx_<type> WHERE ...)``; values of
one parameter are ORed, parameters are ANDed (FHIR R4 search §3.1.1.1). Date matching follows
the range semantics of §3.1.1.4.2 (the resource's value is a range, so is the search value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, false, func, not_, or_, select, true

from healthbridge.errors import BadRequestError
from healthbridge.fhir.query import Filter, SearchQuery, split_prefix
from healthbridge.fhir.searchparams import SearchParam
from healthbridge.fhir.values import date_range, decimal_range, fold
from healthbridge.store.models import INDEX_TABLES, ResourceRow
from healthbridge.store.partition import audit_date_floor

R: Table = ResourceRow.__table__  # type: ignore[attr-defined]
#: ``visible(type_column, id_column)``: the caller's visibility condition (None: everything).
Visibility = Callable[[Any, Any], "ColumnElement[bool] | None"]


def _everything(_type_col: Any, _id_col: Any) -> ColumnElement[bool] | None:
    return None


def index_table(kind: str) -> Table:
    """The index table for parameter type ``kind``."""
    return INDEX_TABLES[kind]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _date_clause(low: Any, high: Any, prefix: str, value: str) -> ColumnElement[bool]:
    try:
        pl, ph = date_range(value)
    except ValueError as exc:
        raise BadRequestError(f"Invalid date {value!r}") from exc
    contained = and_(low >= pl, high <= ph)
    clauses: dict[str, ColumnElement[bool]] = {
        "eq": contained,
        "ne": not_(contained),
        "gt": high > ph,
        "lt": low < pl,
        "ge": high >= pl,
        "le": low <= ph,
        "sa": low > ph,
        "eb": high < pl,
        "ap": and_(low <= ph, high >= pl),
    }
    return clauses[prefix]


def _number_clause(column: Any, prefix: str, raw: str) -> ColumnElement[bool]:
    v, lo, hi = decimal_range(raw)
    in_range = and_(column >= lo, column < hi)
    margin = abs(v) * 0.1
    clauses: dict[str, ColumnElement[bool]] = {
        "eq": in_range,
        "ne": not_(in_range),
        "gt": column > v,
        "lt": column < v,
        "ge": column >= v,
        "le": column <= v,
        "sa": column > v,
        "eb": column < v,
        "ap": and_(column >= v - margin, column <= v + margin),
    }
    return clauses[prefix]


def _value_clause(
    param: SearchParam, table: Table, value: str, flt: Filter, base_url: str
) -> ColumnElement[bool]:
    c = table.c
    kind = param.type
    if kind == "token":
        if "|" in value:
            system, _, code = value.partition("|")
            if not system:
                return and_(c.system.is_(None), c.code == code)
            if not code:
                return c.system == system
            return and_(c.system == system, c.code == code)
        return c.code == value
    if kind == "string":
        if flt.modifier == "exact":
            return c.exact == value
        pattern = _like_escape(fold(value))
        if flt.modifier == "contains":
            return c.value.like(f"%{pattern}%", escape="\\")
        return c.value.like(f"{pattern}%", escape="\\")
    if kind == "date":
        prefix, rest = split_prefix(value, kind)
        return _date_clause(c.low, c.high, prefix, rest)
    if kind == "reference":
        ref = value
        if base_url and ref.startswith(base_url.rstrip("/") + "/"):
            ref = ref[len(base_url.rstrip("/")) + 1 :]
        parts = ref.split("/")
        if flt.target_type is not None:
            return and_(c.target_type == flt.target_type, c.target_id == parts[-1])
        if len(parts) == 2 and parts[0][:1].isupper():
            return and_(c.target_type == parts[0], c.target_id == parts[1])
        if len(parts) == 1:
            return or_(c.target_id == ref, c.url == ref)
        return c.url == value
    if kind == "quantity":
        prefix, rest = split_prefix(value, kind)
        number, _, unit = rest.partition("|")
        clause = _number_clause(c.value, prefix, number)
        if unit:
            system, _, code = unit.partition("|")
            if system:
                clause = and_(clause, c.system == system)
            if code:
                clause = and_(clause, c.code == code)
        return clause
    if kind == "number":
        prefix, rest = split_prefix(value, kind)
        return _number_clause(c.value, prefix, rest)
    if kind == "uri":
        return c.value == value
    raise BadRequestError(f"Unsupported parameter type {kind}")


def _visible_ids(target: str, visible: Visibility) -> Select[Any] | None:
    """``SELECT res_id`` of the ``target`` resources the caller may see (None: all)."""
    row = R.alias()
    seen = visible(row.c.res_type, row.c.res_id)
    if seen is None:
        return None
    return select(row.c.res_id).where(row.c.res_type == target, seen)


def param_rows(table: Table, param: SearchParam) -> ColumnElement[bool]:
    """The index rows of ``param``: its own, or its parts' for a union of parameters
    (:attr:`~healthbridge.fhir.searchparams.SearchParam.union_of`), only those whose target
    is of the type a restricted reference parameter names (``restricted_to``)."""
    codes = param.index_codes
    clause = table.c.param == codes[0] if len(codes) == 1 else table.c.param.in_(codes)
    if param.restricted_to is not None:
        clause = and_(clause, table.c.target_type == param.restricted_to)
    return clause


def matching_ids(
    resource_type: str, flt: Filter, base_url: str, visible: Visibility = _everything
) -> tuple[Select[Any], bool]:
    """``(SELECT res_id ..., negate)`` for one filter on index tables.

    A chained parameter only looks at targets the caller may see (``visible``), so that a
    chain through a visible resource cannot probe the content of one out of reach.
    """
    param = flt.param
    if flt.chain is not None:
        ref = index_table("reference")
        options = []
        for target, child in flt.chain.param_by_type.items():
            inner_filter = Filter(child, None, flt.values)
            inner, negate = matching_ids(target, inner_filter, base_url, visible)
            restricted = _visible_ids(target, visible)
            if restricted is not None:
                # the caller may not see every target: keep only visible ones
                owner = inner.selected_columns[0]
                inner = inner.where(owner.in_(restricted))
                if negate:
                    negate = False
                    outer = _visible_ids(target, visible)
                    assert outer is not None
                    inner = outer.where(outer.selected_columns[0].not_in(inner))
            target_clause = ref.c.target_id.in_(inner)
            options.append(
                and_(ref.c.target_type == target, not_(target_clause) if negate else target_clause)
            )
        stmt = select(ref.c.res_id).where(
            ref.c.res_type == resource_type, param_rows(ref, param), or_(*options)
        )
        return stmt, False
    table = index_table(param.type)
    base = select(table.c.res_id).where(table.c.res_type == resource_type, param_rows(table, param))
    if flt.modifier == "missing":
        return base, flt.values[0] == "true"
    pairs = _typed_references(flt, base_url) if param.type == "reference" else None
    if pairs is not None and len(pairs) > 1:
        # ``subject=Patient/a,Patient/b,…``: ``target_id IN (…)`` per target type seeks the
        # lookup index (res_type, param, target_id, …) once per id; ORed (type AND id) pairs
        # let SQLite bind only (res_type, param) and scan every reference of the parameter
        # (4 s for 100 children's Observations at 10,000 children, 35 ms for one)
        by_type: dict[str, list[str]] = {}
        for rtype, rid in pairs:
            by_type.setdefault(rtype, []).append(rid)
        c = table.c
        grouped = [and_(c.target_type == t, c.target_id.in_(ids)) for t, ids in by_type.items()]
        return base.where(or_(*grouped)), flt.modifier == "not"
    clauses = [_value_clause(param, table, v, flt, base_url) for v in flt.values]
    return base.where(or_(*clauses)), flt.modifier == "not"


def _typed_references(flt: Filter, base_url: str) -> list[tuple[str, str]] | None:
    """The (type, id) of each value of a reference filter, as :func:`_value_clause` matches
    them; None when a value is matched otherwise (a bare id, a URL)."""
    pairs = []
    for value in flt.values:
        ref = value
        if base_url and ref.startswith(base_url.rstrip("/") + "/"):
            ref = ref[len(base_url.rstrip("/")) + 1 :]
        parts = ref.split("/")
        if flt.target_type is not None:
            pairs.append((flt.target_type, parts[-1]))
        elif len(parts) == 2 and parts[0][:1].isupper():
            pairs.append((parts[0], parts[1]))
        else:
            return None
    return pairs


_DRIVER_PRIORITY = {"reference": 0, "token": 1, "string": 2, "uri": 2, "quantity": 3, "number": 3}


def _priority(flt: Filter) -> int:
    if flt.modifier in ("missing", "not"):
        return 9
    if flt.param.code == "identifier" or flt.chain is not None:
        return 0
    return _DRIVER_PRIORITY.get(flt.param.type, 5)


def _probe(
    resource_type: str, flt: Filter, stmt: Select[Any], base_url: str, visible: Visibility
) -> ColumnElement[bool]:
    """A correlated ``EXISTS`` probe: does the current resource match ``flt``?

    A filter with several values (``code=a,b``) becomes one probe per value, ORed: each probe
    binds every column of the lookup index (res_type, param, value..., res_id), whereas one
    probe with ORed values lets the planner bind only (res_type, param) and scan every index
    row of the parameter per candidate resource (seconds on 500,000 Observations).

    Each probe is fenced with ``OFFSET 0`` so that it stays a correlated probe: PostgreSQL
    otherwise turns an ``EXISTS`` into a semi-join it may order freely, and when its
    statistics say a type has (almost) no rows — a new district's first morning, before
    autovacuum analyses the growing tables — it ran the probe's index scan *unbound* for every
    candidate (a nested loop with the ``res_id`` equality as a join filter: quadratic, 7.9 s
    per centre for one morning's 2,500 checks, against 77 ms fenced and 0.8 ms once
    analysed; docs/pipeline.md, "The morning burst on PostgreSQL"). An ``EXISTS`` with an
    ``OFFSET`` is not pulled up into a join (PostgreSQL's ``simplify_EXISTS_query``), so
    each candidate binds ``res_id`` in the owner index whatever the statistics say; SQLite
    runs every ``EXISTS`` as a correlated subquery anyway.
    """
    if len(flt.values) > 1 and flt.chain is None and flt.modifier is None:
        probes = []
        for value in flt.values:
            one, _negate = matching_ids(
                resource_type, replace(flt, values=(value,)), base_url, visible
            )
            probes.append(_fenced(one.where(one.selected_columns[0] == R.c.res_id)))
        return or_(*probes)
    owner = stmt.selected_columns[0]
    return _fenced(stmt.where(owner == R.c.res_id))


def _fenced(probe: Select[Any]) -> ColumnElement[bool]:
    """``EXISTS (probe OFFSET 0)``: kept a correlated subquery (see :func:`_probe`)."""
    return probe.offset(0).exists()


def where_clause(
    query: SearchQuery, base_url: str, *, visible: Visibility = _everything
) -> ColumnElement[bool]:
    """The WHERE clause on the resource table for all filters of ``query``.

    The most selective-looking filter (references, identifiers) drives the query as
    ``res_id IN (...)``; the others are correlated ``EXISTS`` probes on the owner indexes, so
    a common value (e.g. the weight code on 500,000 Observations) is never materialised.
    """
    parts: list[ColumnElement[bool]] = [
        R.c.res_type == query.resource_type,
        R.c.deleted == false(),
    ]
    seen = visible(R.c.res_type, R.c.res_id)
    if seen is not None:
        parts.append(seen)
    parts.extend(audit_date_floor(query))  # partition pruning (store.partition)
    driver_used = False
    for flt in sorted(query.filters, key=_priority):
        code = flt.param.code
        if code == "_id":
            ids = R.c.res_id.in_(list(flt.values))
            parts.append(not_(ids) if flt.modifier == "not" else ids)
        elif code == "_lastUpdated":
            ors = []
            for v in flt.values:
                prefix, rest = split_prefix(v, "date")
                ors.append(_date_clause(R.c.last_updated, R.c.last_updated, prefix, rest))
            parts.append(or_(*ors))
        else:
            stmt, negate = matching_ids(query.resource_type, flt, base_url, visible)
            clause: ColumnElement[bool]
            if not driver_used and not negate:
                clause = R.c.res_id.in_(stmt)
                driver_used = True
            else:
                clause = _probe(query.resource_type, flt, stmt, base_url, visible)
            parts.append(not_(clause) if negate else clause)
    return and_(true(), *parts)


def order_by(query: SearchQuery) -> list[Any]:
    """ORDER BY expressions for ``_sort`` (always ending with ``res_id`` for stable paging)."""
    out: list[Any] = []
    for param, desc in query.sort:
        if param.code == "_id":
            col: Any = R.c.res_id
        elif param.code == "_lastUpdated":
            col = R.c.last_updated
        else:
            table = index_table(param.type)
            column = {
                "date": getattr(table.c, "high" if desc else "low", None),
                "string": getattr(table.c, "value", None),
                "token": getattr(table.c, "code", None),
                "number": getattr(table.c, "value", None),
                "quantity": getattr(table.c, "value", None),
                "uri": getattr(table.c, "value", None),
            }[param.type]
            agg = func.max(column) if desc else func.min(column)
            col = (
                select(agg)
                .where(
                    table.c.res_type == R.c.res_type,
                    table.c.res_id == R.c.res_id,
                    param_rows(table, param),
                )
                .scalar_subquery()
            )
        out.append((col.desc() if desc else col.asc()).nulls_last())
    out.append(R.c.res_id.asc())
    return out
