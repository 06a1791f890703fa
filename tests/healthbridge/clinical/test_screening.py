from __future__ import annotations

from datetime import date

import pytest

from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening import (
    REGRESSION,
    ScreeningRecord,
    age_point,
    applicable_items,
    screening_findings,
)
from healthbridge.clinical.vocab import AlertKind

BIRTH = date(2025, 1, 31)


def test_age_point_is_latest_reached(rs: RuleSet) -> None:
    t = rs.screening
    assert age_point(BIRTH, date(2025, 4, 29), t) is None
    assert str(age_point(BIRTH, date(2025, 4, 30), t).age) == "3m"  # type: ignore[union-attr]
    assert str(age_point(BIRTH, date(2025, 9, 29), t).age) == "6m"  # type: ignore[union-attr]
    items = applicable_items(BIRTH, date(2025, 9, 30), t)
    assert [i.id for i in items][-4:] == ["8m-1", "8m-2", "8m-3", "8m-4"]
    assert len(items) == 12
    assert items[0].text_zh == "对很大声音没有反应"
    assert items[0].text_en


def test_corrected_age_for_preterm_until_24_months(rs: RuleSet) -> None:
    t = rs.screening
    on = date(2025, 9, 30)  # 8 months chronological
    assert str(age_point(BIRTH, on, t, gestational_weeks=34.0).age) == "6m"  # type: ignore[union-attr]
    assert str(age_point(BIRTH, on, t, gestational_weeks=30.0).age) == "3m"  # type: ignore[union-attr]
    assert str(age_point(BIRTH, on, t, gestational_weeks=38.0).age) == "8m"  # type: ignore[union-attr]
    later = date(2027, 6, 1)  # corrected age past 24 m: chronological age again
    assert age_point(BIRTH, later, t, gestational_weeks=30.0) == age_point(BIRTH, later, t)


@pytest.mark.parametrize(
    ("items", "regression", "expected"),
    [
        ((), False, None),
        (("8m-4",), False, ("8m-4",)),
        ((), True, (REGRESSION,)),
        (("3m-1", "8m-2"), True, ("3m-1", "8m-2", REGRESSION)),
    ],
)
def test_any_positive_item_or_regression_is_positive(
    rs: RuleSet, items: tuple[str, ...], regression: bool, expected: tuple[str, ...] | None
) -> None:
    found = screening_findings(
        "c1",
        [ScreeningRecord("s1", date(2025, 10, 1), items, regression)],
        rs.screening,
        date(2025, 10, 2),
    )
    if expected is None:
        assert found == ()
    else:
        (f,) = found
        assert (f.kind, f.items) == (AlertKind.WARNING_SIGN_POSITIVE, expected)


def test_latest_screening_decides_and_unknown_items_raise(rs: RuleSet) -> None:
    records = [
        ScreeningRecord("s1", date(2025, 10, 1), ("8m-4",)),
        ScreeningRecord("s2", date(2026, 2, 1)),
    ]
    assert screening_findings("c1", records, rs.screening, date(2026, 2, 2)) == ()
    with pytest.raises(ClinicalInputError):
        screening_findings(
            "c1",
            [ScreeningRecord("s1", date(2025, 10, 1), ("9m-1",))],
            rs.screening,
            date(2025, 10, 2),
        )
