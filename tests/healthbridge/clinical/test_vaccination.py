from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthbridge.clinical.admission import (
    AdmissionState,
    admission_check,
    admission_finding,
    advance_admission,
    centre_admission_list,
)
from healthbridge.clinical.ages import add_age
from healthbridge.clinical.errors import AdmissionStateError
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vaccination import (
    DoseStatus,
    GivenDose,
    InvalidReason,
    minimum_age,
    vaccination_findings,
    vaccination_plan,
)
from healthbridge.clinical.vocab import AlertKind, Severity, Sex

BIRTH = date(2026, 1, 31)


def plan(
    rs: RuleSet,
    doses: list[tuple[str, date]],
    as_of: date,
    sex: Sex = Sex.MALE,
    birth: date = BIRTH,
):
    given = [GivenDose(f"i{k}", v, d) for k, (v, d) in enumerate(doses)]
    return vaccination_plan(birth, sex, given, rs.vaccination, as_of)


def test_month_end_clamping_for_hepb2(rs: RuleSet) -> None:
    p = plan(rs, [("HepB", BIRTH)], date(2026, 2, 27))
    assert p.dose("HepB-2").earliest == date(
        2026, 2, 28
    )  # 31 Jan + 1 month; 28 d interval is 28 Feb too
    assert p.dose("HepB-2").status is DoseStatus.NOT_YET_DUE
    assert plan(rs, [("HepB", BIRTH)], date(2026, 2, 28)).dose("HepB-2").status is DoseStatus.DUE


def test_newborn_doses_due_then_overdue(rs: RuleSet) -> None:
    p = plan(rs, [], BIRTH)
    assert p.dose("HepB-1").status is DoseStatus.DUE
    assert p.dose("BCG-1").status is DoseStatus.DUE
    assert (
        plan(rs, [], BIRTH + timedelta(days=1)).dose("HepB-1").status is DoseStatus.OVERDUE
    )  # within 24 h


@pytest.mark.parametrize(("gap", "valid"), [(27, False), (28, True)])
def test_minimum_interval_exactly_28_days(rs: RuleSet, gap: int, valid: bool) -> None:
    d1 = date(2026, 6, 30)  # DTaP1 late, at 5 months: the interval, not the age, binds
    p = plan(rs, [("DTaP", d1), ("DTaP", d1 + timedelta(days=gap))], date(2026, 8, 1))
    assert (p.dose("DTP-2").status is DoseStatus.GIVEN) is valid
    if not valid:
        assert p.invalid[0].reason is InvalidReason.INTERVAL
        assert p.dose("DTP-2").earliest == d1 + timedelta(days=28)


@pytest.mark.parametrize(("gap", "valid"), [(27, False), (28, True), (0, True)])
def test_live_injectable_28_day_rule(rs: RuleSet, gap: int, valid: bool) -> None:
    mmr = date(2026, 9, 30)  # 8 months
    je = mmr + timedelta(days=gap)
    p = plan(rs, [("MMR", mmr), ("JE-L", je)], je)
    assert (p.dose("JE-L-1").status is DoseStatus.GIVEN) is valid
    if not valid:
        assert p.invalid[0].reason is InvalidReason.LIVE_INTERVAL
        # the invalid dose was a live injection too: the repeat waits 28 days after it
        assert p.dose("JE-L-1").earliest == je + timedelta(days=28)
        assert p.dose("JE-L-1").status is DoseStatus.NOT_YET_DUE


def test_missing_live_dose_planned_after_live_window(rs: RuleSet) -> None:
    mmr = date(2026, 10, 10)
    p = plan(rs, [("MMR", mmr)], date(2026, 10, 11))
    assert p.dose("JE-L-1").earliest == mmr + timedelta(days=28)


def test_oral_live_vaccine_has_no_interval_restriction(rs: RuleSet) -> None:
    mmr = date(2026, 9, 30)
    doses = [
        ("IPV", date(2026, 3, 31)),
        ("IPV", date(2026, 4, 30)),
        ("MMR", mmr),
        ("bOPV", mmr + timedelta(days=3)),
    ]
    assert plan(rs, doses, date(2026, 11, 1)).dose("polio-3").status is DoseStatus.GIVEN


def test_before_minimum_age_is_invalid(rs: RuleSet) -> None:
    p = plan(rs, [("MMR", date(2026, 9, 29))], date(2026, 10, 5))
    assert p.invalid[0].reason is InvalidReason.BEFORE_MIN_AGE
    # the invalid dose was still a live injection: the repeat waits 28 days
    assert p.dose("MMR-1").status is DoseStatus.NOT_YET_DUE
    assert p.dose("MMR-1").earliest == date(2026, 10, 27)
    p = plan(rs, [("BCG", BIRTH), ("MMR", date(2026, 9, 20))], date(2026, 10, 20))
    assert p.dose("MMR-1").status is DoseStatus.DUE  # 8 months reached, live window over


def test_missed_dtap_dose_catches_up_without_restart(rs: RuleSet) -> None:
    """DTaP1 at 2 m, DTaP2 missed at 4 m; at 7 m only the missing doses are planned."""
    d1 = date(2026, 3, 31)
    as_of = date(2026, 8, 31)
    p = plan(rs, [("DTaP", d1)], as_of)
    assert p.dose("DTP-1").status is DoseStatus.GIVEN
    assert p.dose("DTP-2").status is DoseStatus.OVERDUE
    assert p.dose("DTP-2").earliest == date(2026, 5, 31)
    assert p.dose("DTP-3").status is DoseStatus.NOT_YET_DUE
    assert p.dose("DTP-3").earliest == as_of + timedelta(days=28)  # planned after the catch-up dose
    overdue = {f.kind: f.items for f in vaccination_findings("c1", p, rs.vaccination)}
    assert "DTP-2" in overdue[AlertKind.VACCINE_OVERDUE]
    # catch-up dose given: nothing restarts, DTP-3 due 28 days later
    d2 = date(2026, 9, 2)
    p = plan(rs, [("DTaP", d1), ("DTaP", d2)], d2 + timedelta(days=28))
    assert p.dose("DTP-2").given is not None
    assert p.dose("DTP-3").status is DoseStatus.DUE
    assert p.dose("DTP-3").earliest == d2 + timedelta(days=28)


def test_preterm_child_vaccinated_by_chronological_age(rs: RuleSet) -> None:
    """Born at 30 weeks: the 2-month doses are due at 2 months after birth, not corrected age."""
    birth = date(2026, 3, 15)
    p = plan(
        rs,
        [("HepB", birth), ("BCG", birth), ("HepB", date(2026, 4, 15))],
        date(2026, 5, 15),
        birth=birth,
    )
    assert p.dose("DTP-1").status is DoseStatus.DUE
    assert p.dose("polio-1").status is DoseStatus.DUE
    assert p.dose("DTP-1").earliest == date(2026, 5, 15)


def test_dtp_schedule_differs_by_edition(rs: RuleSet, rs2021: RuleSet) -> None:
    at_two_months = date(2026, 3, 31)
    assert plan(rs, [], at_two_months).dose("DTP-1").status is DoseStatus.DUE
    assert plan(rs2021, [], at_two_months).dose("DTP-1").status is DoseStatus.NOT_YET_DUE
    assert plan(rs2021, [], date(2032, 2, 1)).dose("DTP-5").vaccine == "DT"


def test_hepb3_needs_four_months_after_dose_1(rs: RuleSet) -> None:
    late = date(2026, 5, 1)  # HepB1 at 3 months (late), HepB2 one month later
    p = plan(rs, [("HepB", late), ("HepB", date(2026, 6, 1))], date(2026, 8, 1))
    assert p.dose("HepB-3").earliest == date(2026, 9, 1)  # D1 + 4 months, later than D2 + 60 d


def test_je_inactivated_option_is_followed(rs: RuleSet) -> None:
    p = plan(rs, [("JE-I", date(2026, 9, 30))], date(2026, 10, 8))
    assert p.dose("JE-I-2").status is DoseStatus.DUE
    assert p.dose("JE-I-2").earliest == date(2026, 10, 7)
    assert all(not d.dose_id.startswith("JE-L") for d in p.doses)


def test_mpsv_a_not_applicable_from_24_months_and_ac_continues(rs: RuleSet) -> None:
    as_of = date(2029, 3, 1)  # 3 y 1 m, no meningococcal doses ever
    p = plan(rs, [], as_of)
    assert p.dose("MEN-1").status is DoseStatus.NOT_APPLICABLE
    assert p.dose("MEN-3").status is DoseStatus.OVERDUE or p.dose("MEN-3").status is DoseStatus.DUE
    given = plan(rs, [("MPSV-AC", date(2029, 2, 1))], as_of)
    assert given.dose("MEN-3").status is DoseStatus.GIVEN
    assert given.invalid == ()


def test_hpv_for_girls_only(rs: RuleSet) -> None:
    as_of = date(2039, 3, 1)
    assert plan(rs, [], as_of, Sex.FEMALE).dose("HPV-1").status is DoseStatus.DUE
    assert plan(rs, [], as_of, Sex.MALE).dose("HPV-1").status is DoseStatus.NOT_APPLICABLE


def test_admission_check_deadlines_and_states(rs: RuleSet) -> None:
    p = plan(rs, [], date(2027, 9, 10))
    check = admission_check(
        "c1",
        "org1",
        date(2027, 9, 1),
        AdmissionState.NOT_SUBMITTED,
        p,
        rs.vaccination,
        date(2027, 10, 1),
    )
    assert check.check_deadline == date(2027, 10, 1)
    assert check.recheck_deadline == date(2027, 12, 31)
    assert not check.check_overdue
    assert check.incomplete
    f = admission_finding(check, rs.vaccination)
    assert f is not None
    assert f.severity is Severity.MODERATE
    late = admission_check(
        "c1",
        "org1",
        date(2027, 9, 1),
        AdmissionState.SUBMITTED,
        p,
        rs.vaccination,
        date(2027, 10, 2),
    )
    assert late.check_overdue
    f = admission_finding(late, rs.vaccination)
    assert f is not None
    assert f.severity is Severity.HIGH
    december = admission_check(
        "c1",
        "org1",
        date(2027, 12, 15),
        AdmissionState.ASSESSED_INCOMPLETE,
        p,
        rs.vaccination,
        date(2027, 12, 20),
    )
    assert december.recheck_deadline == date(2028, 12, 31)
    assert centre_admission_list([check, december], "org1")[0] is check


def test_admission_state_machine() -> None:
    s = AdmissionState.NOT_SUBMITTED
    for nxt in (
        AdmissionState.SUBMITTED,
        AdmissionState.ASSESSED_INCOMPLETE,
        AdmissionState.CATCHUP_IN_PROGRESS,
        AdmissionState.CATCHUP_RECORDED,
        AdmissionState.RECHECKED,
    ):
        s = advance_admission(s, nxt)
    assert s is AdmissionState.RECHECKED
    with pytest.raises(AdmissionStateError):
        advance_admission(AdmissionState.NOT_SUBMITTED, AdmissionState.RECHECKED)
    with pytest.raises(AdmissionStateError):
        advance_admission(AdmissionState.ASSESSED_COMPLETE, AdmissionState.SUBMITTED)


def test_complete_child_has_no_admission_finding(rs: RuleSet) -> None:
    birth = date(2026, 1, 31)
    doses = [("HepB", birth), ("BCG", birth), ("HepB", date(2026, 2, 28))]
    p = plan(rs, doses, date(2026, 3, 10))
    check = admission_check(
        "c1",
        "org1",
        date(2026, 3, 1),
        AdmissionState.SUBMITTED,
        p,
        rs.vaccination,
        date(2026, 3, 10),
    )
    assert check.missing_doses == ()
    assert admission_finding(check, rs.vaccination) is None


VACCINES = [
    "HepB",
    "BCG",
    "IPV",
    "bOPV",
    "DTaP",
    "MMR",
    "JE-L",
    "JE-I",
    "MPSV-A",
    "MPSV-AC",
    "HepA-L",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(VACCINES), st.integers(0, 2200)),
        max_size=25,
    ),
    st.integers(0, 2400),
)
def test_plan_invariants(rs: RuleSet, raw: list[tuple[str, int]], as_of_days: int) -> None:
    as_of = BIRTH + timedelta(days=as_of_days)
    given_doses = [GivenDose(f"i{k}", v, BIRTH + timedelta(days=d)) for k, (v, d) in enumerate(raw)]
    p = vaccination_plan(BIRTH, Sex.FEMALE, given_doses, rs.vaccination, as_of)
    # the plan does not depend on the order the doses are listed in
    backwards = list(reversed(given_doses))
    assert vaccination_plan(BIRTH, Sex.FEMALE, backwards, rs.vaccination, as_of) == p
    rules = {r.dose_id: r for r in rs.vaccination.doses}
    counted = [d.given for d in p.doses if d.given is not None]
    assert all(g.on <= as_of for g in counted)
    assert len(counted) + len(p.invalid) == sum(1 for g in given_doses if g.on <= as_of)
    by_series: dict[str, list[date]] = {}
    for d in p.doses:
        rule = rules[d.dose_id]
        if d.given is not None:
            # minimum age respected: the schedule's, or a product's own (``product_ages``: a
            # 4th IPV-containing dose completes polio from 18 months, 2021 说明)
            least = add_age(BIRTH, minimum_age(rule, d.given.product_code))
            assert d.given.on >= min(d.scheduled, least)
            assert d.given.vaccine in rule.accepts
            by_series.setdefault(d.series, []).append(d.given.on)
        elif d.status is not DoseStatus.NOT_APPLICABLE:
            assert d.earliest is not None
            assert d.earliest >= d.scheduled
            waiting = as_of < d.earliest and as_of < (d.overdue_from or as_of)
            assert (d.status is DoseStatus.NOT_YET_DUE) is waiting
    for dates in by_series.values():
        assert dates == sorted(dates)
