"""The centre's side of a parent's leave request (请假): list, confirm, ask back.

A leave request is a ``Task`` (:mod:`healthbridge.web.leave`) owned by the centre. The health
manager

* **confirms** it: the Task goes ``requested`` → ``accepted`` (``completed`` when its last day
  has already passed) and the absence is recorded through
  :func:`healthbridge.web.attendance.record_absence` with ``reported_by="parent"``:

  - personal leave (事假): every day of the period, followed up (the family told the centre);
  - sick leave (病假): the days from the first up to today (or the first day, when it is still
    ahead) with ``expected_return`` = the day after the period, so from the next day on the
    child is on the sick-absence follow-up list (因病缺勤追踪,
    托儿所幼儿园卫生保健工作规范 2012) until the return;

* **asks a question** back: a ``Communication`` to the guardian who asked (``recipient`` the
  Task's requester, ``sender`` the centre, ``subject`` the child, ``about`` the Task,
  ``category`` notification-topic ``leave-question``), shown in the parent's inbox and under
  the request on the phone page. The Task stays ``requested``.

A parent cannot update a Task (:func:`healthbridge.access.control._parent_may_write`): an
answer comes as a new request or by phone (documented limit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.fhir.facts import ref_id
from healthbridge.notify.messages import CS_TOPIC
from healthbridge.store.repository import Transaction
from healthbridge.web import attendance as att
from healthbridge.web import data, leave

QUESTION_MAX: Final = 200
QUESTION_CODE: Final = "leave-question"
QUESTION_CATEGORY: Final = f"{CS_TOPIC}|{QUESTION_CODE}"
#: statuses a confirmed request may take
CONFIRMED: Final = ("accepted", "completed")


@dataclass(frozen=True, slots=True)
class LeaveView:
    """One leave request as the centre page shows it."""

    task_id: str
    patient_id: str
    start: str
    end: str
    reason: str  # leave.REASONS
    text: str
    status: str
    authored: str
    questions: tuple[str, ...] = ()


def _period(task: Mapping[str, Any]) -> tuple[str, str]:
    period = task.get("executionPeriod") or {}
    start = str(period.get("start", ""))[:10]
    return start, str(period.get("end", "") or start)[:10]


def reason_of(task: Mapping[str, Any]) -> str:
    for c in (task.get("reasonCode") or {}).get("coding") or ():
        if c.get("system") == t.CS_LEAVE_REASON:
            return str(c.get("code"))
    return ""


def is_question(message: Mapping[str, Any]) -> bool:
    return any(
        c.get("system") == CS_TOPIC and c.get("code") == QUESTION_CODE
        for cat in message.get("category") or ()
        for c in cat.get("coding") or ()
    )


def questions_by_task(messages: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The questions asked about each leave Task (by Task id), oldest first."""
    out: dict[str, list[str]] = {}
    for m in sorted(messages, key=lambda m: str(m.get("sent", ""))):
        if not is_question(m):
            continue
        for about in m.get("about") or ():
            tid = ref_id(about, "Task")
            if tid:
                out.setdefault(tid, []).extend(
                    str(p.get("contentString", "")) for p in m.get("payload") or ()
                )
    return out


def centre_leaves(txn: Transaction, org: str, day: dt.date) -> list[LeaveView]:
    """The centre's leave requests still to handle, and those covering ``day`` or later;
    newest request first."""
    tasks = data.resources(
        txn,
        "Task",
        [("owner", f"Organization/{org}"), ("code", f"{t.CS_TASK_KIND}|leave-request")],
    )
    asked = questions_by_task(
        data.resources(
            txn,
            "Communication",
            [("sender", f"Organization/{org}"), ("category", QUESTION_CATEGORY)],
        )
    )
    out = []
    iso = day.isoformat()
    for task in tasks:
        if not leave.is_leave_request(task):
            continue
        start, end = _period(task)
        status = str(task.get("status", ""))
        if status != "requested" and end < iso:
            continue
        pid = ref_id(task.get("for"), "Patient") or ""
        out.append(
            LeaveView(
                str(task["id"]),
                pid,
                start,
                end,
                reason_of(task),
                str((task.get("reasonCode") or {}).get("text", "")),
                status,
                str(task.get("authoredOn", "")),
                tuple(asked.get(str(task["id"]), ())),
            )
        )
    out.sort(key=lambda v: v.authored, reverse=True)
    return out


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    span = min((end - start).days, leave.AHEAD_MAX_DAYS)
    return [start + dt.timedelta(days=n) for n in range(span + 1)]


def absence_days(reason: str, start: dt.date, end: dt.date, today: dt.date) -> list[dt.date]:
    """The days a confirmed request records as absent (see the module doc)."""
    if reason == "personal":
        return _days(start, end)
    return _days(start, max(start, min(end, today)))


def confirm(
    txn: Transaction, task: dict[str, Any], org: str, room: str | None, now: dt.datetime
) -> dict[str, Any]:
    """Accept the request and record the absence (``reported_by="parent"``); the Task."""
    start_s, end_s = _period(task)
    start, end = dt.date.fromisoformat(start_s), dt.date.fromisoformat(end_s)
    reason = reason_of(task)
    text = str((task.get("reasonCode") or {}).get("text", ""))
    pid = ref_id(task.get("for"), "Patient")
    assert pid is not None
    for day in absence_days(reason, start, end, now.date()):
        absence = att.Absence(
            "sick" if reason == "sick" else "personal",
            text,
            expected_return=end + dt.timedelta(days=1) if reason == "sick" else None,
            reported_by="parent",
        )
        att.record_absence(txn, pid, org, room, day, absence, now=now)
    status = "completed" if end < now.date() else "accepted"
    updated = {**task, "status": status, "lastModified": now.isoformat(timespec="seconds")}
    stored = txn.update("Task", str(task["id"]), updated).stored.resource
    assert stored is not None
    return stored


def question(task: Mapping[str, Any], org: str, text: str, now: dt.datetime) -> dict[str, Any]:
    """The Communication asking the guardian about the request."""
    return {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": CS_TOPIC, "code": QUESTION_CODE}]}],
        "priority": "routine",
        "subject": dict(task.get("for") or {}),
        "about": [{"reference": f"Task/{task['id']}"}],
        "recipient": [dict(task.get("requester") or {})],
        "sender": {"reference": f"Organization/{org}"},
        "sent": now.isoformat(timespec="seconds"),
        "payload": [{"contentString": text}],
    }
