from __future__ import annotations

from datetime import date, timedelta

import pytest

from healthbridge.clinical.daily_check import DailyCheck, cluster_findings, daily_check_findings
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import AlertKind, Severity, SubjectType

DAY = date(2026, 11, 16)


def check(
    n: int,
    child: str,
    on: date = DAY,
    temp: float | None = 36.6,
    symptoms: tuple[str, ...] = (),
    klass: str = "k1",
) -> DailyCheck:
    return DailyCheck(f"d{n}", child, "org1", klass, on, temp, symptoms)


@pytest.mark.parametrize(("temp", "fever"), [(37.2, False), (37.3, True), (38.0, True)])
def test_fever_threshold(rs: RuleSet, temp: float, fever: bool) -> None:
    found = daily_check_findings("c1", [check(1, "c1", temp=temp)], rs.daily_check, DAY)
    assert (AlertKind.FEVER in {f.kind for f in found}) is fever


def test_high_fever_and_reported_fever(rs: RuleSet) -> None:
    (f,) = daily_check_findings("c1", [check(1, "c1", temp=39.0)], rs.daily_check, DAY)
    assert f.severity is Severity.HIGH
    (f,) = daily_check_findings(
        "c1", [check(1, "c1", temp=None, symptoms=("fever",))], rs.daily_check, DAY
    )
    assert f.kind is AlertKind.FEVER
    assert f.detail == "fever reported"


def test_symptom_alert_is_same_day_only(rs: RuleSet) -> None:
    checks = [check(1, "c1", symptoms=("rash", "unlisted-note"))]
    (f,) = daily_check_findings("c1", checks, rs.daily_check, DAY)
    assert (f.kind, f.items) == (AlertKind.SYMPTOM, ("rash",))
    assert daily_check_findings("c1", checks, rs.daily_check, DAY + timedelta(days=1)) == ()


def test_three_children_one_day_is_a_cluster(rs: RuleSet) -> None:
    two = [check(i, f"c{i}", temp=37.8) for i in range(2)]
    assert cluster_findings("org1", two, rs.daily_check, DAY) == ()
    three = [*two, check(9, "c9", temp=37.5)]
    (f,) = cluster_findings("org1", three, rs.daily_check, DAY)
    assert f.kind is AlertKind.OUTBREAK_CLUSTER
    assert f.subject == "org1"
    assert f.subject_type is SubjectType.CENTRE
    assert f.items == ("k1:fever",)
    assert len(f.evidence_ids) == 3


def test_five_children_in_three_days(rs: RuleSet) -> None:
    days = [DAY - timedelta(days=2), DAY - timedelta(days=2), DAY - timedelta(days=1), DAY, DAY]
    four = [check(i, f"c{i}", on=d, symptoms=("diarrhoea",)) for i, d in enumerate(days[:4])]
    assert cluster_findings("org1", four, rs.daily_check, DAY) == ()
    five = [
        *four,
        check(4, "c4", on=days[4], symptoms=("vomiting",)),
    ]  # same syndrome: gastrointestinal
    (f,) = cluster_findings("org1", five, rs.daily_check, DAY)
    assert f.items == ("k1:gastrointestinal",)
    # a case 3 days back is outside the window
    shifted = [
        *four[1:],
        check(4, "c4", on=DAY, symptoms=("vomiting",)),
        check(5, "c5", on=DAY - timedelta(days=3), symptoms=("diarrhoea",)),
    ]
    assert cluster_findings("org1", shifted, rs.daily_check, DAY) == ()


def test_cluster_needs_same_class_and_syndrome(rs: RuleSet) -> None:
    mixed_class = [
        check(1, "c1", temp=38.0),
        check(2, "c2", temp=38.0),
        check(3, "c3", temp=38.0, klass="k2"),
    ]
    assert cluster_findings("org1", mixed_class, rs.daily_check, DAY) == ()
    mixed_syndrome = [
        check(1, "c1", temp=38.0),
        check(2, "c2", temp=38.0),
        check(3, "c3", symptoms=("rash",)),
    ]
    assert cluster_findings("org1", mixed_syndrome, rs.daily_check, DAY) == ()
    same_child_twice = [
        check(1, "c1", temp=38.0),
        check(2, "c1", temp=38.2),
        check(3, "c2", temp=38.0),
    ]
    assert cluster_findings("org1", same_child_twice, rs.daily_check, DAY) == ()


def test_class_fever_cluster_day_by_day(rs: RuleSet) -> None:
    """Monday one febrile child, Tuesday two (3 in 2 days: no alert), Wednesday two more:
    5 children in 3 consecutive days raise the outbreak-report alert."""
    mon, tue, wed = DAY - timedelta(days=2), DAY - timedelta(days=1), DAY
    checks = [check(1, "c1", mon, 37.9), check(2, "c2", tue, 38.1), check(3, "c3", tue, 37.6)]
    assert cluster_findings("org1", checks, rs.daily_check, tue) == ()
    checks += [check(4, "c4", wed, 38.4), check(5, "c5", wed, 37.3)]
    (f,) = cluster_findings("org1", checks, rs.daily_check, wed)
    assert "5 children in 3 d" in f.detail
    # two days later the window holds only Wednesday's two cases: the cluster condition clears
    assert cluster_findings("org1", checks, rs.daily_check, wed + timedelta(days=2)) == ()


@pytest.mark.parametrize("symptom", ["fast-breathing", "severe-vomiting", "severe-diarrhoea"])
def test_single_case_report_within_24h(rs: RuleSet, symptom: str) -> None:
    (f,) = daily_check_findings(
        "c1", [check(1, "c1", symptoms=(symptom, "cough"))], rs.daily_check, DAY
    )
    assert (f.kind, f.severity, f.grade) == (AlertKind.SYMPTOM, Severity.HIGH, "report-24h")
    (g,) = daily_check_findings("c1", [check(1, "c1", symptoms=("cough",))], rs.daily_check, DAY)
    assert (g.severity, g.grade) == (rs.daily_check.symptom_severity, "")


def test_severe_gastro_symptoms_count_in_the_gastro_cluster(rs: RuleSet) -> None:
    checks = [
        check(1, "c1", temp=None, symptoms=("severe-vomiting",)),
        check(2, "c2", temp=None, symptoms=("diarrhoea",)),
        check(3, "c3", temp=None, symptoms=("vomiting",)),
    ]
    (f,) = cluster_findings("org1", checks, rs.daily_check, DAY)
    assert f.items == ("k1:gastrointestinal",)
