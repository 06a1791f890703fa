"""Attendance (出勤), leave (请假) and sick-absence follow-up (因病缺勤追踪) as FHIR resources.

Model (docs/web.md "The centre's day"): one ``Encounter`` per child per centre day,
identified by ``{SID_ATTENDANCE}|{child}/{date}`` (so every write for the day updates it):

* ``type`` = ``centre-day#attendance`` (our CodeSystem; never a ``checkup-visit`` code, so
  checkup counts and reports ignore it), ``class`` = v3-ActCode ``FLD`` (a stay outside a
  healthcare facility), ``serviceProvider`` = the centre, ``location`` = the class;
* checked in → ``in-progress`` with ``period.start`` (the time of arrival); checked out →
  ``finished`` with ``period.end``;
* absent → ``cancelled`` (the day's stay did not happen) with ``period.start`` = the date,
  ``reasonCode`` = ``absence-reason`` (``sick`` | ``personal`` | ``unnotified``, text = the
  reason as told), and extensions ``absence-reported-by`` (``parent`` | ``staff``),
  ``absence-diagnosis`` (string, as told by the family or the doctor; our health manager may
  not write a ``Condition``), ``absence-expected-return`` (date) and ``absence-followed-up``
  (dateTime of the day's contact with the family).

The symptoms of a sick absence are ``Observation`` 75325-1 (the same as the morning check's,
identifier ``{child}/{date}/absence/symptom/{code}``), so the class outbreak rules count the
ill children at home as well as those present (:mod:`healthbridge.clinical.daily_check`).

Follow-up (托儿所幼儿园卫生保健工作规范 2012, 第二部分 "健康检查": 因病缺勤追踪 — find out
the cause of every absence the same day, and follow a sick child until the return): a child
of the centre is *to follow up today* when not checked in and without a recorded absence
today, or when absent today for an unknown cause (``unnotified``) without a contact, or when
the latest sick absence of the past :data:`TRACK_DAYS` days has no record yet today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.store.paging import search_all
from healthbridge.store.repository import Transaction
from healthbridge.web.visit import CST, SD

Resource = dict[str, Any]
SID_ATTENDANCE: Final = f"{t.CANONICAL_BASE}/sid/attendance"
CS_CENTRE_DAY: Final = f"{t.CANONICAL_BASE}/CodeSystem/centre-day"
CS_ABSENCE_REASON: Final = f"{t.CANONICAL_BASE}/CodeSystem/absence-reason"
EXT_REPORTED_BY: Final = f"{SD}/absence-reported-by"
EXT_DIAGNOSIS: Final = f"{SD}/absence-diagnosis"
EXT_RETURN: Final = f"{SD}/absence-expected-return"
EXT_FOLLOWED_UP: Final = f"{SD}/absence-followed-up"
REASONS: Final = ("sick", "personal", "unnotified")
REPORTERS: Final = ("parent", "staff")
#: symptoms a family reports for a sick absence (codes of the daily-check rule table)
ABSENCE_SYMPTOMS: Final = (
    "fever", "cough", "sore-throat", "diarrhoea", "vomiting", "rash", "fast-breathing",
    "severe-vomiting", "severe-diarrhoea",
)  # fmt: skip
TRACK_DAYS: Final = 7  # a sick absence older than this is no longer followed (local choice [?])
LOINC_SYMPTOM: Final = "75325-1"


@dataclass(frozen=True, slots=True)
class Absence:
    """One absence as recorded (by staff, or by a parent's leave request)."""

    reason: str  # REASONS
    text: str = ""
    symptoms: tuple[str, ...] = ()
    diagnosis: str = ""
    expected_return: dt.date | None = None
    reported_by: str = "staff"  # REPORTERS
    followed_up: bool = True


@dataclass(frozen=True, slots=True)
class Day:
    """A child's attendance record of one day, read back."""

    status: str  # "in" | "out" | "absent"
    arrived: str = ""  # HH:MM
    left: str = ""
    reason: str = ""
    text: str = ""
    diagnosis: str = ""
    expected_return: str = ""
    reported_by: str = ""
    followed_up: bool = False
    symptoms: tuple[str, ...] = ()


def _key(pid: str, day: dt.date) -> str:
    return f"{pid}/{day.isoformat()}"


def _encounter(pid: str, day: dt.date, org: str, room: str | None) -> Resource:
    enc: Resource = {
        "resourceType": "Encounter",
        "identifier": [{"system": SID_ATTENDANCE, "value": _key(pid, day)}],
        "status": "planned",
        "class": {"system": t.V3_ACT_CODE, "code": "FLD", "display": "field"},
        "type": [{"coding": [{"system": CS_CENTRE_DAY, "code": "attendance"}]}],
        "subject": {"reference": f"Patient/{pid}"},
        "serviceProvider": {"reference": f"Organization/{org}"},
    }
    if room:
        enc["location"] = [{"location": {"reference": f"Location/{room}"}}]
    return enc


def _upsert(txn: Transaction, resource: Resource, criteria: str) -> Resource:
    """Conditional create, else update the match (a page user may not create with PUT)."""
    found = txn.create(resource, if_none_exist=criteria)
    if not found.created:
        rid = found.stored.id
        found = txn.update(resource["resourceType"], rid, {**resource, "id": rid})
    stored = found.stored.resource
    assert stored is not None
    return stored


def _current(txn: Transaction, pid: str, day: dt.date) -> Resource | None:
    found = txn.search_params(
        "Encounter", [("identifier", f"{SID_ATTENDANCE}|{_key(pid, day)}")]
    ).matches
    return found[0].resource if found else None


def check_in(txn: Transaction, pid: str, org: str, room: str | None, at: dt.datetime) -> Resource:
    """The child arrived at ``at`` (a second check-in of the day keeps the first time)."""
    day = at.date()
    enc = _current(txn, pid, day) or _encounter(pid, day, org, room)
    start = (enc.get("period") or {}).get("start", "")
    keep = enc.get("status") in ("in-progress", "finished") and "T" in start
    enc = {k: v for k, v in enc.items() if k not in ("reasonCode", "extension")}
    enc["status"] = "in-progress"
    enc["period"] = {"start": start if keep else at.isoformat(timespec="seconds")}
    return _upsert(txn, enc, f"identifier={SID_ATTENDANCE}|{_key(pid, day)}")


def check_out(txn: Transaction, pid: str, at: dt.datetime) -> Resource | None:
    """The child left at ``at``; None when the child was not checked in that day."""
    enc = _current(txn, pid, at.date())
    if enc is None or enc.get("status") not in ("in-progress", "finished"):
        return None
    enc = {**enc, "status": "finished"}
    enc["period"] = {**enc.get("period", {}), "end": at.isoformat(timespec="seconds")}
    return _upsert(txn, enc, f"identifier={SID_ATTENDANCE}|{enc_key(enc)}")


def enc_key(enc: Mapping[str, Any]) -> str:
    """The attendance identifier value of an Encounter."""
    for ident in enc.get("identifier") or ():
        if ident.get("system") == SID_ATTENDANCE:
            return str(ident.get("value", ""))
    return ""


def record_absence(
    txn: Transaction,
    pid: str,
    org: str,
    room: str | None,
    day: dt.date,
    absence: Absence,
    *,
    now: dt.datetime | None = None,
) -> Resource:
    """Record (or update) the child's absence on ``day`` — the staff's record, or a parent's
    leave request (``reported_by="parent"``; the call 16b's parent page makes). Symptoms of a
    sick absence are written as symptom Observations (replacing the day's earlier ones)."""
    enc = _current(txn, pid, day) or _encounter(pid, day, org, room)
    enc = {k: v for k, v in enc.items() if k not in ("reasonCode", "extension", "period")}
    enc["status"] = "cancelled"
    enc["period"] = {"start": day.isoformat()}
    reason: Resource = {"coding": [{"system": CS_ABSENCE_REASON, "code": absence.reason}]}
    if absence.text:
        reason["text"] = absence.text
    enc["reasonCode"] = [reason]
    exts: list[Resource] = [{"url": EXT_REPORTED_BY, "valueCode": absence.reported_by}]
    if absence.diagnosis:
        exts.append({"url": EXT_DIAGNOSIS, "valueString": absence.diagnosis})
    if absence.expected_return is not None:
        exts.append({"url": EXT_RETURN, "valueDate": absence.expected_return.isoformat()})
    if absence.followed_up and absence.reason != "unnotified":
        moment = now or dt.datetime.now(CST)
        exts.append({"url": EXT_FOLLOWED_UP, "valueDateTime": moment.isoformat("T", "seconds")})
    enc["extension"] = exts
    stored = _upsert(txn, enc, f"identifier={SID_ATTENDANCE}|{_key(pid, day)}")
    _absence_symptoms(txn, pid, day, absence.symptoms if absence.reason == "sick" else ())
    return stored


def _absence_symptoms(txn: Transaction, pid: str, day: dt.date, symptoms: Iterable[str]) -> None:
    prefix = f"{_key(pid, day)}/absence/symptom/"
    wanted = {f"{prefix}{s}": s for s in symptoms}
    found = txn.search_params(
        "Observation",
        [("subject", f"Patient/{pid}"), ("code", f"{t.LOINC}|{LOINC_SYMPTOM}"),
         ("date", f"ge{(day - dt.timedelta(days=1)).isoformat()}"),
         ("date", f"le{(day + dt.timedelta(days=1)).isoformat()}")],  # the key decides
    ).matches  # fmt: skip
    have = {}
    for s in found:
        for ident in (s.resource or {}).get("identifier") or ():
            if str(ident.get("value", "")).startswith(prefix):
                have[str(ident["value"])] = s.id
    for key, rid in have.items():
        if key not in wanted:
            txn.delete("Observation", rid)
    for key, code in wanted.items():
        if key in have:
            continue
        txn.create(
            {
                "resourceType": "Observation",
                "identifier": [{"system": f"{t.CANONICAL_BASE}/sid/daily-check", "value": key}],
                "status": "final",
                "category": [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "survey"}]}],
                "code": {"coding": [{"system": t.LOINC, "code": LOINC_SYMPTOM}], "text": "Symptom"},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": day.isoformat(),
                "valueCodeableConcept": {"coding": [{"system": t.CS_SYMPTOM, "code": code}]},
            },
            if_none_exist=f"identifier={t.CANONICAL_BASE}/sid/daily-check|{key}",
        )


def _ext(enc: Mapping[str, Any], url: str, kind: str) -> str:
    for e in enc.get("extension") or ():
        if e.get("url") == url:
            return str(e.get(kind, ""))
    return ""


def read_day(enc: Mapping[str, Any], symptoms: Sequence[str] = ()) -> Day:
    """A :class:`Day` from an attendance Encounter."""
    period = enc.get("period") or {}
    status = {"in-progress": "in", "finished": "out", "cancelled": "absent"}.get(
        str(enc.get("status")), ""
    )
    reason = ""
    text = ""
    for rc in enc.get("reasonCode") or ():
        text = str(rc.get("text", ""))
        for c in rc.get("coding") or ():
            if c.get("system") == CS_ABSENCE_REASON:
                reason = str(c.get("code"))
    return Day(
        status,
        str(period.get("start", ""))[11:16] if status in ("in", "out") else "",
        str(period.get("end", ""))[11:16],
        reason,
        text,
        _ext(enc, EXT_DIAGNOSIS, "valueString"),
        _ext(enc, EXT_RETURN, "valueDate"),
        _ext(enc, EXT_REPORTED_BY, "valueCode"),
        bool(_ext(enc, EXT_FOLLOWED_UP, "valueDateTime")),
        tuple(symptoms),
    )


def days_of(
    txn: Transaction, org: str, first: dt.date, last: dt.date
) -> dict[tuple[str, str], Day]:
    """The centre's attendance records from ``first`` to ``last``, by (child id, date):
    every match, page by page (a centre of 1,200 children has more than one page's worth of
    records in a week)."""
    found = search_all(
        txn, "Encounter",
        [("service-provider", f"Organization/{org}"), ("type", f"{CS_CENTRE_DAY}|attendance"),
         ("date", f"ge{(first - dt.timedelta(days=1)).isoformat()}"),
         ("date", f"le{(last + dt.timedelta(days=1)).isoformat()}")],
    )  # fmt: skip
    out: dict[tuple[str, str], Day] = {}
    for s in found:
        enc = s.resource or {}
        pid, _, day = enc_key(enc).partition("/")
        if pid and first.isoformat() <= day <= last.isoformat():
            out[(pid, day)] = read_day(enc)
    return out


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One child to follow up today, and why (``no-show`` | ``unknown`` | ``sick``)."""

    patient_id: str
    why: str
    since: str = ""  # first day of the sick absence being followed
    diagnosis: str = ""


def follow_ups(
    children: Sequence[Mapping[str, Any]], days: Mapping[tuple[str, str], Day], today: dt.date
) -> list[FollowUp]:
    """Who is still to be followed up today (see the module doc); ``days`` must cover the
    past :data:`TRACK_DAYS` days."""
    out = []
    iso = today.isoformat()
    for child in children:
        pid = str(child["id"])
        now = days.get((pid, iso))
        if now is None:
            sick = _last_sick(pid, days, today)
            out.append(FollowUp(pid, "sick" if sick else "no-show", *(sick or ("", ""))))
        elif now.status == "absent" and (now.reason == "unnotified" or not now.followed_up):
            out.append(FollowUp(pid, "unknown"))
    return out


def _last_sick(
    pid: str, days: Mapping[tuple[str, str], Day], today: dt.date
) -> tuple[str, str] | None:
    for back in range(1, TRACK_DAYS + 1):
        day = (today - dt.timedelta(days=back)).isoformat()
        rec = days.get((pid, day))
        if rec is None:
            continue
        if rec.status == "absent" and rec.reason == "sick":
            back_by = rec.expected_return
            if back_by and back_by < today.isoformat():
                return None
            return day, rec.diagnosis
        return None  # the child came (or was absent for another reason) since
    return None
