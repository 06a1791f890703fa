from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthbridge.clinical.ages import Age, add_age, add_months, parse_age
from healthbridge.clinical.errors import RuleTableError


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 1, 15), 12, date(2027, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("28d", Age(0, 0, 28)),
        ("2m", Age(0, 2, 0)),
        ("1y6m", Age(1, 6, 0)),
        ("13y6m", Age(13, 6, 0)),
        ("0d", Age()),
    ],
)
def test_parse_age(text: str, age: Age) -> None:
    assert parse_age(text) == age
    assert parse_age(str(age)) == age


@pytest.mark.parametrize("text", ["", "2 months", "m", "1.5m", "-1d", "3w"])
def test_parse_age_rejects_garbage(text: str) -> None:
    with pytest.raises(RuleTableError):
        parse_age(text)


def test_add_age_months_before_days() -> None:
    assert add_age(date(2026, 1, 31), Age(0, 1, 1)) == date(2026, 3, 1)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)), st.integers(0, 240))
def test_add_months_properties(start: date, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
    assert add_months(start, months + 1) > result
