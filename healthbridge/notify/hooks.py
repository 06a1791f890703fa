"""The write interceptor that turns alerts into messages (registered by :func:`install`).

When a child's alert Flag becomes active (created, or updated from not active — the clinical
pipeline writes Flags with its own ids), in the same database transaction:

* a ``fever`` alert → a Communication to the child's guardians with the temperature and time
  of the check (the Flag's ``flag-detail`` evidence) and what to do;
* any ``high``-severity alert → a Communication to the centre the child is enrolled at.

The messages are written with the server's authority (the writer of the temperature may not
write Communications); they roll back with the transaction that raised the alert.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from healthbridge import terminology as t
from healthbridge.fhir.facts import current_enrolment, flag_severity, ref_id
from healthbridge.notify.messages import alert_message, fever_message
from healthbridge.store.hooks import StoreHooks, WriteEvent
from healthbridge.store.repository import Transaction

FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"


def _kind(flag: dict[str, Any]) -> str | None:
    for c in flag.get("code", {}).get("coding", []):
        if c.get("system") == t.CS_ALERT_KIND:
            return str(c.get("code"))
    return None


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        if name.get("text"):
            return str(name["text"])
        return str(name.get("family", "")) + "".join(name.get("given", []))
    return str(patient.get("id", ""))


def _temperature(txn: Transaction, patient_id: str, flag: dict[str, Any]) -> dict[str, Any] | None:
    """The day's highest body temperature of the child: the pipeline cites one Observation of
    the day's check as evidence (its lowest id), and the check's temperature is the day's
    highest (``inputs.extract.daily_checks``)."""
    days: set[str] = set()
    for ext in flag.get("extension", []):
        oid = (
            ref_id(ext.get("valueReference"), "Observation")
            if ext.get("url") == FLAG_DETAIL
            else None
        )
        obs = txn.read("Observation", oid).resource if oid else None
        if obs and obs.get("effectiveDateTime"):
            days.add(str(obs["effectiveDateTime"])[:10])
    best: dict[str, Any] | None = None
    code = f"{t.LOINC}|{t.LOINC_BODY_TEMPERATURE}"
    for day in sorted(days):
        # the check's local date (its own offset, +08:00) is what counts; a date search
        # compares instants, so search the days around it and keep the local day
        on = dt.date.fromisoformat(day)
        window = [
            ("date", f"ge{(on - dt.timedelta(days=1)).isoformat()}"),
            ("date", f"le{(on + dt.timedelta(days=1)).isoformat()}"),
        ]
        found = txn.search_params(
            "Observation", [("subject", f"Patient/{patient_id}"), ("code", code), *window]
        ).matches
        for match in found:
            obs = match.resource
            if not obs or str(obs.get("effectiveDateTime", ""))[:10] != day:
                continue
            value = obs.get("valueQuantity", {}).get("value")
            if value is not None and (best is None or value > best["valueQuantity"]["value"]):
                best = obs
    return best


def on_alert(txn: Transaction, event: WriteEvent) -> None:
    """Write the messages of a Flag that just became active (see module doc)."""
    flag = event.stored.resource
    if event.stored.resource_type != "Flag" or flag is None or flag.get("status") != "active":
        return
    before = event.previous.resource if event.previous is not None else None
    if before is not None and before.get("status") == "active":
        return
    patient_id = ref_id(flag.get("subject"), "Patient")
    kind, high = _kind(flag), flag_severity(flag) == "high"
    if patient_id is None or (kind != "fever" and not high):
        return
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with txn.as_server():
        patient = txn.read("Patient", patient_id).resource or {}
        enrolment = current_enrolment(patient)
        centre = enrolment.centre_id if enrolment else None
        name = _name(patient)
        if kind == "fever":
            found = txn.search_params("RelatedPerson", [("patient", f"Patient/{patient_id}")])
            guardians = [f"RelatedPerson/{m.id}" for m in found.matches]
            if guardians:
                temp = _temperature(txn, patient_id, flag)
                txn.create(
                    fever_message(flag, name, temp, guardians, centre, now, high), trusted=True
                )
        if high and centre:
            txn.create(alert_message(flag, name, centre, now), trusted=True)


def install(hooks: StoreHooks) -> None:
    """Register the alert-message interceptor."""
    hooks.add_interceptor(on_alert)
