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
from healthbridge.fhir.facts import current_enrolment, ref_id
from healthbridge.notify.messages import alert_message, fever_message
from healthbridge.store.hooks import StoreHooks, WriteEvent
from healthbridge.store.repository import Transaction

FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
SEVERITY_SUFFIX = "/alert-severity"


def _kind(flag: dict[str, Any]) -> str | None:
    for c in flag.get("code", {}).get("coding", []):
        if c.get("system") == t.CS_ALERT_KIND:
            return str(c.get("code"))
    return None


def _severity(flag: dict[str, Any]) -> str | None:
    for ext in flag.get("extension", []):
        if str(ext.get("url", "")).endswith(SEVERITY_SUFFIX):
            return str(ext.get("valueCode"))
    return None


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        if name.get("text"):
            return str(name["text"])
        return str(name.get("family", "")) + "".join(name.get("given", []))
    return str(patient.get("id", ""))


def _temperature(txn: Transaction, flag: dict[str, Any]) -> dict[str, Any] | None:
    """The highest body temperature among the Flag's evidence Observations."""
    best: dict[str, Any] | None = None
    for ext in flag.get("extension", []):
        if ext.get("url") != FLAG_DETAIL:
            continue
        oid = ref_id(ext.get("valueReference"), "Observation")
        obs = txn.read("Observation", oid).resource if oid else None
        codes = [c.get("code") for c in (obs or {}).get("code", {}).get("coding", [])]
        if obs is None or t.LOINC_BODY_TEMPERATURE not in codes:
            continue
        value = obs.get("valueQuantity", {}).get("value")
        if value is not None and (
            best is None or value > best.get("valueQuantity", {}).get("value", 0)
        ):
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
    kind, high = _kind(flag), _severity(flag) == "high"
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
                temp = _temperature(txn, flag)
                txn.create(
                    fever_message(flag, name, temp, guardians, centre, now, high), trusted=True
                )
        if high and centre:
            txn.create(alert_message(flag, name, centre, now), trusted=True)


def install(hooks: StoreHooks) -> None:
    """Register the alert-message interceptor."""
    hooks.add_interceptor(on_alert)
