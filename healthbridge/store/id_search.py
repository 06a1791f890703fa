"""A search's WHERE clause, for reads that do not return whole documents.

For the server's own list pages that must count, filter and sort thousands of records but
show a page of them (the paediatrician's list at 10,000 children: ~23,000 records): the same
parse, access check and reach rules (:meth:`Transaction.visible_clause
<healthbridge.store.transaction.Transaction.visible_clause>`) as :func:`healthbridge.store.
reads.search`, for the caller to select only the few fields it needs in the database
(:mod:`healthbridge.inputs.elements`). No read hook runs (fields are read, not records): the
page names what it shows in the audit (docs/access.md "Audit").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement

from healthbridge.fhir.query import parse_search
from healthbridge.store import search as sql
from healthbridge.store.stored import check_type

if TYPE_CHECKING:
    from healthbridge.store.transaction import Transaction


def search_where(
    txn: Transaction, resource_type: str, params: Sequence[tuple[str, str]]
) -> tuple[ColumnElement[bool], list[Any]]:
    """The WHERE clause on the resource table (:data:`healthbridge.store.stored.RES`) and
    the ORDER BY of a search given as key/value pairs (no ``_count`` paging, no
    ``_include``), after the search's access check."""
    check_type(resource_type)
    query = parse_search(
        resource_type, params, default_count=txn.default_count, max_count=txn.max_count
    )
    txn._check("search", resource_type)
    txn.flush()
    return sql.where_clause(query, txn.base_url, visible=txn.visible_clause), sql.order_by(query)
