"""What the pages write: worklist actions, the daily health check, consent changes.

Worklist actions (acknowledge, note, resolve, refer) are the clinical pipeline's worklist
operations on the alert's review ``Task`` (:mod:`healthbridge.pipeline.worklist`, the same
code as ``POST /fhir/Task/{id}/$acknowledge`` …), called in the :class:`Transaction` of the
user's request, so the store's access rules and audit apply. The daily check and consent
changes are ordinary writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.errors import BadRequestError, NotFoundError
from healthbridge.store.repository import Transaction
from healthbridge.web.data import operation_call
from healthbridge.web.visit import CST, SD

Resource = dict[str, Any]
TASK_KIND: Final = f"{t.CANONICAL_BASE}/CodeSystem/task-kind"
ACTIONS: Final = ("acknowledge", "note", "resolve", "refer")
VITAL: Final = "vital-signs"
SYMPTOM_CODES: Final = ("cough", "runny-nose", "sore-throat", "diarrhoea", "vomiting", "rash")


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


@dataclass(frozen=True, slots=True)
class DailyCheckRow:
    """One child's morning check (晨检): axillary temperature and symptoms seen."""

    patient_id: str
    temperature_c: float | None
    symptoms: tuple[str, ...] = ()


def daily_check_bundle(
    rows: Sequence[DailyCheckRow], day: dt.date, performer: str | None, hour: int = 8
) -> Resource:
    """The class's check as one transaction Bundle (temperature and symptom Observations)."""
    when = dt.datetime(day.year, day.month, day.day, hour, tzinfo=CST).isoformat()
    entries: list[Resource] = []
    for row in rows:
        base: Resource = {
            "status": "final",
            "subject": {"reference": f"Patient/{row.patient_id}"},
            "effectiveDateTime": when,
        }
        if performer:
            base["performer"] = [{"reference": performer}]
        if row.temperature_c is not None:
            obs = {
                "resourceType": "Observation",
                "meta": {"profile": [f"{SD}/hb-body-temperature"]},
                "category": [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": VITAL}]}],
                "code": {
                    "coding": [{"system": t.LOINC, "code": t.LOINC_BODY_TEMPERATURE}],
                    "text": "Body temperature",
                },
                **base,
                "valueQuantity": {
                    "value": row.temperature_c, "unit": "Cel", "system": t.UCUM, "code": "Cel",
                },
                "bodySite": {"coding": [{"system": t.SNOMED, "code": "91470000"}]},
            }  # fmt: skip
            entries.append(obs)
        for symptom in row.symptoms:
            entries.append(
                {
                    "resourceType": "Observation",
                    "category": [
                        {"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "survey"}]}
                    ],
                    "code": {"coding": [{"system": t.LOINC, "code": "75325-1"}], "text": "Symptom"},
                    **base,
                    "valueCodeableConcept": {"coding": [{"system": t.CS_SYMPTOM, "code": symptom}]},
                }
            )
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "Observation"}} for r in entries
        ],
    }


def parse_daily_check(
    form: Mapping[str, Any], patient_ids: Sequence[str]
) -> tuple[list[DailyCheckRow], list[tuple[str, str]]]:
    """Rows from the posted form (``temp-{id}``, ``sym-{id}``) and (child id, value) errors
    for temperatures that are not numbers between 34 and 43 °C (input sanity limits)."""
    rows: list[DailyCheckRow] = []
    errors: list[tuple[str, str]] = []
    for pid in patient_ids:
        raw = str(form.get(f"temp-{pid}", "")).strip().replace(",", ".")
        symptoms = form.get(f"sym-{pid}", [])
        symptoms = [symptoms] if isinstance(symptoms, str) else list(symptoms)
        symptoms = [s for s in symptoms if s in SYMPTOM_CODES]
        temperature = None
        if raw:
            try:
                temperature = float(raw)
            except ValueError:
                temperature = None
            if temperature is None or not 34.0 <= temperature <= 43.0:
                errors.append((pid, raw))
                continue
        if temperature is not None or symptoms:
            rows.append(DailyCheckRow(pid, temperature, tuple(symptoms)))
    return rows, errors


def set_consent(txn: Transaction, consent_id: str, active: bool) -> Resource:
    """Withdraw (inactive) or restore (active) a data-sharing consent."""
    consent = dict(txn.read("Consent", consent_id).resource or {})
    consent["status"] = "active" if active else "inactive"
    stored = txn.update("Consent", consent_id, consent).stored.resource
    assert stored is not None
    return stored
