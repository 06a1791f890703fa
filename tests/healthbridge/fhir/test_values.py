"""Date ranges and number precision used by search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthbridge.errors import BadRequestError
from healthbridge.fhir.values import date_range, decimal_range, fold


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2024", "2024-01-01T00:00:00.000000", "2024-12-31T23:59:59.999999"),
        ("2024-02", "2024-02-01T00:00:00.000000", "2024-02-29T23:59:59.999999"),
        ("2023-02-28", "2023-02-28T00:00:00.000000", "2023-02-28T23:59:59.999999"),
        ("2024-01-01T08:00:00+08:00", "2024-01-01T00:00:00.000000", "2024-01-01T00:00:00.999999"),
        ("2024-01-01T00:00:00.123Z", "2024-01-01T00:00:00.123000", "2024-01-01T00:00:00.123999"),
        ("2024-01-01T10:30", "2024-01-01T10:30:00.000000", "2024-01-01T10:30:59.999999"),
    ],
)
def test_date_range(text: str, low: str, high: str) -> None:
    assert date_range(text) == (low, high)


@pytest.mark.parametrize("text", ["", "24", "2024-13-01x", "yesterday"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValueError, match="not a FHIR date"):
        date_range(text)


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(-12, 14),
)
def test_instant_ranges_contain_the_instant(value: datetime, offset_hours: int) -> None:
    tz = f"{'+' if offset_hours >= 0 else '-'}{abs(offset_hours):02d}:00"
    text = value.strftime("%Y-%m-%dT%H:%M:%S") + tz
    low, high = date_range(text)
    utc = (value - timedelta(hours=offset_hours)).replace(tzinfo=UTC)
    assert low == utc.strftime("%Y-%m-%dT%H:%M:%S.000000").rjust(26, "0")
    assert low <= high
    assert date_range(value.strftime("%Y"))[0] <= date_range(value.strftime("%Y-%m-%d"))[0]


def test_decimal_precision() -> None:
    assert decimal_range("100") == (100.0, 99.5, 100.5)
    v, lo, hi = decimal_range("9.50")
    assert (v, round(lo, 6), round(hi, 6)) == (9.5, 9.495, 9.505)
    with pytest.raises(BadRequestError):
        decimal_range("abc")


def test_fold() -> None:
    assert fold("Zhào Lì") == "zhao li"
    assert fold("王小明") == "王小明"
