"""Physical removal of resources: every version and every derived row (``$expunge``, purge).

A FHIR ``DELETE`` keeps the history (a tombstone version after the old ones), as R4 requires
for version-aware servers; the right to erasure (PIPL Art. 47) and retention limits need the
data gone. These functions remove, in the caller's transaction, a resource's current row,
all its versions, its search-index rows, its compartment and patient-link rows and its
rule-input row — nothing that can rebuild its content is left. Semantics follow HAPI FHIR's
``$expunge`` (https://hapifhir.io/hapi-fhir/docs/server_jpa/configuration.html#expunge —
``expungeDeletedResources``, ``expungePreviousVersions``); access checks and the audit record
are the caller's (:mod:`healthbridge.access.retention`, the ``$expunge`` operation).

Hand-written: the store's tables are our own schema, so no library knows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, delete, func, select, tuple_

from healthbridge.fhir.searchparams import INDEXED_TYPES
from healthbridge.store import access_tables, rule_inputs
from healthbridge.store import search as sql
from healthbridge.store.models import ResourceRow, ResourceVersionRow

if TYPE_CHECKING:
    from healthbridge.store.repository import Transaction

RES: Table = ResourceRow.__table__  # type: ignore[attr-defined]
VERSIONS: Table = ResourceVersionRow.__table__  # type: ignore[attr-defined]


def expunge(txn: Transaction, refs: Iterable[tuple[str, str]]) -> int:
    """Remove every trace of the resources ``(type, id)``; the number of versions removed.

    For a Patient, the compartment and patient-link rows *about* that patient go too."""
    txn.flush()
    conn = txn.conn
    removed = 0
    for rtype, rid in refs:
        removed += conn.execute(
            delete(VERSIONS).where(VERSIONS.c.res_type == rtype, VERSIONS.c.res_id == rid)
        ).rowcount
        conn.execute(delete(RES).where(RES.c.res_type == rtype, RES.c.res_id == rid))
        for kind in INDEXED_TYPES:
            table = sql.index_table(kind)
            conn.execute(delete(table).where(table.c.res_type == rtype, table.c.res_id == rid))
        access_tables.clear(conn, rtype, rid, compartment=True)
        if rtype == "Patient":
            comp, link = access_tables.COMPARTMENT, access_tables.LINK
            conn.execute(delete(comp).where(comp.c.patient_id == rid))
            conn.execute(delete(link).where(link.c.patient_id == rid))
        if rtype in rule_inputs.TYPES:
            ri = rule_inputs.RULE_INPUT
            conn.execute(delete(ri).where(ri.c.res_type == rtype, ri.c.res_id == rid))
    return removed


def expunge_previous_versions(txn: Transaction, resource_type: str | None = None) -> int:
    """Remove every non-current version (of ``resource_type``, or of all types); the count.

    The current version (and a deleted resource's tombstone) stays."""
    txn.flush()
    current = select(RES.c.res_type, RES.c.res_id, RES.c.version_id)
    cond: Any = tuple_(VERSIONS.c.res_type, VERSIONS.c.res_id, VERSIONS.c.version_id).not_in(
        current
    )
    if resource_type is not None:
        cond = and_(VERSIONS.c.res_type == resource_type, cond)
    return int(txn.conn.execute(delete(VERSIONS).where(cond)).rowcount)


def deleted_resources(
    txn: Transaction, resource_type: str | None = None, before: str | None = None
) -> list[tuple[str, str]]:
    """``(type, id)`` of the deleted resources (tombstones) of ``resource_type`` (all types
    when None), deleted before the index instant ``before`` when given."""
    txn.flush()
    query = select(RES.c.res_type, RES.c.res_id).where(RES.c.deleted.is_(True))
    if resource_type is not None:
        query = query.where(RES.c.res_type == resource_type)
    if before is not None:
        query = query.where(RES.c.last_updated < before)
    return [(r.res_type, r.res_id) for r in txn.conn.execute(query.order_by(RES.c.res_type))]


def version_count(txn: Transaction, rtype: str, rid: str) -> int:
    """How many versions of one resource are stored (0 once expunged)."""
    txn.flush()
    return int(
        txn.conn.execute(
            select(func.count()).where(VERSIONS.c.res_type == rtype, VERSIONS.c.res_id == rid)
        ).scalar_one()
    )
