"""Import a centre's measurement session (CSV/Excel) as ONE database transaction.

Steps: read and validate the file (:mod:`healthbridge.exchange.session_import`); match every
identifier to a child with one query on the Patient identifier index, restricted to the
children in the caller's reach (the access layer's visibility condition); build the Encounter
and Observations of each accepted row directly as resources with their ids
(:func:`healthbridge.exchange.session_bundle.session_resources`); extract their index rows
and run the business write validators (:meth:`Repository.prepare_create`, outside the write
lock); then create them all in one write transaction with the generic write path (access
checks, write hooks and the clinical pipeline): every accepted row is written, or — if
anything fails — nothing is, and the error names the file row.

Every resource passes the base-R4 door (:func:`healthbridge.fhir.r4.validate`) like any
write; they are then written on the store's *trusted* path: the server built them from rows
it validated itself, with builders the tests check against the profiles they claim
(``tests/healthbridge/exchange/test_session_bundle.py``), so the profile validator does not
run again per resource (it was most of the import's CPU, see bench/results/import.md).

There is no intermediate transaction Bundle: the former route built one (10,000 rows gave a
49 MB Bundle), rewrote its ``urn:uuid`` references and processed it entry by entry.

Re-importing a file creates nothing new: every resource carries its import identifier
(``{base}/sid/session-import``, ``<sha256>/<row>/<kind>``); the identifiers of the file already
stored are read with one index query before the write and again inside the write transaction,
which on PostgreSQL first takes a transaction-scoped advisory lock on the file's hash (on
SQLite write transactions are serialised anyway), so two uploads of one file never both write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Table, func, select

from healthbridge.errors import FhirError, ForbiddenError, Issue
from healthbridge.exchange.session_bundle import (
    SID_SESSION_IMPORT,
    SessionResource,
    session_resources,
)
from healthbridge.exchange.session_import import (
    ChildMatch,
    SessionImport,
    read_session,
    validate_session,
)
from healthbridge.fhir import r4
from healthbridge.fhir.searchparams import IndexRows
from healthbridge.store.gc_policy import bulk_pause
from healthbridge.store.hooks import RequestContext
from healthbridge.store.models import DATE_INDEX, TOKEN_INDEX
from healthbridge.store.repository import Repository, Transaction, new_id

TOK: Table = TOKEN_INDEX
DATES: Table = DATE_INDEX
#: Identifier values per query (keeps every IN list well under SQLite's variable limit).
MATCH_CHUNK: Final = 5000


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: the validation result and how many resources were created."""

    filename: str
    result: SessionImport
    created: int
    unchanged: int

    def report(self) -> dict[str, Any]:
        """The accepted/rejected report (both languages), JSON-ready."""
        rejected = [
            {
                "row": r.row_number,
                "identifier": r.identifier,
                "problems": [
                    {
                        "reason": str(p.reason),
                        "field": p.field,
                        "message_zh": p.message("zh"),
                        "message_en": p.message("en"),
                    }
                    for p in r.problems
                ],
            }
            for r in self.result.rejected
        ]
        return {
            "file": self.filename,
            "sha256": self.result.sha256,
            "rows": len(self.result.accepted) + len(self.result.rejected),
            "accepted": len(self.result.accepted),
            "rejected": len(self.result.rejected),
            "created": self.created,
            "unchanged": self.unchanged,
            "accepted_rows": [
                {"row": a.row_number, "identifier": a.identifier, "patient": a.patient_reference}
                for a in self.result.accepted
            ],
            "rejected_rows": rejected,
        }


def _text(value: Any) -> str:
    """An identifier cell as text, as the validator reads it (Excel stores numbers as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), MATCH_CHUNK):
        yield values[start : start + MATCH_CHUNK]


def _match_in(txn: Transaction, identifiers: set[str]) -> dict[str, ChildMatch]:
    found: dict[str, set[str]] = {}
    births: dict[str, dt.date | None] = {}
    if txn.restricted:
        assert txn.context.access is not None
        txn.context.access.check("search", "Patient")
    visible = txn.visible_clause(TOK.c.res_type, TOK.c.res_id)
    birth = (
        select(DATES.c.low)
        .where(
            DATES.c.res_type == "Patient",
            DATES.c.res_id == TOK.c.res_id,
            DATES.c.param == "birthdate",
        )
        .limit(1)
        .scalar_subquery()
    )
    for chunk in _chunks(sorted(identifiers)):
        stmt = select(TOK.c.code, TOK.c.res_id, birth.label("birth")).where(
            TOK.c.res_type == "Patient",
            TOK.c.param == "identifier",
            TOK.c.code.in_(chunk),
        )
        if visible is not None:
            stmt = stmt.where(visible)
        for code, res_id, low in txn.conn.execute(stmt):
            found.setdefault(str(code), set()).add(str(res_id))
            births[str(res_id)] = _birth(low)
    return {
        value: ChildMatch(f"Patient/{only}", births.get(only))
        for value, ids in found.items()
        if len(ids) == 1
        for only in ids
    }


def _birth(low: Any) -> dt.date | None:
    """The birth date from the date index (the low end of ``birthDate``'s range)."""
    if isinstance(low, dt.datetime):
        return low.date()
    if isinstance(low, str) and len(low) >= 10:
        try:
            return dt.date.fromisoformat(low[:10])
        except ValueError:
            return None
    return None


def match_children(
    repo: Repository, context: RequestContext, identifiers: set[str]
) -> dict[str, ChildMatch]:
    """Identifier value → child, for identifiers matching exactly one Patient in reach.

    One query on the identifier token index (joined to the birth-date index) per
    :data:`MATCH_CHUNK` identifiers, filtered by the caller's visibility condition: the same
    children a Patient ``identifier`` search would find, without reading their records.
    """
    with repo.transaction(context, write=False, plain=True) as txn:
        return _match_in(txn, identifiers)


def _stored_identifiers(conn: Connection, sha256: str) -> dict[str, str]:
    """Import identifier → ``Type/id`` of the resources an earlier import of the file wrote.

    The values all start with ``<sha256>/``: a range on the token index (``/`` sorts just
    before ``0``), which its (type, param, code, system) index answers.
    """
    stmt = select(TOK.c.code, TOK.c.res_type, TOK.c.res_id).where(
        TOK.c.res_type.in_(("Encounter", "Observation")),
        TOK.c.param == "identifier",
        TOK.c.code >= f"{sha256}/",
        TOK.c.code < f"{sha256}0",
        TOK.c.system == SID_SESSION_IMPORT,
    )
    return {str(code): f"{rtype}/{rid}" for code, rtype, rid in conn.execute(stmt)}


def _lock_file(conn: Connection, sha256: str) -> None:
    """Serialise imports of one file across server processes (PostgreSQL advisory lock,
    released at commit); SQLite's ``BEGIN IMMEDIATE`` already serialises write transactions."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"session-import|{sha256}"))))


def _row_error(exc: FhirError, item: SessionResource) -> FhirError:
    """``exc`` with its issues naming the file row and the resource kind."""
    exc.issues = tuple(
        Issue(
            i.severity,
            i.code,
            f"Row {item.row_number} ({item.kind}): {i.diagnostics}",
            i.expression,
        )
        for i in exc.issues
    )
    return exc


def _prepare(
    repo: Repository, context: RequestContext, items: Sequence[SessionResource]
) -> list[IndexRows]:
    prepared = []
    for item in items:
        try:
            r4.validate(item.resource)  # the door: base R4, as for every write
            prepared.append(repo.prepare_create(item.resource, context, trusted=True))
        except FhirError as exc:
            raise _row_error(exc, item) from None
    return prepared


def write_session(
    repo: Repository,
    context: RequestContext,
    result: SessionImport,
    *,
    centre_reference: str | None = None,
    performer_reference: str | None = None,
) -> tuple[int, int]:
    """Create the resources of every accepted row in one transaction; ``(created,
    unchanged)``, unchanged counting the resources an earlier import already wrote."""
    if not result.accepted:
        return 0, 0
    with bulk_pause():  # pauses only in a batch process (the CLI), never in a server
        return _write_session(repo, context, result, centre_reference, performer_reference)


def _write_session(
    repo: Repository,
    context: RequestContext,
    result: SessionImport,
    centre_reference: str | None,
    performer_reference: str | None,
) -> tuple[int, int]:
    with repo.transaction(context, write=False, plain=True) as txn:
        before = _stored_identifiers(txn.conn, result.sha256)
    items = session_resources(
        result,
        new_id=new_id,
        existing=before,
        centre_reference=centre_reference,
        performer_reference=performer_reference,
    )
    total = len(items) + len(before)
    prepared = _prepare(repo, context, items)
    with repo.transaction(context, write=True) as txn, txn.write_behind():
        _lock_file(txn.conn, result.sha256)
        if _stored_identifiers(txn.conn, result.sha256).keys() != before.keys():
            # another upload of the same file got in between: rebuild against what it wrote
            now = _stored_identifiers(txn.conn, result.sha256)
            items = session_resources(
                result,
                new_id=new_id,
                existing=now,
                centre_reference=centre_reference,
                performer_reference=performer_reference,
            )
            total = len(items) + len(now)
            prepared = _prepare(repo, context, items)
        for item, rows in zip(items, prepared, strict=True):
            try:
                txn.create(
                    item.resource, assigned_id=item.resource["id"], prepared=rows, trusted=True
                )
            except FhirError as exc:
                raise _row_error(exc, item) from None
    return len(items), total - len(items)


def session_parties(
    repo: Repository, context: RequestContext, centre: str | None, performer: str | None
) -> tuple[str | None, str | None]:
    """The session's centre and performer, checked against the caller (403 otherwise).

    For staff (health manager, centre staff, paediatrician) the centre defaults to — and must
    be — their organisation, and the performer defaults to their PractitionerRole (the token's
    ``fhirUser``) and must be it or its Practitioner: a form cannot put another centre or
    another person's name on the measurements. Internal work and the system and admin roles
    keep what they send.
    """
    from healthbridge.access.authn import PRACTITIONER_ROLES
    from healthbridge.access.control import principal_of

    with repo.transaction(context, write=False, plain=True) as txn:
        who = principal_of(txn)
        if who is None or who.role not in PRACTITIONER_ROLES:
            return centre, performer
        if centre not in (None, who.organization):
            raise ForbiddenError(
                f"导入只能记在本机构 {who.organization} / A session is recorded for your own "
                f"organisation ({who.organization}), not {centre}"
            )
        mine = {who.fhir_user} if who.fhir_user else set()
        if who.fhir_user and who.fhir_user.startswith("PractitionerRole/"):
            with txn.as_server():
                role = txn.read("PractitionerRole", who.fhir_user.partition("/")[2]).resource
            practitioner = (role or {}).get("practitioner") or {}
            if isinstance(practitioner.get("reference"), str):
                mine.add(practitioner["reference"])
        if performer is not None and performer not in mine:
            raise ForbiddenError(
                f"测量者只能是您本人 / The performer must be yourself, not {performer}"
            )
        return who.organization, performer or who.fhir_user


def import_session_file(
    repo: Repository,
    context: RequestContext,
    content: bytes,
    filename: str,
    *,
    centre_reference: str | None = None,
    performer_reference: str | None = None,
    today: dt.date | None = None,
) -> ImportOutcome:
    """Validate, match and write one session file (see module docstring)."""
    centre_reference, performer_reference = session_parties(
        repo, context, centre_reference, performer_reference
    )
    table = read_session(content, filename)
    identifiers = {
        _text(cells["identifier"])
        for _row, cells in table.rows
        if cells.get("identifier") is not None
    }
    identifiers.discard("")
    matches = match_children(repo, context, identifiers)
    result = validate_session(table, matches.get, today=today or dt.date.today())
    created, unchanged = write_session(
        repo,
        context,
        result,
        centre_reference=centre_reference,
        performer_reference=performer_reference,
    )
    return ImportOutcome(filename, result, created, unchanged)
