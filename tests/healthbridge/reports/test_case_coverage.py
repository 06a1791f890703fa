"""体弱儿管理率 (managed-frail) and 结案率 (case-closure) in the coverage table."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from healthbridge.reports.coverage import CoverageInputs, coverage_table, figure_members

AS_OF = dt.date(2026, 11, 30)


def _inputs() -> CoverageInputs:
    children = pd.DataFrame(
        {
            "child_id": ["a", "b", "c", "d", "e", "f"],
            "birth_date": ["2025-01-01"] * 6,
            "centre": ["c1", "c1", "c1", "c2", "c2", "c2"],
        }
    )
    cases = pd.DataFrame(
        {
            "child_id": ["a", "b", "c", "f"],
            "start": ["2026-03-01", "2026-04-01", "2026-05-01", "2025-01-01"],
            # a: cured in the period; b: open; c: lost to follow-up (not a 结案);
            # f: closed before the period (not managed in it)
            "end": ["2026-09-01", None, "2026-10-01", "2025-06-01"],
            "outcome": ["cured", None, "lost", "improved"],
        }
    )
    # d identified frail (an alert) but never enrolled; e's alert is before the period
    frail = pd.DataFrame(
        {"child_id": ["d", "e", "a"], "date": ["2026-06-01", "2024-01-01", "2026-02-01"]}
    )
    return CoverageInputs(children=children, cases=cases, frail=frail)


def test_management_and_closure_rates() -> None:
    table = coverage_table(_inputs(), as_of=AS_OF)
    district = table[table["grouping"] == "all"].set_index("figure")
    managed = district.loc["managed-frail"]
    assert (managed["numerator"], managed["denominator"]) == (3, 4)  # a, b, c of a, b, c, d
    closure = district.loc["case-closure"]
    assert (closure["numerator"], closure["denominator"]) == (1, 3)  # a of a, b, c
    members = figure_members(_inputs(), figure="case-closure", as_of=AS_OF)
    assert set(members.denominator_ids) == {"a", "b", "c"}
    assert set(members.numerator_ids) == {"a"}


def test_no_cases_no_figures() -> None:
    children = pd.DataFrame({"child_id": ["a"], "birth_date": ["2025-01-01"]})
    table = coverage_table(CoverageInputs(children=children), as_of=AS_OF)
    assert not set(table["figure"]) & {"managed-frail", "case-closure"}
