"""The receiving hospital's side of a referral: accept, decline, answer and close.

The resources and their states are described in :mod:`healthbridge.charts.referrals`. Writes
go through the user's :class:`Transaction` (access rules, audit). On answering, the Task is
written first and the ServiceRequest (→ ``completed``) last: completing the referral ends the
hospital's reach through it (docs/access.md), so nothing may need that reach afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from healthbridge.charts.referrals import OUTPUT_SYSTEM
from healthbridge.errors import NotFoundError
from healthbridge.store.repository import Transaction
from healthbridge.web.visit import CST

Resource = dict[str, Any]
OPEN: Final = frozenset({"active", "on-hold"})
MAX_TEXT: Final = 2000


class ReferralError(ValueError):
    """A problem shown on the page: ``key`` is an i18n catalogue key; nothing is written."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class Answer:
    findings: str
    plan: str
    follow_up: dt.date | None


def parse_answer(form: Mapping[str, Any], today: dt.date) -> Answer:
    """The answer form; problems → :class:`BadRequestError` with a catalogue key."""
    findings = str(form.get("findings") or "").strip()
    plan = str(form.get("plan") or "").strip()
    if not findings or not plan:
        raise ReferralError("referral.err_answer")
    if len(findings) > MAX_TEXT or len(plan) > MAX_TEXT:
        raise ReferralError("referral.err_long")
    raw = str(form.get("follow_up") or "").strip()
    follow_up = None
    if raw:
        try:
            follow_up = dt.date.fromisoformat(raw)
        except ValueError:
            raise ReferralError("referral.err_date") from None
        if follow_up < today:
            raise ReferralError("referral.err_date")
    return Answer(findings, plan, follow_up)


def _request(txn: Transaction, request_id: str, org_id: str) -> Resource:
    sr = txn.read("ServiceRequest", request_id).resource
    performers = [p.get("reference") for p in (sr or {}).get("performer", [])]
    if sr is None or f"Organization/{org_id}" not in performers:
        raise NotFoundError(f"ServiceRequest/{request_id} is not a referral to this hospital")
    return sr


def _task(sr: Resource, org_id: str, practitioner: str, status: str, now: dt.datetime) -> Resource:
    return {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/CodeSystem/task-code",
                    "code": "fulfill",
                    "display": "Fulfill the focal request",
                }
            ]
        },
        "basedOn": [{"reference": f"ServiceRequest/{sr['id']}"}],
        "focus": {"reference": f"ServiceRequest/{sr['id']}"},
        "for": sr["subject"],
        "authoredOn": now.isoformat(timespec="seconds"),
        "lastModified": now.isoformat(timespec="seconds"),
        "requester": sr.get("requester") or {"reference": f"Organization/{org_id}"},
        "owner": {"reference": f"Organization/{org_id}"},
        "executionPeriod": {"start": now.isoformat(timespec="seconds")},
        "note": [{"authorReference": {"reference": practitioner}, "text": status}],
    }


def hospital_task(txn: Transaction, request_id: str) -> Resource | None:
    """The hospital's Task of a referral (``Task?based-on=ServiceRequest/{id}``), if any."""
    from healthbridge.web.data import resources

    found = resources(txn, "Task", [("based-on", f"ServiceRequest/{request_id}")])
    return max(found, key=lambda t: str(t.get("authoredOn", "")), default=None)


def _save(txn: Transaction, task: Resource) -> Resource:
    """Create the Task (server-assigned id: only the system role creates with PUT) or
    update it."""
    if task.get("id"):
        return dict(txn.update("Task", str(task["id"]), task).stored.resource or task)
    return dict(txn.create(task).stored.resource or task)


def accept(
    txn: Transaction, request_id: str, org_id: str, practitioner: str, now: dt.datetime
) -> Resource:
    """The hospital takes the referral (Task ``accepted``); the referral stays open."""
    sr = _request(txn, request_id, org_id)
    if sr.get("status") not in OPEN:
        raise ReferralError("referral.err_closed")
    task = hospital_task(txn, request_id) or _task(sr, org_id, practitioner, "accepted", now)
    task = {**task, "status": "accepted", "lastModified": now.isoformat(timespec="seconds")}
    return _save(txn, task)


def decline(
    txn: Transaction, request_id: str, org_id: str, practitioner: str, now: dt.datetime,
    reason: str,
) -> Resource:  # fmt: skip
    """The hospital declines (Task ``rejected`` with the reason); the referrer decides next."""
    sr = _request(txn, request_id, org_id)
    if sr.get("status") not in OPEN:
        raise ReferralError("referral.err_closed")
    task = hospital_task(txn, request_id) or _task(sr, org_id, practitioner, "rejected", now)
    task = {
        **task,
        "status": "rejected",
        "statusReason": {"text": reason or "—"},
        "lastModified": now.isoformat(timespec="seconds"),
    }
    return _save(txn, task)


def answer(
    txn: Transaction, request_id: str, org_id: str, practitioner: str, now: dt.datetime,
    reply: Answer,
) -> Resource:  # fmt: skip
    """Answer and close: the Task ``completed`` with findings, plan and follow-up date, then
    the ServiceRequest ``completed``."""
    sr = _request(txn, request_id, org_id)
    if sr.get("status") not in OPEN:
        raise ReferralError("referral.err_closed")
    task = hospital_task(txn, request_id) or _task(sr, org_id, practitioner, "completed", now)

    def output(code: str, **value: Any) -> dict[str, Any]:
        return {"type": {"coding": [{"system": OUTPUT_SYSTEM, "code": code}]}, **value}

    outputs = [
        output("findings", valueString=reply.findings),
        output("plan", valueString=reply.plan),
    ]
    if reply.follow_up is not None:
        outputs.append(output("follow-up", valueDate=reply.follow_up.isoformat()))
    stamp = now.isoformat(timespec="seconds")
    task = {
        **task,
        "status": "completed",
        "lastModified": stamp,
        "executionPeriod": {**task.get("executionPeriod", {}), "end": stamp},
        "output": outputs,
    }
    saved = _save(txn, task)
    txn.update("ServiceRequest", str(sr["id"]), {**sr, "status": "completed"})
    return saved


def now_cst() -> dt.datetime:
    return dt.datetime.now(CST).replace(microsecond=0)
