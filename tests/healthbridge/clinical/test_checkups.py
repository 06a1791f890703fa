from __future__ import annotations

from datetime import date, timedelta

import pytest

from healthbridge.clinical.checkups import (
    CheckupRecord,
    VisitStatus,
    checkup_findings,
    checkup_plan,
)
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import AlertKind

BIRTH = date(2026, 1, 31)


def status(
    rs: RuleSet, code: str, as_of: date, records: list[CheckupRecord] | None = None, **kw: date
) -> VisitStatus:
    return checkup_plan(BIRTH, records or [], rs.checkups, as_of, **kw).visit(code).status


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (27, VisitStatus.NOT_YET_DUE),
        (28, VisitStatus.DUE),
        (30, VisitStatus.DUE),
        (31, VisitStatus.OVERDUE),
    ],
)
def test_one_month_visit_day_28_to_30(rs: RuleSet, day: int, expected: VisitStatus) -> None:
    assert status(rs, "1m", BIRTH + timedelta(days=day)) is expected


def test_three_month_window_with_month_end_clamping(rs: RuleSet) -> None:
    # born 31 Jan: 3 months = 30 April (clamped); due 7 days before, overdue 30 days after
    target = date(2026, 4, 30)
    assert status(rs, "3m", target - timedelta(days=8)) is VisitStatus.NOT_YET_DUE
    assert status(rs, "3m", target - timedelta(days=7)) is VisitStatus.DUE
    assert status(rs, "3m", target + timedelta(days=29)) is VisitStatus.DUE
    assert status(rs, "3m", target + timedelta(days=30)) is VisitStatus.OVERDUE
    # missed from the 6-month target (31 July)
    assert status(rs, "3m", date(2026, 7, 30)) is VisitStatus.OVERDUE
    assert status(rs, "3m", date(2026, 7, 31)) is VisitStatus.MISSED


def test_newborn_visit_counts_from_discharge(rs: RuleSet) -> None:
    discharge = BIRTH + timedelta(days=5)
    assert (
        status(rs, "newborn-home", discharge + timedelta(days=7), discharge_date=discharge)
        is VisitStatus.DUE
    )
    assert (
        status(rs, "newborn-home", discharge + timedelta(days=8), discharge_date=discharge)
        is VisitStatus.OVERDUE
    )
    assert status(rs, "newborn-home", BIRTH + timedelta(days=8)) is VisitStatus.OVERDUE


def test_typed_and_untyped_checkups(rs: RuleSet) -> None:
    records = [
        CheckupRecord("k1", BIRTH + timedelta(days=29), "1m"),
        CheckupRecord("k2", date(2026, 5, 3), None),  # inside the 3-month window
        CheckupRecord("k3", date(2026, 6, 1), "daily-check"),  # not a scheduled visit type
    ]
    plan = checkup_plan(BIRTH, records, rs.checkups, date(2026, 6, 2))
    assert plan.visit("1m").checkup_id == "k1"
    assert plan.visit("3m").checkup_id == "k2"
    assert plan.visit("6m").status is VisitStatus.NOT_YET_DUE
    assert (
        plan.next_visit == "newborn-home" or plan.visit("newborn-home").status is VisitStatus.MISSED
    )


def test_next_due_and_findings(rs: RuleSet) -> None:
    records = [
        CheckupRecord("k0", BIRTH + timedelta(days=3), "newborn-home"),
        CheckupRecord("k1", BIRTH + timedelta(days=29), "1m"),
    ]
    as_of = date(2026, 6, 5)  # 3m overdue (from 30 May)
    plan = checkup_plan(BIRTH, records, rs.checkups, as_of)
    assert plan.next_visit == "3m"
    assert plan.next_due_date == date(2026, 4, 30)
    found = {f.kind: f.items for f in checkup_findings("c1", plan, rs.checkups)}
    assert found == {AlertKind.CHECKUP_OVERDUE: ("3m",)}


def test_missed_visit_alert_clears_after_a_later_visit(rs: RuleSet) -> None:
    records = [
        CheckupRecord("k0", BIRTH + timedelta(days=3), "newborn-home"),
        CheckupRecord("k1", BIRTH + timedelta(days=29), "1m"),
    ]
    as_of = date(2026, 8, 1)
    kinds = {
        f.kind
        for f in checkup_findings(
            "c1", checkup_plan(BIRTH, records, rs.checkups, as_of), rs.checkups
        )
    }
    assert AlertKind.CHECKUP_MISSED in kinds
    records.append(CheckupRecord("k2", date(2026, 8, 1), "6m"))
    plan = checkup_plan(BIRTH, records, rs.checkups, as_of)
    assert plan.visit("3m").status is VisitStatus.MISSED
    assert AlertKind.CHECKUP_MISSED not in {
        f.kind for f in checkup_findings("c1", plan, rs.checkups)
    }


def test_systematic_management_422(rs: RuleSet) -> None:
    codes = ["3m", "6m", "8m", "12m", "18m", "30m", "36m"]  # 24 m skipped
    targets = {v.code: v.age for v in rs.checkups.visits}
    from healthbridge.clinical.ages import add_age

    records = [
        CheckupRecord(f"k{c}", add_age(BIRTH, targets[c]) + timedelta(days=2), c) for c in codes
    ]
    plan = checkup_plan(BIRTH, records, rs.checkups, date(2029, 3, 1))
    counts = {s.year: (s.given, s.required, s.closed, s.met) for s in plan.systematic}
    assert counts == {1: (4, 4, True, True), 2: (1, 2, True, False), 3: (2, 2, True, True)}
    early = checkup_plan(BIRTH, records[:2], rs.checkups, date(2026, 8, 5))
    assert early.systematic[0].given == 2
    assert not early.systematic[0].closed


def test_no_checkup_alerts_after_the_programme(rs: RuleSet) -> None:
    six = checkup_plan(BIRTH, [], rs.checkups, date(2032, 2, 15))  # 6 y 2 w: 6y visit due
    assert not six.programme_over
    assert {f.kind for f in checkup_findings("c1", six, rs.checkups)} >= {AlertKind.CHECKUP_DUE}
    seven = checkup_plan(BIRTH, [], rs.checkups, date(2033, 1, 31))
    assert seven.programme_over
    assert checkup_findings("c1", seven, rs.checkups) == ()
