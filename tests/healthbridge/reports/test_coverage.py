"""Coverage figures by hand: 4:2:2 edges, due ages, admission states, centres, traceability."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from healthbridge.reports.ci import CiMethod
from healthbridge.reports.coverage import (
    CoverageInputs,
    coverage_chart_data,
    coverage_table,
    figure_members,
)
from healthbridge.reports.coverage_inputs import add_months, load_checkup_schedule
from healthbridge.reports.errors import ReportInputError

AS_OF = dt.date(2026, 6, 15)


def _birth(months: int, days: int = 0) -> dt.date:
    born = add_months(np.array([np.datetime64(AS_OF, "D")]), -months)[0]
    day: dt.date = (born - np.timedelta64(days, "D")).astype(dt.date)
    return day


def _children(**births: dt.date) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "child_id": list(births),
            "birth_date": list(births.values()),
            "centre": ["A"] * len(births),
        }
    )


def _visits(**codes: list[str]) -> pd.DataFrame:
    rows = [(c, AS_OF - dt.timedelta(days=1), v) for c, vs in codes.items() for v in vs]
    return pd.DataFrame(rows, columns=["child_id", "date", "visit_code"])


def _row(table: pd.DataFrame, figure: str, grouping: str = "all", **keys: str) -> pd.Series:
    rows = table.loc[(table["figure"] == figure) & (table["grouping"] == grouping)]
    for k, v in keys.items():
        rows = rows.loc[rows[k] == v]
    assert len(rows) == 1
    return rows.iloc[0]


def test_add_months_clamps_to_month_end() -> None:
    d = np.array(["2024-01-31", "2023-01-31", "2024-03-15"], dtype="datetime64[D]")
    assert list(add_months(d, 1).astype(str)) == ["2024-02-29", "2023-02-28", "2024-04-15"]


def test_schedule_is_four_two_two() -> None:
    years = [v.systematic_year for v in load_checkup_schedule().visits if v.systematic_year]
    assert [years.count(y) for y in (1, 2, 3)] == [4, 2, 2]


def test_systematic_management_edges() -> None:
    children = _children(
        too_young=_birth(3, -1),  # 3 months tomorrow: nothing due, not counted
        just_three=_birth(3),  # 3 m exactly, no visit: due and missing
        three_done=_birth(3),
        twelve_missing=_birth(12),  # 3, 6, 8 done; 12 m due and missing
        thirtyfive_done=_birth(35),  # 3..30 done: 4 + 2 + 1 due
        year2_duplicate=_birth(25),  # 18 m twice does not replace 24 m
        three_years=_birth(36),  # no longer under 3
    )
    checkups = _visits(
        three_done=["3m"],
        twelve_missing=["3m", "6m", "8m"],
        thirtyfive_done=["3m", "6m", "8m", "12m", "18m", "24m", "30m"],
        year2_duplicate=["3m", "6m", "8m", "12m", "18m", "18m"],
        three_years=["3m", "6m", "8m", "12m", "18m", "24m", "30m", "36m"],
    )
    inputs = CoverageInputs(children=children, checkups=checkups)
    members = figure_members(inputs, "systematic-management-u3", as_of=AS_OF)
    assert members.denominator_ids == (
        "just_three",
        "thirtyfive_done",
        "three_done",
        "twelve_missing",
        "year2_duplicate",
    )
    assert members.numerator_ids == ("thirtyfive_done", "three_done")
    row = _row(coverage_table(inputs, as_of=AS_OF), "systematic-management-u3")
    assert (row["numerator"], row["denominator"]) == (2, 5)
    assert row["rate"] == pytest.approx(40.0)


def test_grace_days_delay_what_is_due() -> None:
    inputs = CoverageInputs(children=_children(just_three=_birth(3)))
    strict = figure_members(inputs, "checkup:3m", as_of=AS_OF)
    lenient = figure_members(inputs, "checkup:3m", as_of=AS_OF, grace_days=30)
    assert strict.denominator_ids == ("just_three",)
    assert lenient.denominator_ids == ()


def test_checkup_coverage_counts_only_visits_on_or_before_report_date() -> None:
    children = _children(a=_birth(7), b=_birth(7))
    checkups = pd.DataFrame(
        {"child_id": ["a", "b"], "date": [AS_OF, AS_OF + dt.timedelta(days=1)], "visit_code": "6m"}
    )
    row = _row(coverage_table(CoverageInputs(children, checkups), as_of=AS_OF), "checkup:6m")
    assert (row["numerator"], row["denominator"]) == (1, 2)


def test_health_management_under_seven_in_period() -> None:
    children = _children(recent=_birth(50), old_exam=_birth(50), seven=_birth(84))
    checkups = pd.DataFrame(
        {
            "child_id": ["recent", "old_exam", "seven", "recent"],
            "date": [AS_OF, AS_OF - dt.timedelta(days=400), AS_OF, AS_OF],
            "visit_code": ["4y", "4y", "6y", "daily-check"],
        }
    )
    members = figure_members(
        CoverageInputs(children, checkups), "health-management-u7", as_of=AS_OF
    )
    assert members.denominator_ids == ("old_exam", "recent")
    assert members.numerator_ids == ("recent",)


def test_vaccination_coverage_per_dose() -> None:
    children = pd.DataFrame(
        {
            "child_id": ["a", "b", "c"],
            "birth_date": [AS_OF - dt.timedelta(days=d) for d in (100, 30, 29)],
        }
    )
    required = pd.DataFrame({"vaccine": ["HepB", "HepB"], "dose": [1, 2], "due_age_days": [0, 30]})
    vaccinations = pd.DataFrame(
        {
            "child_id": ["a", "a", "b", "c"],
            "vaccine": ["HepB", "HepB", "HepB", "HepB"],
            "dose": [1, 2, 1, 2],
            "date": [AS_OF, AS_OF + dt.timedelta(days=1), AS_OF, AS_OF],
        }
    )
    inputs = CoverageInputs(children, vaccinations=vaccinations, required_doses=required)
    table = coverage_table(inputs, as_of=AS_OF)
    d1, d2 = _row(table, "vaccination:HepB:1"), _row(table, "vaccination:HepB:2")
    assert (d1["numerator"], d1["denominator"]) == (2, 3)
    assert (d2["numerator"], d2["denominator"]) == (0, 2)  # a's dose 2 is after the report date
    assert d2["ci_lower"] == 0.0
    assert d2["ci_upper"] > 0.0


def test_admission_check_and_catchup() -> None:
    checks = pd.DataFrame(
        {
            "child_id": ["a", "b", "c", "d", "e", "old"],
            "centre": ["A", "A", "A", "B", "B", "B"],
            "entry_date": [AS_OF] * 5 + [AS_OF - dt.timedelta(days=500)],
            "status": [
                "submitted",
                "assessed_complete",
                "assessed_incomplete",
                "catchup_recorded",
                "assessed_incomplete",
                "assessed_complete",
            ],
            "catchup_status": [None, "not_needed", "pending", None, "recorded", None],
        }
    )
    inputs = CoverageInputs(children=_children(), admission_checks=checks)
    table = coverage_table(inputs, as_of=AS_OF)
    check, catchup = _row(table, "admission-check"), _row(table, "admission-catchup")
    assert (check["numerator"], check["denominator"]) == (4, 5)
    assert (catchup["numerator"], catchup["denominator"]) == (2, 3)
    centre_b = _row(table, "admission-catchup", "centre", centre="B")
    assert (centre_b["numerator"], centre_b["denominator"]) == (2, 2)
    bad = checks.assign(status=["done"] * 6)
    with pytest.raises(ReportInputError):
        coverage_table(CoverageInputs(children=_children(), admission_checks=bad), as_of=AS_OF)


def test_signed_centres_and_places_per_thousand() -> None:
    centres = pd.DataFrame(
        {
            "centre": ["A", "B", "C", "D"],
            "filed": [True, True, True, False],
            "places": [100, 50, 50, 500],
        }
    )
    agreements = pd.DataFrame(
        {
            "centre": ["A", "B", "D"],
            "hospital": ["H1", "H1", "H2"],
            "signed_on": [AS_OF, AS_OF - dt.timedelta(days=900), AS_OF],
            "ends_on": [None, AS_OF - dt.timedelta(days=1), None],
        }
    )
    inputs = CoverageInputs(
        children=_children(), centres=centres, agreements=agreements, population=80_000
    )
    table = coverage_table(inputs, as_of=AS_OF)
    signed = _row(table, "signed-centres")
    assert (signed["numerator"], signed["denominator"]) == (1, 3)
    places = _row(table, "places-per-1000")
    assert places["rate"] == pytest.approx(200 / 80)
    assert places["rate_unit"] == "per 1000"
    members = figure_members(inputs, "signed-centres", as_of=AS_OF)
    assert (members.unit, members.numerator_ids) == ("centre", ("A",))
    no_population = coverage_table(CoverageInputs(_children(), centres=centres), as_of=AS_OF)
    assert "places-per-1000" not in set(no_population["figure"])


def test_per_centre_rows_follow_enrolment_on_report_date() -> None:
    children = pd.DataFrame(
        {
            "child_id": ["a", "b", "c"],
            "birth_date": [_birth(7)] * 3,
            "centre": ["A", "A", "B"],
            "enrolled_on": [AS_OF - dt.timedelta(days=10), AS_OF + dt.timedelta(days=1), None],
            "left_on": [None, None, None],
        }
    )
    table = coverage_table(CoverageInputs(children), as_of=AS_OF)
    assert _row(table, "checkup:6m")["denominator"] == 3
    centre_a = _row(table, "checkup:6m", "centre", centre="A")
    assert centre_a["denominator"] == 1
    assert "B" not in set(table["centre"])
    members = figure_members(CoverageInputs(children), "checkup:6m", as_of=AS_OF, centre="A")
    assert members.denominator_ids == ("a",)


def test_ci_methods_and_chart_shape() -> None:
    children = _children(a=_birth(7), b=_birth(7))
    checkups = _visits(a=["6m"])
    inputs = CoverageInputs(children, checkups)
    wilson = _row(coverage_table(inputs, as_of=AS_OF), "checkup:6m")
    exact = _row(
        coverage_table(inputs, as_of=AS_OF, ci_method=CiMethod.CLOPPER_PEARSON), "checkup:6m"
    )
    assert exact["ci_upper"] - exact["ci_lower"] > wilson["ci_upper"] - wilson["ci_lower"]
    chart = coverage_chart_data(coverage_table(inputs, as_of=AS_OF), figure="checkup:6m")
    assert list(chart["group"]) == ["all", "A"]
    assert list(chart["value"]) == [50.0, 50.0]


def test_errors() -> None:
    inputs = CoverageInputs(children=_children(a=_birth(7)))
    with pytest.raises(ReportInputError):
        figure_members(inputs, "no-such-figure", as_of=AS_OF)
    with pytest.raises(ReportInputError):
        coverage_table(inputs, as_of=AS_OF, groupings=[("sex",)])
    with pytest.raises(ReportInputError):
        coverage_table(CoverageInputs(pd.DataFrame({"child_id": ["a"]})), as_of=AS_OF)
