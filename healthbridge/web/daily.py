"""The class's morning / afternoon check (晨午检) as the page writes and reads it.

One check of one child is identified by child + date + session (``morning`` | ``afternoon``):
every Observation it writes carries the business identifier
``{SID_DAILY_CHECK}|{child}/{date}/{session}/temperature`` (or ``…/symptom/{code}``), and is
saved with a conditional create on that identifier (http.html#ccreate) then an update of
the match, so submitting
the class again *updates* the same resources instead of adding a second set; a symptom no
longer ticked is deleted. Each Observation also carries the session and, when one was taken,
the action (``daily-check-action``: parent called to collect, isolated, sent to a doctor,
kept under observation) as extensions of the ``hb-body-temperature`` / ``hb-daily-symptom``
profiles (docs/fhir_profiles.md). Source of the practice: 托儿所幼儿园卫生保健工作规范 (2012)
第二部分 "健康检查" — 晨午检 and 全日健康观察, with the handling of a sick child recorded.

Parsing keeps every typed value: a wrong row is reported on that row and the whole form comes
back as typed (:class:`CheckForm`); nothing is saved until every row is valid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.store.paging import search_all
from healthbridge.store.repository import Transaction
from healthbridge.web.visit import CST, SD

Resource = dict[str, Any]
SYMPTOM_CODES: Final = (
    "cough", "runny-nose", "sore-throat", "diarrhoea", "vomiting", "rash",
    # single-case report within 24 h (daily-check rule table, ``single_case_report``)
    "fast-breathing", "severe-vomiting", "severe-diarrhoea",
)  # fmt: skip
SESSIONS: Final = ("morning", "afternoon")
SESSION_HOUR: Final = {"morning": 8, "afternoon": 14}
ACTIONS: Final = ("observe", "parent-collect", "isolate", "doctor")
SID_DAILY_CHECK: Final = f"{t.CANONICAL_BASE}/sid/daily-check"
CS_ACTION: Final = f"{t.CANONICAL_BASE}/CodeSystem/daily-check-action"
CS_SESSION: Final = f"{t.CANONICAL_BASE}/CodeSystem/daily-check-session"
EXT_SESSION: Final = f"{SD}/daily-check-session"
EXT_ACTION: Final = f"{SD}/daily-check-action"
LOINC_SYMPTOM: Final = "75325-1"
MIN_C, MAX_C = 34.0, 43.0  # input sanity limits (axillary, °C)


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One child's check: temperature, symptoms seen, action taken."""

    patient_id: str
    temperature_c: float | None
    symptoms: tuple[str, ...] = ()
    action: str = ""


@dataclass(slots=True)
class CheckForm:
    """What was typed, per child (strings as typed), and the per-row error keys."""

    temps: dict[str, str] = field(default_factory=dict)
    symptoms: dict[str, list[str]] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    rows: list[CheckRow] = field(default_factory=list)


def parse_check(form: Mapping[str, Any], patient_ids: Sequence[str]) -> CheckForm:
    """Rows from the posted form (``temp-{id}``, ``sym-{id}``, ``act-{id}``). A temperature
    that is not a number between 34 and 43 °C, or an action without a temperature or
    symptom, is an error on that row (``daily.err_temperature`` / ``daily.err_action``)."""
    out = CheckForm()
    for pid in patient_ids:
        raw = str(form.get(f"temp-{pid}", "") or "").strip()
        syms = form.get(f"sym-{pid}", [])
        syms = [syms] if isinstance(syms, str) else list(syms or [])
        syms = [s for s in SYMPTOM_CODES if s in syms]
        action = str(form.get(f"act-{pid}", "") or "")
        action = action if action in ACTIONS else ""
        out.temps[pid], out.symptoms[pid], out.actions[pid] = raw, syms, action
        temperature = None
        if raw:
            try:
                temperature = float(raw.replace(",", ".").replace("，", "."))
            except ValueError:
                temperature = None
            if temperature is None or not MIN_C <= temperature <= MAX_C:
                out.errors[pid] = "daily.err_temperature"
                continue
        if action and temperature is None and not syms:
            out.errors[pid] = "daily.err_action"
            continue
        if temperature is not None or syms:
            out.rows.append(CheckRow(pid, temperature, tuple(syms), action))
    return out


def _key(pid: str, day: dt.date, session: str, part: str) -> str:
    return f"{pid}/{day.isoformat()}/{session}/{part}"


def check_resources(
    row: CheckRow, day: dt.date, session: str, performer: str | None, when: dt.datetime
) -> list[tuple[str, Resource]]:
    """(identifier value, Observation) of one child's check."""
    exts: list[Resource] = [
        {"url": EXT_SESSION, "valueCoding": {"system": CS_SESSION, "code": session}}
    ]
    if row.action:
        exts.append(
            {
                "url": EXT_ACTION,
                "valueCodeableConcept": {"coding": [{"system": CS_ACTION, "code": row.action}]},
            }
        )
    base: Resource = {
        "extension": exts,
        "status": "final",
        "subject": {"reference": f"Patient/{row.patient_id}"},
        "effectiveDateTime": when.isoformat(timespec="seconds"),
    }
    if performer:
        base["performer"] = [{"reference": performer}]
    out: list[tuple[str, Resource]] = []
    if row.temperature_c is not None:
        key = _key(row.patient_id, day, session, "temperature")
        out.append(
            (
                key,
                {
                    "resourceType": "Observation",
                    "meta": {"profile": [f"{SD}/hb-body-temperature"]},
                    "identifier": [{"system": SID_DAILY_CHECK, "value": key}],
                    "category": [
                        {"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "vital-signs"}]}
                    ],
                    "code": {
                        "coding": [{"system": t.LOINC, "code": t.LOINC_BODY_TEMPERATURE}],
                        "text": "Body temperature",
                    },
                    **base,
                    "valueQuantity": {
                        "value": row.temperature_c,
                        "unit": "Cel",
                        "system": t.UCUM,
                        "code": "Cel",
                    },
                    "bodySite": {"coding": [{"system": t.SNOMED, "code": "91470000"}]},
                },
            )
        )
    for symptom in row.symptoms:
        key = _key(row.patient_id, day, session, f"symptom/{symptom}")
        out.append(
            (
                key,
                {
                    "resourceType": "Observation",
                    "identifier": [{"system": SID_DAILY_CHECK, "value": key}],
                    "category": [
                        {"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "survey"}]}
                    ],
                    "code": {
                        "coding": [{"system": t.LOINC, "code": LOINC_SYMPTOM}],
                        "text": "Symptom",
                    },
                    **base,
                    "valueCodeableConcept": {"coding": [{"system": t.CS_SYMPTOM, "code": symptom}]},
                },
            )
        )
    return out


def existing_checks(
    txn: Transaction, patient_ids: Sequence[str], day: dt.date, session: str
) -> dict[str, list[Resource]]:
    """The check Observations already saved for these children on ``day`` in ``session``
    (those carrying our identifier), by child id."""
    out: dict[str, list[Resource]] = {}
    if not patient_ids:
        return out
    # every page of the result: a large class's three days of checks can exceed one search
    # page, and a dropped check would be written again as a duplicate by save_check
    found = search_all(
        txn,
        "Observation",
        [
            ("subject", ",".join(f"Patient/{p}" for p in patient_ids)),
            ("code", f"{t.LOINC}|{t.LOINC_BODY_TEMPERATURE},{t.LOINC}|{LOINC_SYMPTOM}"),
            # a day either side: the store may compare instants in UTC; the identifier's date
            # (the Beijing calendar day of the check) decides below
            ("date", f"ge{(day - dt.timedelta(days=1)).isoformat()}"),
            ("date", f"le{(day + dt.timedelta(days=1)).isoformat()}"),
        ],
    )
    for stored in found:
        obs = stored.resource or {}
        for ident in obs.get("identifier") or ():
            value = str(ident.get("value", ""))
            parts = value.split("/")
            if (
                ident.get("system") == SID_DAILY_CHECK
                and len(parts) >= 4
                and (parts[1], parts[2]) == (day.isoformat(), session)
            ):
                out.setdefault(parts[0], []).append(obs)
    return out


def save_check(
    txn: Transaction,
    rows: Sequence[CheckRow],
    patient_ids: Sequence[str],
    day: dt.date,
    session: str,
    performer: str | None,
    when: dt.datetime | None = None,
) -> int:
    """Write the rows idempotently: update by identifier; delete what the form no longer has
    (a symptom unticked, a row cleared) among ``patient_ids`` (the class as shown). Returns
    the number of children saved."""
    moment = when or dt.datetime(day.year, day.month, day.day, SESSION_HOUR[session], tzinfo=CST)
    before = existing_checks(txn, patient_ids, day, session)
    keep: set[str] = set()
    for row in rows:
        for key, resource in check_resources(row, day, session, performer, moment):
            keep.add(key)
            # a conditional create (serialised per identifier), else an update of the match:
            # a page user may not create with PUT (docs/access.md), so no conditional update
            found = txn.create(resource, if_none_exist=f"identifier={SID_DAILY_CHECK}|{key}")
            if not found.created:
                rid = found.stored.id
                txn.update("Observation", rid, {**resource, "id": rid})
    for observations in before.values():
        for old in observations:
            values = {str(i.get("value")) for i in old.get("identifier") or ()}
            if not values & keep:
                txn.delete("Observation", str(old["id"]))
    return len(rows)


def form_from_existing(saved: Mapping[str, Sequence[Resource]]) -> CheckForm:
    """The form pre-filled with what is saved (so a second submission edits it)."""
    out = CheckForm()
    for pid, observations in saved.items():
        for obs in observations:
            codes = [c.get("code") for c in obs.get("code", {}).get("coding", [])]
            if t.LOINC_BODY_TEMPERATURE in codes:
                value = (obs.get("valueQuantity") or {}).get("value")
                if value is not None:
                    out.temps[pid] = f"{float(value):.1f}"
            else:
                for c in (obs.get("valueCodeableConcept") or {}).get("coding", []):
                    if c.get("system") == t.CS_SYMPTOM:
                        out.symptoms.setdefault(pid, []).append(str(c.get("code")))
            action = check_action(obs)
            if action:
                out.actions[pid] = action
    return out


def check_action(obs: Resource) -> str:
    """The action code recorded on a check Observation ("" when none)."""
    for ext in obs.get("extension") or ():
        if ext.get("url") == EXT_ACTION:
            for c in (ext.get("valueCodeableConcept") or {}).get("coding", []):
                if c.get("system") == CS_ACTION:
                    return str(c.get("code", ""))
    return ""


def checked_children(saved: Mapping[str, Sequence[Resource]]) -> set[str]:
    """Children whose check (any Observation) is saved."""
    return {pid for pid, obs in saved.items() if obs}
