"""A guardian's leave request (请假) as a FHIR ``Task``.

Shape (docs/web.md "Leave requests"), chosen so the centre's worklist can list it with the
other Tasks: ``code`` = task-kind ``leave-request``; ``status`` ``requested`` (the centre
accepts or rejects it); ``intent`` ``order``; ``for`` the child (so the Task sits in the
child's compartment and the store's reach rules apply); ``requester`` the guardian
(``RelatedPerson``); ``owner`` the centre (``Organization``); ``executionPeriod`` the days
away (dates); ``reasonCode`` leave-reason ``sick`` | ``personal`` with the parent's words as
``reasonCode.text``; ``authoredOn`` when it was sent. A parent may only *create* such a Task
(:func:`healthbridge.access.control._parent_may_write`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from healthbridge import terminology as t

REASONS: Final = ("sick", "personal")
TEXT_MAX: Final = 200
#: How far ahead a parent may ask leave (days); a sanity limit, not a rule of the centres.
AHEAD_MAX_DAYS: Final = 60


@dataclass(slots=True)
class LeaveForm:
    """What the parent typed, with the errors (i18n keys)."""

    start: str = ""
    end: str = ""
    reason: str = ""
    text: str = ""
    errors: list[str] = field(default_factory=list)


def parse_leave(form: Mapping[str, Any], today: dt.date) -> LeaveForm:
    """The posted leave form, checked: dates (today or later, end ≥ start, within 60 days),
    a reason from the list, a short text."""

    def get(name: str) -> str:
        return str(form.get(name, "") or "").strip()

    got = LeaveForm(get("start"), get("end"), get("reason"), get("text"))
    try:
        start = dt.date.fromisoformat(got.start)
        end = dt.date.fromisoformat(got.end or got.start)
    except ValueError:
        got.errors.append("leave.error.dates")
    else:
        if start < today or end < start or (end - today).days > AHEAD_MAX_DAYS:
            got.errors.append("leave.error.dates")
    if got.reason not in REASONS:
        got.errors.append("leave.error.reason")
    if len(got.text) > TEXT_MAX:
        got.errors.append("leave.error.text")
    return got


def leave_task(
    got: LeaveForm, patient_id: str, guardian: str, centre: str | None, now: dt.datetime
) -> dict[str, Any]:
    """The leave-request Task of a checked form."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": t.CS_TASK_KIND, "code": "leave-request"}]},
        "for": {"reference": f"Patient/{patient_id}"},
        "requester": {"reference": guardian},
        "authoredOn": now.isoformat(timespec="seconds"),
        "executionPeriod": {"start": got.start, "end": got.end or got.start},
        "reasonCode": {
            "coding": [{"system": t.CS_LEAVE_REASON, "code": got.reason}],
            **({"text": got.text} if got.text else {}),
        },
    }
    if centre:
        task["owner"] = {"reference": f"Organization/{centre}"}
    return task


def is_leave_request(task: Mapping[str, Any]) -> bool:
    return any(
        c.get("system") == t.CS_TASK_KIND and c.get("code") == "leave-request"
        for c in task.get("code", {}).get("coding", [])
    )
