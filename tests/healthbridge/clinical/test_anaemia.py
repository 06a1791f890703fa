from __future__ import annotations

from datetime import date, timedelta

import pytest

from healthbridge.clinical.anaemia import REFER, HbResult, anaemia_findings
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import Severity

BIRTH = date(2025, 1, 31)
AT_8M = date(2025, 9, 30)


@pytest.mark.parametrize(
    ("hb", "grade", "severity"),
    [
        (110, None, None),
        (109, "mild", Severity.LOW),
        (90, "mild", Severity.LOW),
        (89, "moderate", Severity.MODERATE),
        (60, "moderate", Severity.MODERATE),
        (59, "severe", Severity.HIGH),
    ],
)
def test_hb_boundaries(
    rs: RuleSet, hb: float, grade: str | None, severity: Severity | None
) -> None:
    found = anaemia_findings("c1", BIRTH, [HbResult("h1", AT_8M, hb)], rs.anaemia, AT_8M)
    if grade is None:
        assert found == ()
    else:
        (f,) = found
        assert (f.grade, f.severity) == (grade, severity)
        assert (REFER in f.items) is (grade == "severe")


def test_no_threshold_before_six_months(rs: RuleSet) -> None:
    six_months = date(2025, 7, 31)
    assert (
        anaemia_findings(
            "c1",
            BIRTH,
            [HbResult("h1", six_months - timedelta(days=1), 95)],
            rs.anaemia,
            six_months,
        )
        == ()
    )
    assert (
        anaemia_findings("c1", BIRTH, [HbResult("h1", six_months, 95)], rs.anaemia, six_months)
        != ()
    )


def test_referral_when_no_improvement_after_a_month(rs: RuleSet) -> None:
    first = HbResult("h1", AT_8M, 100)
    (f,) = anaemia_findings(
        "c1",
        BIRTH,
        [first, HbResult("h2", AT_8M + timedelta(days=28), 100)],
        rs.anaemia,
        date(2026, 1, 1),
    )
    assert REFER in f.items
    assert f.evidence_ids == ("h1", "h2")
    (f,) = anaemia_findings(
        "c1",
        BIRTH,
        [first, HbResult("h2", AT_8M + timedelta(days=27), 99)],
        rs.anaemia,
        date(2026, 1, 1),
    )
    assert REFER not in f.items
    (f,) = anaemia_findings(
        "c1",
        BIRTH,
        [first, HbResult("h2", AT_8M + timedelta(days=30), 104)],
        rs.anaemia,
        date(2026, 1, 1),
    )
    assert REFER not in f.items
    assert (
        anaemia_findings(
            "c1",
            BIRTH,
            [first, HbResult("h2", AT_8M + timedelta(days=30), 115)],
            rs.anaemia,
            date(2026, 1, 1),
        )
        == ()
    )
