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


@pytest.mark.parametrize(
    ("age_days", "hb", "grade"),
    [
        (10, 145, None),  # newborn: < 145 g/L
        (10, 144, "mild"),
        (10, 119, "moderate"),
        (10, 89, "severe"),
        (60, 90, None),  # 1-4 months: < 90 g/L
        (60, 89, "moderate"),
        (150, 100, None),  # 4-6 months: < 100 g/L
        (150, 99, "mild"),
    ],
)
def test_band_under_six_months(rs: RuleSet, age_days: int, hb: float, grade: str | None) -> None:
    """Chinese infant criteria (1989, 诸福棠实用儿科学; unconfirmed, tagged ``?``)."""
    on = BIRTH + timedelta(days=age_days)
    found = anaemia_findings("c1", BIRTH, [HbResult("h1", on, hb)], rs.anaemia, on)
    assert (found[0].grade if found else None) == grade
    assert all(b.evidence.value == "?" for b in rs.anaemia.bands[:3])


LHASA_M = 3650.0


def test_lhasa_two_year_old_with_hb_115_is_anaemic(rs: RuleSet) -> None:
    """WHO/NMH/NHD/MNM/11.1 Table 2: at 3,500-3,999 m, 27 g/L is subtracted from the measured
    Hb; 115 - 27 = 88 g/L is below 110 (moderate: 60-89)."""
    born = date(2024, 1, 1)
    on = date(2026, 1, 15)
    results = [HbResult("h1", on, 115)]
    assert anaemia_findings("c1", born, results, rs.anaemia, on) == ()  # at sea level
    (f,) = anaemia_findings("c1", born, results, rs.anaemia, on, LHASA_M)
    assert (f.grade, f.severity) == ("moderate", Severity.MODERATE)
    assert f.detail == "hb=115 g/L, altitude 3650 m: -27 -> 88 g/L"


@pytest.mark.parametrize(
    ("altitude", "adjust"),
    [
        (None, 0),
        (999, 0),
        (1000, 2),
        (1500, 5),
        (2000, 8),
        (2500, 13),
        (3000, 19),
        (3500, 27),
        (4000, 35),
        (4500, 45),
        (5200, 45),
    ],
)
def test_who_2011_altitude_table(rs: RuleSet, altitude: float | None, adjust: float) -> None:
    assert rs.anaemia.altitude_adjustment(altitude) == adjust
    # the threshold moves by the adjustment: 110 + adjust is not anaemic, 1 g/L less is
    born, on = date(2024, 1, 1), date(2026, 1, 15)
    fine = [HbResult("h1", on, 110 + adjust)]
    low = [HbResult("h1", on, 109 + adjust)]
    assert anaemia_findings("c1", born, fine, rs.anaemia, on, altitude) == ()
    assert anaemia_findings("c1", born, low, rs.anaemia, on, altitude) != ()


def test_referral_when_hb_rose_less_than_expected(rs: RuleSet) -> None:
    """2012 规范: refer when no improvement after a month of iron; the expected rise is
    10-20 g/L in about 4 weeks (WHO/NHD/01.3): a rise of 9 g/L after 4 weeks is referred."""
    first = HbResult("h1", AT_8M, 95)
    later = AT_8M + timedelta(days=28)
    (f,) = anaemia_findings(
        "c1", BIRTH, [first, HbResult("h2", later, 104)], rs.anaemia, date(2026, 1, 1)
    )
    assert REFER in f.items
    assert f.evidence_ids == ("h1", "h2")
    (f,) = anaemia_findings(
        "c1", BIRTH, [first, HbResult("h2", later, 105)], rs.anaemia, date(2026, 1, 1)
    )
    assert REFER not in f.items


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
    assert REFER in f.items  # a rise of 4 g/L is less than the expected 10 g/L
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
