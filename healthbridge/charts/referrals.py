"""A child's referrals as people read them: where to, its stage, the hospital's answer (pure).

FHIR workflow (http://hl7.org/fhir/R4/workflow.html, "Option H: request with a Task"; Task
state machine http://hl7.org/fhir/R4/task.html#statemachine):

* the referral is a ``ServiceRequest`` (hb-referral; ``performer`` the receiving hospital),
  ``active`` while open, ``completed`` when the hospital has answered and closed it, ``revoked``
  when withdrawn — the states the access rules read (a referral opens the child's record to
  the receiver only while it is open);
* the receiving hospital's work on it is ONE ``Task`` (``basedOn`` and ``focus`` the
  ServiceRequest, ``code`` task-code#fulfill, ``for`` the child, ``owner`` the hospital;
  found by ``Task?based-on=ServiceRequest/{id}``): ``accepted`` when
  the hospital takes it, ``rejected`` when it declines, ``completed`` when it answers;
* the answer is the Task's ``output`` (``CodeSystem/referral-output``): ``findings`` and
  ``plan`` (text) and ``follow-up`` (the date the plan asks the child to be seen again).

Why Task.output and not a DiagnosticReport or a Communication: a DiagnosticReport is the
result of a diagnostic service (laboratory, imaging), not a consultant's plan; a Communication
would be a second resource to keep consistent with the Task's state. Task.output is the
workflow's own place for "outputs produced by the Task", read with the state in one resource.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.fhir import facts

OUTPUT_SYSTEM: Final = f"{t.CANONICAL_BASE}/CodeSystem/referral-output"


@dataclass(frozen=True, slots=True)
class ReferralLine:
    request_id: str
    reason: str
    target_id: str | None
    authored: dt.date | None
    status: str  # ServiceRequest.status
    task_status: str | None  # Task.status of the hospital's Task (None: not taken yet)
    findings: str
    plan: str
    follow_up: dt.date | None
    answered: dt.date | None
    declined_reason: str = ""  # Task.statusReason.text when the hospital declined

    @property
    def stage(self) -> str:
        """sent / accepted / rejected / answered / revoked (one word for the pages)."""
        if self.status == "revoked":
            return "revoked"
        if self.task_status == "completed" or self.status == "completed":
            return "answered"
        if self.task_status in ("accepted", "in-progress"):
            return "accepted"
        if self.task_status == "rejected":
            return "rejected"
        return "sent"


def outputs(task: Mapping[str, Any]) -> dict[str, Any]:
    """The Task's referral outputs by code (``findings``, ``plan``, ``follow-up``)."""
    out: dict[str, Any] = {}
    for item in task.get("output", []):
        for coding in item.get("type", {}).get("coding", []):
            if coding.get("system") == OUTPUT_SYSTEM:
                value = item.get("valueString", item.get("valueDate"))
                out[str(coding.get("code"))] = value
    return out


def referral_lines(resources: Iterable[Mapping[str, Any]]) -> tuple[ReferralLine, ...]:
    """The child's referrals, newest first, from their ServiceRequests and Tasks."""
    requests: list[Mapping[str, Any]] = []
    tasks: dict[str, Mapping[str, Any]] = {}
    for r in resources:
        if r.get("resourceType") == "ServiceRequest":
            requests.append(r)
        elif r.get("resourceType") == "Task":
            for based in r.get("basedOn", []):
                ref = str(based.get("reference", ""))
                if ref.startswith("ServiceRequest/"):
                    tasks[ref.removeprefix("ServiceRequest/")] = r
    lines = []
    for sr in requests:
        if sr.get("status") in ("draft", "entered-in-error"):
            continue
        rid = str(sr.get("id"))
        task: Mapping[str, Any] = tasks.get(rid) or {}
        answer = outputs(task)
        performers: list[Mapping[str, Any]] = list(sr.get("performer", []))
        target = str(performers[0].get("reference", "")) if performers else ""
        target_id = (
            target.removeprefix("Organization/") if target.startswith("Organization/") else None
        )
        reason = sr.get("code", {}).get("text") or next(
            (n.get("text") for n in sr.get("note", []) if n.get("text")), ""
        )
        lines.append(
            ReferralLine(
                rid, str(reason or ""),
                target_id,
                facts.date_of(sr.get("authoredOn")), str(sr.get("status")),
                str(task["status"]) if task.get("status") else None,
                str(answer.get("findings") or ""), str(answer.get("plan") or ""),
                facts.date_of(answer.get("follow-up")),
                facts.date_of(task.get("executionPeriod", {}).get("end")) if task else None,
                str(task.get("statusReason", {}).get("text") or "")
                if task.get("status") == "rejected" else "",
            )
        )  # fmt: skip
    return tuple(
        sorted(lines, key=lambda x: (x.authored or dt.date.min, x.request_id), reverse=True)
    )


def next_follow_up(lines: Iterable[ReferralLine], as_of: dt.date) -> ReferralLine | None:
    """The answered referral whose planned follow-up is the soonest on or after ``as_of``."""
    planned = [x for x in lines if x.follow_up is not None and x.follow_up >= as_of]
    return min(planned, key=lambda x: x.follow_up or dt.date.max, default=None)
