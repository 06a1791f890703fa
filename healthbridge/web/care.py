"""The daily care log (保育日志) of a class: parse the class form, write ``hb-care-log``
Observations, read a child's day back.

Each item of a child's day is one Observation (profile ``hb-care-log``, code from the
``care-log`` CodeSystem) with the child as ``subject``, so it sits in the child's Patient
compartment and the store's reach rules share it — with the guardians, the centre while the
child is enrolled, and hospitals under the guardian's consent — with no rule of its own:

* a meal (``breakfast`` | ``lunch`` | ``snack`` | ``dinner``): ``valueCodeableConcept`` from
  ``meal-amount``, ``effectiveDateTime`` the meal's usual time;
* ``nap``: ``effectivePeriod`` from–to (no value);
* ``toileting``: ``valueCodeableConcept`` from ``toileting``;
* ``outdoor``: ``valueQuantity`` in UCUM ``min``;
* ``mood``: ``valueCodeableConcept`` from ``mood``, the free-text note in ``Observation.note``.

A class is entered on one form; saving again the same day *updates* the child's item of that
day (one reading per child, item and day), so a second submission never stores two sets.
Times are Beijing time (UTC+8), as the centre's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.web.visit import CST, SD

Resource = dict[str, Any]
PROFILE: Final = f"{SD}/hb-care-log"
MEALS: Final = ("breakfast", "lunch", "snack", "dinner")
#: When each meal is served (the usual 一日生活安排 of a 0–3 centre; the time a meal is shown at).
MEAL_TIMES: Final = {
    "breakfast": dt.time(8, 0),
    "lunch": dt.time(11, 30),
    "snack": dt.time(15, 0),
    "dinner": dt.time(17, 0),
}
AMOUNTS: Final = ("all", "most", "half", "little", "none")
TOILETING: Final = ("normal", "loose", "none", "accident")
MOODS: Final = ("happy", "calm", "upset", "tired")
ITEMS: Final = (*MEALS, "nap", "toileting", "outdoor", "mood")
#: Input sanity limit of outdoor minutes in one day.
MAX_OUTDOOR_MIN: Final = 600
NOTE_MAX: Final = 200


@dataclass(slots=True)
class CareRow:
    """One child's row of the class form, as typed (strings) and as parsed."""

    patient_id: str
    amount: str = ""
    nap_from: str = ""
    nap_to: str = ""
    toileting: str = ""
    outdoor: str = ""
    mood: str = ""
    note: str = ""
    errors: list[str] = field(default_factory=list)  # i18n keys

    @property
    def empty(self) -> bool:
        return not any(
            (self.amount, self.nap_from, self.nap_to, self.toileting, self.outdoor, self.mood,
             self.note)
        )  # fmt: skip


def _time(raw: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        return None


def parse_rows(form: Mapping[str, Any], patient_ids: Sequence[str]) -> list[CareRow]:
    """The class form's rows (fields ``{name}-{patient id}``), each with its errors (i18n keys
    under ``care.error.``); every typed value is kept for showing the form again."""
    rows = []
    for pid in patient_ids:

        def get(name: str, pid: str = pid) -> str:
            return str(form.get(f"{name}-{pid}", "") or "").strip()

        row = CareRow(
            pid, get("amount"), get("nap_from"), get("nap_to"), get("toilet"),
            get("outdoor"), get("mood"), get("note"),
        )  # fmt: skip
        if row.amount and row.amount not in AMOUNTS:
            row.errors.append("care.error.amount")
        if row.toileting and row.toileting not in TOILETING:
            row.errors.append("care.error.choice")
        if row.mood and row.mood not in MOODS:
            row.errors.append("care.error.choice")
        if row.nap_from or row.nap_to:
            start, end = _time(row.nap_from), _time(row.nap_to)
            if start is None or end is None:
                row.errors.append("care.error.nap_times")
            elif end <= start:
                row.errors.append("care.error.nap_order")
        if row.outdoor:
            try:
                minutes = int(row.outdoor)
            except ValueError:
                minutes = -1
            if not 0 <= minutes <= MAX_OUTDOOR_MIN:
                row.errors.append("care.error.outdoor")
        if len(row.note) > NOTE_MAX:
            row.errors.append("care.error.note")
        rows.append(row)
    return rows


def _coded(system: str, code: str) -> Resource:
    return {"coding": [{"system": system, "code": code}]}


def row_observations(
    row: CareRow, meal: str, day: dt.date, performer: str | None, now: dt.datetime
) -> list[tuple[str, Resource]]:
    """``(item, Observation)`` of one valid row; ``now`` stamps items without a time of
    their own (toileting, outdoor, mood) on ``day`` (17:00 when ``day`` is not today)."""
    stamp = now if now.date() == day else dt.datetime.combine(day, dt.time(17, 0), tzinfo=CST)
    out: list[tuple[str, Resource]] = []

    def obs(item: str, **body: Any) -> None:
        resource: Resource = {
            "resourceType": "Observation",
            "meta": {"profile": [PROFILE]},
            "status": "final",
            "code": _coded(t.CS_CARE_LOG, item),
            "subject": {"reference": f"Patient/{row.patient_id}"},
            **body,
        }
        if "effectivePeriod" not in body:
            resource.setdefault("effectiveDateTime", stamp.isoformat(timespec="seconds"))
        if performer:
            resource["performer"] = [{"reference": performer}]
        out.append((item, resource))

    if row.amount:
        when = dt.datetime.combine(day, MEAL_TIMES[meal], tzinfo=CST)
        obs(
            meal,
            effectiveDateTime=when.isoformat(timespec="seconds"),
            valueCodeableConcept=_coded(t.CS_MEAL_AMOUNT, row.amount),
        )
    start, end = _time(row.nap_from), _time(row.nap_to)
    if start is not None and end is not None:
        period = {
            "start": dt.datetime.combine(day, start, tzinfo=CST).isoformat(timespec="seconds"),
            "end": dt.datetime.combine(day, end, tzinfo=CST).isoformat(timespec="seconds"),
        }
        obs("nap", effectivePeriod=period)
    if row.toileting:
        obs("toileting", valueCodeableConcept=_coded(t.CS_TOILETING, row.toileting))
    if row.outdoor:
        minutes = int(row.outdoor)
        obs("outdoor", valueQuantity={"value": minutes, "unit": "min", "system": t.UCUM,
                                      "code": "min"})  # fmt: skip
    if row.mood or row.note:
        body: Resource = {}
        if row.mood:
            body["valueCodeableConcept"] = _coded(t.CS_MOOD, row.mood)
        if row.note:
            body["note"] = [{"text": row.note}]
        obs("mood", **body)
    return out


def care_item(resource: Mapping[str, Any]) -> str | None:
    """The care-log item code of an Observation, or None when it is not a care-log item."""
    for coding in resource.get("code", {}).get("coding", []):
        if coding.get("system") == t.CS_CARE_LOG and coding.get("code") in ITEMS:
            return str(coding["code"])
    return None


def class_bundle(
    rows: Iterable[CareRow],
    meal: str,
    day: dt.date,
    performer: str | None,
    now: dt.datetime,
    existing: Mapping[tuple[str, str], str],
) -> Resource:
    """The class's log as one transaction Bundle: an item already recorded that day for the
    child (``existing[(patient id, item)]`` = Observation id) is updated, not duplicated."""
    entries = []
    for row in rows:
        for item, resource in row_observations(row, meal, day, performer, now):
            rid = existing.get((row.patient_id, item))
            if rid:
                resource["id"] = rid
                request = {"method": "PUT", "url": f"Observation/{rid}"}
            else:
                request = {"method": "POST", "url": "Observation"}
            entries.append({"resource": resource, "request": request})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def value_code(resource: Mapping[str, Any]) -> str:
    """The code of ``valueCodeableConcept`` (first coding), else ""."""
    codings = resource.get("valueCodeableConcept", {}).get("coding", [])
    return str(codings[0].get("code", "")) if codings else ""


def form_values(observations: Iterable[Mapping[str, Any]], meal: str) -> dict[str, CareRow]:
    """Rows prefilled from what is already recorded that day (per child), so the form shows
    the class's log so far and saving again updates it."""
    rows: dict[str, CareRow] = {}
    for o in observations:
        item = care_item(o)
        pid = str(o.get("subject", {}).get("reference", "")).split("/")[-1]
        if item is None or not pid:
            continue
        row = rows.setdefault(pid, CareRow(pid))
        if item == meal:
            row.amount = value_code(o)
        elif item == "nap":
            period = o.get("effectivePeriod", {})
            row.nap_from = str(period.get("start", ""))[11:16]
            row.nap_to = str(period.get("end", ""))[11:16]
        elif item == "toileting":
            row.toileting = value_code(o)
        elif item == "outdoor":
            row.outdoor = str(o.get("valueQuantity", {}).get("value", ""))
        elif item == "mood":
            row.mood = value_code(o)
            row.note = " ".join(str(n.get("text", "")) for n in o.get("note", []))
    return rows
