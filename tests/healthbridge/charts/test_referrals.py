"""A child's referrals read from ServiceRequest + Task; the plan's follow-up is the next visit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from healthbridge.charts.referrals import OUTPUT_SYSTEM, referral_lines
from healthbridge.charts.summary import FOLLOW_UP, summarise
from tests.healthbridge.charts.test_summary import RULES, _child


def request(pid: str, rid: str = "sr1", status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest", "id": rid, "status": status, "intent": "order",
        "code": {"text": "营养评估"}, "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "2026-11-20T09:00:00+08:00",
        "performer": [{"reference": "Organization/org-mch"}],
    }  # fmt: skip


def task(rid: str, status: str, follow_up: str | None = None) -> dict[str, Any]:
    def kind(code: str) -> dict[str, Any]:
        return {"coding": [{"system": OUTPUT_SYSTEM, "code": code}]}

    out = [
        {"type": kind("findings"), "valueString": "轻度贫血"},
        {"type": kind("plan"), "valueString": "补铁 4 周"},
    ]
    if follow_up:
        out.append(
            {"type": {"coding": [{"system": OUTPUT_SYSTEM, "code": "follow-up"}]},
             "valueDate": follow_up}
        )  # fmt: skip
    return {
        "resourceType": "Task", "id": f"t-{rid}", "status": status, "intent": "order",
        "basedOn": [{"reference": f"ServiceRequest/{rid}"}],
        "executionPeriod": {"start": "2026-11-21", "end": "2026-11-22"},
        "output": out if status == "completed" else [],
    }  # fmt: skip


def test_stages_follow_the_task() -> None:
    assert referral_lines([request("c")])[0].stage == "sent"
    assert referral_lines([request("c"), task("sr1", "accepted")])[0].stage == "accepted"
    assert referral_lines([request("c"), task("sr1", "rejected")])[0].stage == "rejected"
    assert referral_lines([request("c", status="revoked")])[0].stage == "revoked"
    done = referral_lines(
        [request("c", status="completed"), task("sr1", "completed", "2026-12-01")]
    )
    line = done[0]
    assert (line.stage, line.findings, line.plan) == ("answered", "轻度贫血", "补铁 4 周")
    assert line.follow_up == dt.date(2026, 12, 1)
    assert line.target_id == "org-mch"


def test_next_checkup_follows_the_plan() -> None:
    resources, as_of = _child()
    pid = resources[0]["id"]
    plain = summarise(resources, pid, RULES, as_of=as_of)
    soon = as_of + dt.timedelta(days=1)
    answered = [request(pid, status="completed"), task("sr1", "completed", soon.isoformat())]
    s = summarise([*resources, *answered], pid, RULES, as_of=as_of)
    assert s.referrals[0].plan == "补铁 4 周"
    assert plain.next_checkup is not None
    assert plain.next_checkup[2] > soon
    assert s.next_checkup is not None
    assert (s.next_checkup[0], s.next_checkup[2]) == (FOLLOW_UP, soon)
    # a follow-up already past does not move the next visit
    past = [request(pid, status="completed"), task("sr1", "completed", "2000-01-01")]
    assert (
        summarise([*resources, *past], pid, RULES, as_of=as_of).next_checkup == plain.next_checkup
    )
