"""Audit of every access to children's data, in the same database transaction.

:func:`install` registers three store hooks: a read hook and a write interceptor collect the
child records the caller read, found by search, wrote or deleted; a commit hook writes one
AuditEvent per interaction kind of the request (listing every record touched, as FHIR's
AuditEvent.entity allows) just before the transaction commits — so an access and its audit
record are committed together or not at all. Work the server does on its own authority
(derived data in interceptors, identity checks) is not the caller's access and is not
recorded separately. AuditEvents are never written through the API (see
:mod:`healthbridge.access.control`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Connection, select

from healthbridge.access.audit import audit_event
from healthbridge.access.control import CHILD_TYPES, PrincipalAccess
from healthbridge.access.tokens import Role
from healthbridge.store.access_tables import COMPARTMENT
from healthbridge.store.audit_index import extract_audit_event
from healthbridge.store.hooks import ReadEvent, StoreHooks, WriteEvent
from healthbridge.store.repository import Transaction

_KEY: Final = "healthbridge.audit"
_UNLISTED: Final = "healthbridge.audit.unlisted"
_CHUNK: Final = 500
#: AuditEvent subtype per store read interaction.
_READ_INTERACTIONS: Final[dict[str, str]] = {
    "read": "read",
    "vread": "vread",
    "search": "search-type",
    "history": "history-type",
    "operation": "operation",
}
#: Default purpose of use per role (v3 ActReason, :data:`healthbridge.access.audit.PURPOSES`).
PURPOSE_BY_ROLE: Final[dict[Role, str]] = {
    Role.PARENT: "patient-request",
    Role.HEALTH_MANAGER: "operations",
    Role.CENTRE_STAFF: "operations",
    Role.PAEDIATRICIAN: "treatment",
    Role.DISTRICT_OFFICIAL: "public-health",
    Role.SYSTEM: "treatment",
    Role.ADMIN: "system",
}


def _access(txn: Transaction) -> PrincipalAccess | None:
    access = txn.context.access
    return access if isinstance(access, PrincipalAccess) else None


def record_access(txn: Transaction, interaction: str, references: Iterable[str]) -> None:
    """Record that the caller accessed ``references`` (``Type/id``) by ``interaction``.

    For code outside the store that hands children's data out in another form: exports
    (``interaction="export"``), reports, PDFs. Written with the request's AuditEvents.
    """
    if _access(txn) is None:
        return
    log: dict[str, dict[str, None]] = txn.attributes.setdefault(_KEY, {})
    bucket = log.setdefault(interaction, {})
    for ref in references:
        bucket[ref] = None


@contextmanager
def reads_not_listed(txn: Transaction) -> Iterator[Transaction]:
    """A block whose reads are not named in the audit: the caller's reach still applies.

    For a list page that reads many records to search, sort and count them and shows one
    page of them (the paediatrician's list reads every shared child and every alert to put
    the most urgent first): the page then names what it *showed* with :func:`record_access`
    — FHIR AuditEvent.entity is the data accessed, and what a parent's access log should say
    is that a person saw their child, not that their child was among the thousands a sort
    went through (docs/access.md "Audit"). Writes inside the block are recorded as always.
    """
    txn.attributes[_UNLISTED] = txn.attributes.get(_UNLISTED, 0) + 1
    try:
        yield txn
    finally:
        txn.attributes[_UNLISTED] -= 1


def _on_read(txn: Transaction, event: ReadEvent) -> None:
    if txn.server_work or txn.attributes.get(_UNLISTED):
        return
    refs = [s.reference for s in event.resources if s.resource_type in CHILD_TYPES]
    if refs:
        record_access(txn, _READ_INTERACTIONS[event.interaction], refs)


def _on_write(txn: Transaction, event: WriteEvent) -> None:
    if event.stored.resource_type == "AuditEvent" or txn.elevated:
        return
    if event.stored.resource_type in CHILD_TYPES:
        record_access(txn, event.action, [event.stored.reference])


def _on_commit(txn: Transaction) -> None:
    access = _access(txn)
    log: dict[str, dict[str, None]] | None = txn.attributes.pop(_KEY, None)
    if access is None or not log:
        return
    who = access.principal
    ctx = txn.context
    txn.flush()  # compartment rows of records written in this transaction
    with txn.as_server():
        for interaction, refs in log.items():
            event = audit_event(
                who=who,
                interaction=interaction,
                entities=list(refs),
                purpose=PURPOSE_BY_ROLE[who.role],
                client_address=ctx.client_address,
                patients=patients_of(txn.conn, refs),
            )
            # built by the server from a tested template (tests/healthbridge/access/
            # test_audit.py validates it): index it without re-validating the model
            txn.create(event, prepared=extract_audit_event(event))


def _owners(conn: Connection, references: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(reference, Patient/id)`` for each child whose compartment holds a reference (from
    the ``compartment`` table; a deleted record keeps its last membership); a ``Patient``
    reference is its own owner."""
    by_type: dict[str, list[str]] = {}
    for ref in references:
        rtype, _, rid = ref.partition("/")
        if rtype == "Patient":
            yield ref, ref
        elif rtype in CHILD_TYPES and rid:
            by_type.setdefault(rtype, []).append(rid)
    for rtype, ids in by_type.items():
        for start in range(0, len(ids), _CHUNK):
            # no DISTINCT: with it SQLite walks ix_compartment_patient over every row of the
            # type (80 ms a search at 500,000 Observations) instead of seeking
            # ix_compartment_owner by id; the few duplicates are folded by the callers
            rows = conn.execute(
                select(COMPARTMENT.c.res_id, COMPARTMENT.c.patient_id).where(
                    COMPARTMENT.c.res_type == rtype,
                    COMPARTMENT.c.res_id.in_(ids[start : start + _CHUNK]),
                )
            ).all()
            for row in sorted(rows, key=lambda r: (r.patient_id, r.res_id)):
                yield f"{rtype}/{row.res_id}", f"Patient/{row.patient_id}"


def patients_of(conn: Connection, references: Iterable[str]) -> list[str]:
    """``Patient/id`` of every child whose compartment holds one of ``references``, in order
    (the references' own Patients first, then by type)."""
    return list(dict.fromkeys(owner for _ref, owner in _owners(conn, references)))


def records_of(conn: Connection, patient: str, references: Iterable[str]) -> set[str]:
    """Those of ``references`` that are the child ``patient`` (``Patient/id``) or lie in its
    compartment: what an AuditEvent naming several children disclosed about this one."""
    return {ref for ref, owner in _owners(conn, references) if owner == patient}


def install(hooks: StoreHooks) -> None:
    """Register the audit hooks on ``hooks``."""
    hooks.add_read_hook(_on_read)
    hooks.add_interceptor(_on_write)
    hooks.add_commit_hook(_on_commit)


def audited(hooks: StoreHooks) -> bool:
    """Whether :func:`install` ran on ``hooks``."""
    return _on_commit in hooks.commit_hooks
