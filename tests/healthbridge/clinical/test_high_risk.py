"""The high-risk preterm schedule (早产儿保健工作规范 2017); high-risk infants not yet managed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from healthbridge.clinical.cases import ManagedCase, interval_days, next_follow_up
from healthbridge.clinical.evaluate import district_case_findings, evaluate_child
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.high_risk import eligible, high_risk_findings
from healthbridge.clinical.records import ChildRecord, child_records
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district
from healthbridge.clinical.vocab import AlertKind, Sex

BORN = date(2026, 1, 1)


def test_rule_table_has_the_high_risk_group(rs: RuleSet) -> None:
    preterm = rs.cases.condition("preterm-lbw")
    assert preterm.high_risk is not None
    assert (preterm.high_risk.below_weeks, preterm.high_risk.below_grams) == (34, 2000)
    assert [i.days for i in preterm.high_risk.intervals] == [14, 30, 60, 90, 180]
    assert (preterm.enrol_below_weeks, preterm.enrol_below_grams) == (37, 2500)


@pytest.mark.parametrize(
    ("weeks", "grams", "high"),
    [(32.0, None, True), (35.0, 2200.0, False), (38.0, 1900.0, True), (None, None, False)],
)
def test_high_risk_group(rs: RuleSet, weeks: float | None, grams: float | None, high: bool) -> None:
    assert rs.cases.condition("preterm-lbw").is_high_risk(weeks, grams) is high


def test_high_risk_intervals_by_corrected_age(rs: RuleSet) -> None:
    c = rs.cases.condition("preterm-lbw")
    # 30 weeks: corrected birth 10 weeks after the birth date
    corrected = BORN + timedelta(weeks=10)
    assert interval_days(c, BORN, corrected + timedelta(days=10), 30.0) == 14  # < 1 month
    assert interval_days(c, BORN, corrected + timedelta(days=70), 30.0) == 30  # 2 months
    assert interval_days(c, BORN, corrected + timedelta(days=250), 30.0) == 60  # 8 months
    assert interval_days(c, BORN, corrected + timedelta(days=500), 30.0) == 90  # 16 months
    # the same ages on the low-risk schedule (35 weeks, 2200 g)
    assert interval_days(c, BORN, BORN + timedelta(days=40), 35.0, 2200.0) == 30
    assert interval_days(c, BORN, BORN + timedelta(days=500), 35.0, 2200.0) == 180


def test_next_follow_up_uses_the_child_schedule(rs: RuleSet) -> None:
    case = ManagedCase("e", "preterm-lbw", BORN + timedelta(days=20))
    high = next_follow_up(case, BORN, rs.cases, 38.0, None, 1800.0)  # term but < 2000 g
    low = next_follow_up(case, BORN, rs.cases, 38.0, None, 2400.0)
    assert high == case.start + timedelta(days=14)
    assert low == case.start + timedelta(days=30)


def test_eligibility_from_birth_facts(rs: RuleSet) -> None:
    c = rs.cases.condition("preterm-lbw")
    assert eligible(c, 36.5, None)
    assert eligible(c, None, 2400.0)
    assert not eligible(c, 37.0, 2500.0)
    assert not eligible(rs.cases.condition("anaemia"), 30.0, 1000.0)


def test_unmanaged_preterm_child_is_due_then_overdue(rs: RuleSet) -> None:
    def find(on: date, cases: tuple[ManagedCase, ...] = ()) -> tuple[str, ...]:
        found = high_risk_findings("c", BORN, 32.0, 1700.0, cases, rs.cases, on)
        assert all(f.kind is AlertKind.HIGH_RISK_NOT_MANAGED for f in found)
        return tuple(f"{f.grade}:{f.severity.value}:{f.observed_on}" for f in found)

    first = BORN + timedelta(days=14)  # high-risk: every 2 weeks before corrected 1 month
    assert find(first - timedelta(days=1)) == ()
    assert find(first) == (f"due:moderate:{first}",)
    assert find(first + timedelta(days=15)) == (f"overdue:high:{first}",)
    # enrolled in the case (open or closed): the case's own follow-up rule takes over
    enrolled = (ManagedCase("e", "preterm-lbw", BORN + timedelta(days=20), active=False),)
    assert find(BORN + timedelta(days=40), enrolled) == ()
    # a case of another condition does not count; after corrected 24 months nothing is due
    other = (ManagedCase("e", "anaemia", BORN + timedelta(days=20)),)
    assert find(BORN + timedelta(days=40), other) != ()
    assert find(BORN + timedelta(days=8 * 7 + 2 * 366)) == ()


def test_term_child_has_no_high_risk_work(rs: RuleSet) -> None:
    assert high_risk_findings("c", BORN, 39.0, 3300.0, (), rs.cases, date(2026, 6, 1)) == ()
    assert high_risk_findings("c", BORN, None, None, (), rs.cases, date(2026, 6, 1)) == ()


def test_evaluate_child_reads_the_birth_facts(rs: RuleSet) -> None:
    record = ChildRecord("c", BORN, Sex.MALE, birth_weight_g=2300.0)
    kinds = {f.kind for f in evaluate_child(record, rs, date(2026, 3, 1))}
    assert AlertKind.HIGH_RISK_NOT_MANAGED in kinds


def test_district_equals_per_child(rs: RuleSet) -> None:
    spec = SyntheticSpec(children=600, seed=21)
    data = synthetic_district(spec, rs)
    batch = frame_to_findings(district_case_findings(data, rs, spec.as_of))
    per_child = tuple(
        f
        for r in child_records(data)
        for f in evaluate_child(r, rs, spec.as_of)
        if f.kind is AlertKind.HIGH_RISK_NOT_MANAGED
    )
    assert per_child  # the synthetic district has unmanaged preterm children
    assert tuple(f for f in batch if f.kind is AlertKind.HIGH_RISK_NOT_MANAGED) == per_child
