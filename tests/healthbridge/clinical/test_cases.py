"""Managed cases: follow-up schedule from the rule table, missed follow-ups, batch = per child."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from healthbridge.clinical.cases import (
    LOST,
    OVERDUE,
    ManagedCase,
    case_findings,
    case_status,
    interval_days,
    next_follow_up,
)
from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.clinical.evaluate import CASE_KINDS, district_case_findings, evaluate_child
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import ChildRecord, child_records
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district
from healthbridge.clinical.vocab import AlertKind, Severity, Sex

BORN = date(2025, 1, 10)


def test_every_condition_has_a_schedule_and_closure_criteria(rs: RuleSet) -> None:
    codes = {c.code for c in rs.cases.conditions}
    assert codes == {
        "malnutrition-moderate",
        "malnutrition-severe",
        "anaemia",
        "rickets",
        "obesity",
        "preterm-lbw",
        "high-risk-newborn",
    }
    for c in rs.cases.conditions:
        assert c.intervals
        assert c.closure_zh
        assert c.closure_en
    assert [o.code for o in rs.cases.outcomes] == ["cured", "improved", "referred", "lost"]


def test_anaemia_first_recheck_after_four_weeks_then_monthly(rs: RuleSet) -> None:
    case = ManagedCase("e1", "anaemia", date(2026, 3, 1))
    assert next_follow_up(case, BORN, rs.cases) == date(2026, 3, 29)
    visited = replace(case, follow_ups=(date(2026, 3, 30),))
    assert next_follow_up(visited, BORN, rs.cases) == date(2026, 4, 29)
    # a visit after the evaluation day is not counted
    assert next_follow_up(visited, BORN, rs.cases, as_of=date(2026, 3, 29)) == date(2026, 3, 29)
    assert next_follow_up(replace(case, active=False), BORN, rs.cases) is None


def test_preterm_intervals_follow_corrected_age(rs: RuleSet) -> None:
    cond = rs.cases.condition("preterm-lbw")
    born = date(2026, 1, 1)
    # 30 weeks: corrected birth 10 weeks later (2026-03-12)
    assert interval_days(cond, born, date(2026, 8, 1), 30.0) == 30  # corrected 4 months
    assert interval_days(cond, born, date(2026, 8, 1), None) == 60  # chronological 7 months
    # 30 weeks is a high-risk preterm (< 34 weeks): every 3 months at corrected 13-24 months
    assert interval_days(cond, born, date(2027, 6, 1), 30.0) == 90  # corrected 14 months
    # 35 weeks, 2200 g: the low-risk schedule, at least every 6 months after 12 months
    assert interval_days(cond, born, date(2027, 6, 1), 35.0, 2200.0) == 180


def test_overdue_then_lost_to_follow_up(rs: RuleSet) -> None:
    case = ManagedCase("e1", "malnutrition-moderate", date(2026, 3, 1))
    due = date(2026, 3, 31)
    grace = rs.cases.overdue_after_days
    assert case_findings("c", BORN, [case], rs.cases, due + timedelta(days=grace)) == ()
    (f,) = case_findings("c", BORN, [case], rs.cases, due + timedelta(days=grace + 1))
    assert (f.kind, f.grade, f.severity) == (
        AlertKind.CASE_FOLLOW_UP_OVERDUE,
        OVERDUE,
        Severity.MODERATE,
    )
    assert f.evidence_ids == ("e1",)
    assert f.items == ("malnutrition-moderate",)
    assert f.observed_on == due
    (lost,) = case_findings(
        "c", BORN, [case], rs.cases, due + timedelta(days=rs.cases.lost_after_days + 1)
    )
    assert (lost.grade, lost.severity) == (LOST, Severity.HIGH)
    status = case_status(case, BORN, rs.cases, due + timedelta(days=rs.cases.lost_after_days + 1))
    assert status.overdue
    assert status.lost


def test_a_visit_or_closure_clears_the_finding(rs: RuleSet) -> None:
    case = ManagedCase("e1", "obesity", date(2026, 3, 1))
    late = date(2026, 5, 1)
    assert case_findings("c", BORN, [case], rs.cases, late)
    assert not case_findings(
        "c", BORN, [replace(case, follow_ups=(date(2026, 4, 25),))], rs.cases, late
    )
    closed = replace(case, active=False, end=date(2026, 4, 1), outcome="improved")
    assert not case_findings("c", BORN, [closed], rs.cases, late)
    # a case enrolled after the evaluation day is not yet there
    assert not case_findings("c", BORN, [case], rs.cases, date(2026, 2, 1))


def test_two_open_cases_give_one_finding(rs: RuleSet) -> None:
    a = ManagedCase("e1", "anaemia", date(2026, 1, 1))
    b = ManagedCase("e2", "rickets", date(2026, 1, 5))
    (f,) = case_findings("c", BORN, [b, a], rs.cases, date(2026, 6, 1))
    assert f.evidence_ids == ("e1", "e2")
    assert f.items == ("anaemia", "rickets")


def test_unknown_condition_is_refused(rs: RuleSet) -> None:
    with pytest.raises(ClinicalInputError):
        case_findings(
            "c", BORN, [ManagedCase("e", "nope", date(2026, 1, 1))], rs.cases, date(2026, 6, 1)
        )


def test_evaluate_child_includes_case_findings(rs: RuleSet) -> None:
    record = ChildRecord(
        "c", BORN, Sex.FEMALE, cases=(ManagedCase("e1", "anaemia", date(2026, 1, 1)),)
    )
    kinds = {f.kind for f in evaluate_child(record, rs, date(2026, 6, 1))}
    assert AlertKind.CASE_FOLLOW_UP_OVERDUE in kinds


def test_district_case_findings_equal_per_child(rs: RuleSet) -> None:
    spec = SyntheticSpec(children=600, seed=21)
    data = synthetic_district(spec, rs)
    batch = frame_to_findings(district_case_findings(data, rs, spec.as_of))
    per_child = tuple(
        f
        for r in child_records(data)
        for f in evaluate_child(r, rs, spec.as_of)
        if f.kind in CASE_KINDS
    )
    assert batch == per_child
    assert {f.grade for f in batch} == {OVERDUE, LOST}  # the district exercises both grades
