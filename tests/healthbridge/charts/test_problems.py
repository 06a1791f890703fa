"""One message per problem for parents, with who will contact them and by when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from healthbridge.charts.labels import Lang
from healthbridge.charts.problems import problems
from healthbridge.charts.summary import Alert


def alert(fid: str, kind: str, severity: str, display: str) -> Alert:
    return Alert(fid, kind, "2026-11-20", severity, display, f"text of {kind}")


def review(fid: str, due: str, status: str = "requested") -> dict[str, Any]:
    return {
        "resourceType": "Task", "status": status, "focus": {"reference": f"Flag/{fid}"},
        "restriction": {"period": {"end": due}},
    }  # fmt: skip


def test_overlapping_growth_alerts_are_one_problem_with_who_and_when() -> None:
    alerts = [
        alert("f1", "underweight", "moderate", "低体重"),
        alert("f2", "wasting", "high", "消瘦"),
        alert("f3", "flat-growth", "low", "体重增长不良"),
        alert("f4", "vaccine-overdue", "moderate", "疫苗逾期未种"),
    ]
    tasks = [review("f1", "2026-11-27"), review("f2", "2026-11-23"), review("f4", "2026-12-01")]
    merged = problems(alerts, tasks, Lang.ZH, centre="小太阳托育园")
    assert [p.key for p in merged] == ["nutrition", "vaccine"]  # the most severe first
    growth = merged[0]
    assert growth.findings == ("消瘦", "低体重", "体重增长不良")
    assert growth.message == "text of wasting"
    assert growth.contact == "小太阳托育园的保健医生会在 2026-11-23 前联系您。"
    en = problems(alerts, tasks, Lang.EN)[0]
    assert en.contact == "The centre's health manager will contact you by 2026-11-23."


def test_without_an_open_review_the_next_checkup_is_named() -> None:
    alerts = [alert("f1", "anaemia", "moderate", "贫血")]
    done = [review("f1", "2026-11-23", status="completed")]
    only = problems(alerts, done, Lang.ZH, next_checkup=dt.date(2027, 1, 5))[0]
    assert "下次体检（2027-01-05）" in only.contact


def test_follow_up_alerts_are_one_problem() -> None:
    """A missed managed-case visit and an unmanaged high-risk infant are one "follow-up"
    message, not two, and not "Other"."""
    alerts = [
        alert("f1", "case-follow-up-overdue", "moderate", "专案随访逾期"),
        alert("f2", "high-risk-not-managed", "high", "高危儿随访未建档"),
    ]
    (merged,) = problems(alerts, [], Lang.EN)
    assert (merged.key, merged.title) == ("follow-up", "Follow-up visits")
    assert merged.message == "text of high-risk-not-managed"


def test_a_review_date_already_past_is_not_promised_to_the_parent() -> None:
    """The review Task is overdue for the staff; the parent reads "soon", not a past date."""
    alerts = [alert("f1", "underweight", "moderate", "低体重")]
    tasks = [review("f1", "2026-10-12")]
    late = problems(alerts, tasks, Lang.ZH, centre="小太阳托育园", as_of=dt.date(2026, 12, 7))
    assert late[0].contact == "小太阳托育园的保健医生会尽快联系您。"
    on_time = problems(alerts, tasks, Lang.EN, as_of=dt.date(2026, 10, 1))
    assert on_time[0].contact == "The centre's health manager will contact you by 2026-10-12."
