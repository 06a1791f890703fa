"""What the pages write: worklist actions, the daily health check, consent changes.

Worklist actions (acknowledge, note, resolve, refer) work on the alert's review ``Task``
(hb-review-task: requested → accepted → completed) and close the ``Flag`` when the alert is
resolved; a referral is a ``ServiceRequest`` (hb-referral) pointing at the Flag. All writes go
through the :class:`Transaction` of the user's request. The clinical pipeline may offer
operations for these actions; this module is the one place the pages call, so switching to
them touches only here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from healthbridge import terminology as t
from healthbridge.errors import BadRequestError
from healthbridge.store.repository import Transaction
from healthbridge.web.visit import CST, SD

Resource = dict[str, Any]
TASK_KIND: Final = f"{t.CANONICAL_BASE}/CodeSystem/task-kind"
Action = Literal["acknowledge", "note", "resolve", "refer"]
ACTIONS: Final = ("acknowledge", "note", "resolve", "refer")
VITAL: Final = "vital-signs"
SYMPTOM_CODES: Final = ("cough", "runny-nose", "sore-throat", "diarrhoea", "vomiting", "rash")


def _now(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(CST)).astimezone(CST).isoformat(timespec="seconds")


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


def review_task(txn: Transaction, flag: Resource, now: str) -> Resource:
    """The Flag's review Task; created (status requested) when the pipeline made none."""
    found = txn.search_params("Task", [("focus", f"Flag/{flag['id']}")]).matches
    if found and found[0].resource is not None:
        return found[0].resource
    task: Resource = {
        "resourceType": "Task",
        "meta": {"profile": [f"{SD}/hb-review-task"]},
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_KIND, "code": "alert-review"}]},
        "focus": {"reference": f"Flag/{flag['id']}"},
        "for": flag["subject"],
        "authoredOn": now,
    }
    return txn.create(task).stored.resource or task


@dataclass(frozen=True, slots=True)
class ActionResult:
    task: Resource
    referral: Resource | None = None


def worklist_action(
    txn: Transaction,
    flag_id: str,
    action: str,
    *,
    actor: str | None,
    text: str = "",
    refer_to: str | None = None,
    now: dt.datetime | None = None,
) -> ActionResult:
    """Apply one worklist action to the alert ``flag_id`` (see module docstring)."""
    if action not in ACTIONS:
        raise BadRequestError(f"unknown worklist action {action!r}")
    stamp = _now(now)
    flag = txn.read("Flag", flag_id).resource
    assert flag is not None
    task = dict(review_task(txn, flag, stamp))
    if actor:
        task["owner"] = {"reference": actor}
    if text:
        note: Resource = {"time": stamp, "text": text}
        if actor:
            note["authorReference"] = {"reference": actor}
        task["note"] = [*task.get("note", []), note]
    referral = None
    if action == "acknowledge" and task.get("status") in ("requested", "received", "ready"):
        task["status"] = "accepted"
    elif action == "note" and task.get("status") in ("requested", "received", "ready"):
        task["status"] = "in-progress"
    elif action in ("resolve", "refer"):
        if action == "refer":
            if not refer_to or not actor:
                raise BadRequestError("a referral needs a receiving organisation and a requester")
            sr: Resource = {
                "resourceType": "ServiceRequest",
                "meta": {"profile": [f"{SD}/hb-referral"]},
                "status": "active",
                "intent": "order",
                "category": [
                    {
                        "coding": [
                            {"system": t.SNOMED, "code": "3457005", "display": "Patient referral"}
                        ]
                    }
                ],
                "code": {"text": text or str(flag.get("code", {}).get("text", ""))},
                "subject": flag["subject"],
                "authoredOn": stamp,
                "requester": {"reference": actor},
                "performer": [{"reference": f"Organization/{refer_to}"}],
                "supportingInfo": [{"reference": f"Flag/{flag_id}"}],
            }
            referral = txn.create(sr).stored.resource
            assert referral is not None
            output: Resource = {"valueReference": {"reference": f"ServiceRequest/{referral['id']}"}}
        else:
            output = {"valueString": text or "resolved"}
        task["status"] = "completed"
        task["output"] = [{"type": {"text": "review outcome"}, **output}]
        closed = dict(flag)
        closed["status"] = "inactive"
        closed["period"] = {**flag.get("period", {}), "end": stamp}
        txn.update("Flag", flag_id, closed)
    stored = txn.update("Task", str(task["id"]), task).stored.resource
    assert stored is not None
    return ActionResult(stored, referral)


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
