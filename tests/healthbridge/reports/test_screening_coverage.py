"""Screening coverage figures (reports/screening_coverage.py): eligible ages, the period, the
developmental assessment after a positive warning-sign screen, small-cell suppression."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from healthbridge.district.reports import suppress_coverage
from healthbridge.reports.coverage import CoverageInputs, coverage_table

AS_OF = dt.date(2026, 11, 1)
AGES = pd.DataFrame(
    {"screening": ["hearing", "eye"], "from_days": [182.0, 0.0], "to_days": [1461.0, 2557.0]}
)


def _children(n: int, birth: str, centre: str, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"child_id": [f"{prefix}{i}" for i in range(n)], "birth_date": birth, "centre": centre}
    )


def _row(table: pd.DataFrame, figure: str, grouping: str = "all") -> pd.Series:
    found = table[(table["figure"] == figure) & (table["grouping"] == grouping)]
    assert len(found) == 1, found
    return found.iloc[0]


def test_screened_in_the_period_of_the_children_in_the_age_range() -> None:
    children = pd.concat(
        [
            _children(4, "2025-01-01", "x", "a"),  # 22 months: hearing and eye
            _children(1, "2026-08-01", "x", "b"),  # 3 months: eye only (hearing from 6 m)
            _children(1, "2021-01-01", "x", "c"),  # 5 y 10 m: eye only (hearing to 4 y)
        ],
        ignore_index=True,
    )
    screenings = pd.DataFrame(
        {
            "child_id": ["a0", "a1", "a2", "b0"],
            "date": ["2026-10-01", "2026-06-01", "2025-06-01", "2026-10-20"],
            "screening": ["hearing", "hearing", "hearing", "eye"],
        }
    )
    inputs = CoverageInputs(children=children, screenings=screenings, screening_ages=AGES)
    table = coverage_table(inputs, as_of=AS_OF)
    hearing = _row(table, "screening:hearing")
    # a2's screen is older than the 365-day period; b0 and c0 are outside 6 m–4 y
    assert (hearing["numerator"], hearing["denominator"]) == (2, 4)
    eye = _row(table, "screening:eye")
    assert (eye["numerator"], eye["denominator"]) == (1, 6)
    assert eye["label_zh"] == "0～6岁儿童眼保健和视力检查覆盖率"


def test_developmental_assessment_after_a_positive_screen() -> None:
    children = _children(5, "2025-01-01", "x", "a")
    screenings = pd.DataFrame(
        {
            "child_id": ["a0", "a0", "a1", "a1", "a2", "a3"],
            "date": ["2026-05-01", "2026-06-01", "2026-07-01", "2026-03-01", "2026-08-01",
                     "2026-09-01"],
            "screening": ["warning-positive", "development", "warning-positive", "development",
                          "warning-positive", "development"],
        }
    )  # fmt: skip
    inputs = CoverageInputs(children=children, screenings=screenings, screening_ages=AGES)
    dev = _row(coverage_table(inputs, as_of=AS_OF), "screening:development")
    # a0 assessed after its positive screen; a1 only before it; a2 never; a3 never positive
    assert (dev["numerator"], dev["denominator"]) == (1, 3)


def test_no_schedule_no_screening_figures() -> None:
    table = coverage_table(CoverageInputs(children=_children(3, "2025-01-01", "x", "a")),
                           as_of=AS_OF)  # fmt: skip
    assert not table["figure"].str.startswith("screening:").any()


def test_small_centres_are_suppressed() -> None:
    children = pd.concat(
        [_children(5, "2025-01-01", "x", "a"), _children(2, "2025-01-01", "y", "b")],
        ignore_index=True,
    )
    screenings = pd.DataFrame(
        {"child_id": ["b0", "a0"], "date": ["2026-10-01"] * 2, "screening": ["hearing"] * 2}
    )
    inputs = CoverageInputs(children=children, screenings=screenings, screening_ages=AGES)
    table = suppress_coverage(coverage_table(inputs, as_of=AS_OF))
    small = table[(table["figure"] == "screening:hearing") & (table["centre"] == "y")].iloc[0]
    assert bool(small["suppressed"])
    assert pd.isna(small["numerator"])
    assert pd.isna(small["rate"])
    big = table[(table["figure"] == "screening:hearing") & (table["centre"] == "x")].iloc[0]
    assert (big["numerator"], big["denominator"]) == (1, 5)
