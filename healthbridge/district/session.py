"""Import a centre's measurement session (CSV/Excel) as ONE FHIR transaction.

Steps: read and validate the file (:mod:`healthbridge.exchange.session_import`), match each
identifier to a child with a Patient ``identifier`` search run as the caller (so the access
layer's read hooks decide which children are in reach), build the transaction Bundle
(:func:`healthbridge.exchange.session_bundle.session_bundle`) and post it through the server's
transaction processing (:func:`healthbridge.store.bundle.process`): every accepted row is
written, or — if anything fails at write time — nothing is (http://hl7.org/fhir/R4/http.html#trules).
Re-importing the same file creates nothing (conditional creates on the import identifiers).

Speed: a conditional create costs a search per entry inside the write transaction. When none
of the file's rows was imported before (one batched search over the rows' Encounter
identifiers), the entries are posted as plain creates instead, which the transaction processor
validates before it takes the write lock. Imports of one file are serialised within the process
so two simultaneous uploads of the same file cannot both take that path; across several server
processes such a double upload could write the rows twice (findable by their
``sid/session-import`` identifiers).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Final

from healthbridge.exchange.session_bundle import (
    SID_SESSION_IMPORT,
    import_identifier,
    session_bundle,
)
from healthbridge.exchange.session_import import (
    ChildMatch,
    SessionImport,
    read_session,
    validate_session,
)
from healthbridge.store.bundle import process
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository

#: Identifiers per Patient search (an OR list of tokens).
MATCH_CHUNK: Final = 200
_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(sha256: str) -> threading.Lock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(sha256, threading.Lock())


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


def _escape(value: str) -> str:
    """FHIR search escaping (http://hl7.org/fhir/R4/search.html#escaping)."""
    for ch in ("\\", ",", "$", "|"):
        value = value.replace(ch, "\\" + ch)
    return value


def match_children(
    repo: Repository, context: RequestContext, identifiers: set[str]
) -> dict[str, ChildMatch]:
    """Identifier value → child, for identifiers matching exactly one Patient in reach."""
    found: dict[str, list[ChildMatch]] = {}
    wanted = sorted(identifiers)
    with repo.transaction(context, write=False) as txn:
        for start in range(0, len(wanted), MATCH_CHUNK):
            chunk = wanted[start : start + MATCH_CHUNK]
            offset = 0
            while True:
                result = txn.search_params(
                    "Patient",
                    [
                        ("identifier", ",".join(_escape(v) for v in chunk)),
                        ("_count", str(txn.max_count)),
                        ("_offset", str(offset)),
                    ],
                )
                for stored in result.matches:
                    patient = stored.resource or {}
                    birth = patient.get("birthDate")
                    match = ChildMatch(
                        f"Patient/{stored.id}",
                        dt.date.fromisoformat(birth)
                        if isinstance(birth, str) and len(birth) == 10
                        else None,
                    )
                    values = {i.get("value") for i in patient.get("identifier", [])}
                    for value in values & set(chunk):
                        found.setdefault(value, []).append(match)
                offset += len(result.matches)
                if not result.matches or offset >= (result.total or 0):
                    break
    return {k: v[0] for k, v in found.items() if len({m.patient_reference for m in v}) == 1}


def imported_before(repo: Repository, context: RequestContext, result: SessionImport) -> int:
    """How many accepted rows of this file already have their Encounter stored."""
    values = [
        f"{SID_SESSION_IMPORT}|{import_identifier(result.sha256, r.row_number, 'encounter')}"
        for r in result.accepted
    ]
    found = 0
    with repo.transaction(context, write=False) as txn:
        for start in range(0, len(values), MATCH_CHUNK):
            chunk = values[start : start + MATCH_CHUNK]
            query = [("identifier", ",".join(chunk)), ("_summary", "count")]
            found += txn.search_params("Encounter", query).total or 0
    return found


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
    table = read_session(content, filename)
    identifiers = {
        _text(cells["identifier"])
        for _row, cells in table.rows
        if cells.get("identifier") is not None
    }
    identifiers.discard("")
    matches = match_children(repo, context, identifiers)
    result = validate_session(table, matches.get, today=today or dt.date.today())
    if not result.accepted:
        return ImportOutcome(filename, result, 0, 0)
    bundle = session_bundle(
        result, centre_reference=centre_reference, performer_reference=performer_reference
    )
    with _file_lock(result.sha256):
        if imported_before(repo, context, result) == 0:
            for entry in bundle["entry"]:
                entry["request"].pop("ifNoneExist", None)
        response = process(
            repo,
            context,
            bundle,
            max_entries=max(len(bundle["entry"]), 1),
            base=context.base_url or "",
            minimal=True,
        )
    statuses = [e.get("response", {}).get("status", "") for e in response.get("entry", [])]
    created = sum(1 for s in statuses if s.startswith("201"))
    return ImportOutcome(filename, result, created, len(statuses) - created)
