"""Parts of a report computed for a caller that shows a few figures over several periods:
each period's latest record per child from one sort, and the coverage table of a few
families — the same rows as the whole computation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from healthbridge.reports.coverage import CoverageInputs, coverage_table
from healthbridge.reports.errors import ReportInputError
from healthbridge.reports.prevalence import latest_per_child, latest_per_period

AS_OF = dt.date(2026, 6, 15)


def test_latest_per_period_is_latest_per_child_of_each_period() -> None:
    day = pd.Timestamp
    observations = pd.DataFrame(
        {  # unsorted, several per child and period, two on one day (the later row wins)
            "child_id": ["b", "a", "a", "b", "a", "a", "c", "b"],
            "date": [
                "2026-05-02",
                "2026-02-01",
                "2026-03-30",
                "2026-01-05",
                "2026-04-10",
                "2026-04-10",
                "2026-06-30",
                "2026-05-01",
            ],
            "zlen": [-1.0, -2.5, -1.5, 0.5, -3.1, -0.2, 1.0, -2.2],
        }
    )
    periods = [
        (day("2026-01-01"), day("2026-03-31")),
        (day("2026-04-01"), day("2026-06-30")),
        (day("2026-07-01"), day("2026-09-30")),
    ]
    got = latest_per_period(observations, periods)
    for (start, end), frame in zip(periods, got, strict=True):
        pd.testing.assert_frame_equal(frame, latest_per_child(observations, start=start, end=end))
    assert list(got[0]["zlen"]) == [-1.5, 0.5]  # a's latest of the quarter, b's only one
    assert list(got[1]["zlen"]) == [-0.2, -1.0, 1.0]  # a: the later of two on one day
    assert got[2].empty


def test_coverage_of_some_families_is_the_whole_tables_rows() -> None:
    children = pd.DataFrame(
        {
            "child_id": ["a", "b", "c"],
            "birth_date": [AS_OF - dt.timedelta(days=d) for d in (400, 200, 30)],
            "centre": ["A", "A", "B"],
        }
    )
    checkups = pd.DataFrame(
        {"child_id": ["a", "a", "b"], "date": [AS_OF] * 3, "visit_code": ["3m", "6m", "3m"]}
    )
    vaccinations = pd.DataFrame(
        {"child_id": ["a", "b"], "vaccine": ["MMR", "HepB"], "dose": [1, 1], "date": [AS_OF] * 2}
    )
    required = pd.DataFrame({"vaccine": ["MMR", "HepB"], "dose": [1, 1], "due_age_days": [243, 0]})
    inputs = CoverageInputs(
        children, checkups=checkups, vaccinations=vaccinations, required_doses=required
    )
    whole = coverage_table(inputs, as_of=AS_OF)
    some = coverage_table(inputs, as_of=AS_OF, families=("vaccination",))
    assert set(some["figure"]) == {"vaccination:MMR:1", "vaccination:HepB:1"}
    expected = whole.loc[whole["figure"].isin(some["figure"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, expected)
    checkup = coverage_table(inputs, as_of=AS_OF, families=("checkup",))
    assert "systematic-management-u3" in set(checkup["figure"])
    assert not checkup["figure"].str.startswith("vaccination:").any()
    for bad in ((), ("vaccinations",)):
        with pytest.raises(ReportInputError):
            coverage_table(inputs, as_of=AS_OF, families=bad)
