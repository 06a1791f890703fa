"""What the pages write: worklist actions and consent changes.

Worklist actions (acknowledge, note, resolve, refer) are the clinical pipeline's worklist
operations on the alert's review ``Task`` (:mod:`healthbridge.pipeline.worklist`, the same
code as ``POST /fhir/Task/{id}/$acknowledge`` …), called in the :class:`Transaction` of the
user's request, so the store's access rules and audit apply. Consent changes are ordinary
writes (the daily check: :mod:`healthbridge.web.daily`).
"""

from __future__ import annotations

from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.errors import BadRequestError, NotFoundError
from healthbridge.store.repository import Transaction
from healthbridge.web.data import operation_call

Resource = dict[str, Any]
TASK_KIND: Final = f"{t.CANONICAL_BASE}/CodeSystem/task-kind"
ACTIONS: Final = ("acknowledge", "note", "resolve", "refer")
VITAL: Final = "vital-signs"


def practitioner_ref(txn: Transaction, fhir_user: str | None) -> str | None:
    """``Practitioner/x`` of a user whose fhirUser is a Practitioner or PractitionerRole."""
    if not fhir_user:
        return None
    if fhir_user.startswith("Practitioner/"):
        return fhir_user
    if fhir_user.startswith("PractitionerRole/"):
        role = txn.read("PractitionerRole", fhir_user.split("/", 1)[1]).resource or {}
        ref = role.get("practitioner", {}).get("reference")
        return str(ref) if ref else None
    return None


def _review_task_id(txn: Transaction, flag_id: str) -> str:
    """The open review Task of the alert ``flag_id`` (the pipeline writes one per Flag);
    :class:`NotFoundError` when the alert has none the user may see."""
    found = txn.search_params(
        "Task", [("focus", f"Flag/{flag_id}"), ("code", f"{TASK_KIND}|alert-review")]
    ).matches
    if not found:
        raise NotFoundError(f"Flag/{flag_id} has no review Task")
    return found[0].id


def worklist_action(
    txn: Transaction,
    flag_id: str,
    action: str,
    *,
    requester: str | None,
    base_url: str,
    text: str = "",
    refer_to: str | None = None,
) -> dict[str, Any]:
    """Apply one worklist action to the alert ``flag_id`` with the clinical pipeline's
    worklist operations (:mod:`healthbridge.pipeline.worklist`), in the page's transaction;
    returns the review Task as saved.

    * acknowledge → ``$acknowledge`` (``note`` = the text, if any);
    * note → ``$note``;
    * resolve → ``$resolve`` (``outcome`` = the text, else "resolved");
    * refer → ``$refer`` (``performer`` = the hospital, ``reason`` = the text,
      ``requester`` = the user), then ``$resolve`` with the referral as the outcome: on the
      page, referring *is* how the health manager closes the review (the hospital's answer
      arrives on the ServiceRequest).
    """
    from healthbridge.pipeline import worklist as operations

    if action not in ACTIONS:
        raise BadRequestError(f"unknown worklist action {action!r}")
    task_id = _review_task_id(txn, flag_id)

    def run(handler: Any, name: str, **params: str | None) -> dict[str, Any]:
        values = [(k, v) for k, v in params.items() if v]
        result: dict[str, Any] = handler(
            operation_call(name, "Task", task_id, values, txn, base_url)
        )
        return result

    if action == "acknowledge":
        return run(operations.acknowledge, "acknowledge", note=text)
    if action == "note":
        if not text:
            raise BadRequestError("a note needs a text")
        return run(operations.note, "note", text=text)
    if action == "resolve":
        return run(operations.resolve, "resolve", outcome=text or "resolved")
    if not refer_to:
        raise BadRequestError("a referral needs a receiving organisation")
    referred = run(
        operations.refer,
        "refer",
        performer=f"Organization/{refer_to}",
        reason=text,
        requester=requester,
    )
    request = next(
        (
            o["valueReference"]["reference"]
            for o in reversed(referred.get("output", []))
            if "valueReference" in o
        ),
        f"Organization/{refer_to}",
    )
    return run(operations.resolve, "resolve", outcome=f"referred: {request}")


def set_consent(txn: Transaction, consent_id: str, active: bool) -> Resource:
    """Withdraw (inactive) or restore (active) a data-sharing consent."""
    consent = dict(txn.read("Consent", consent_id).resource or {})
    consent["status"] = "active" if active else "inactive"
    stored = txn.update("Consent", consent_id, consent).stored.resource
    assert stored is not None
    return stored
