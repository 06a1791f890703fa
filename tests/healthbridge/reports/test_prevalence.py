"""Prevalence rules by hand: cut-off boundaries, flags, oedema, age groups, groupings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from healthbridge.reports.conventions import Convention, load_conventions
from healthbridge.reports.errors import ReportInputError, UnknownConventionError
from healthbridge.reports.prevalence import (
    age_groups,
    latest_per_child,
    prevalence_chart_data,
    prevalence_table,
)


def _row(table: pd.DataFrame, indicator: str, grouping: str = "all", **keys: str) -> pd.Series:
    rows = table.loc[(table["indicator"] == indicator) & (table["grouping"] == grouping)]
    for k, v in keys.items():
        rows = rows.loc[rows[k] == v]
    assert len(rows) == 1
    return rows.iloc[0]


def _frame(**cols: Sequence[object]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base: dict[str, Sequence[object]] = {"age_days": [400] * n, "sex": [1] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_cutoff_is_strict_minus_two_is_not_stunted() -> None:
    f = _frame(zlen=[-2.0, -2.01, -1.99, -3.0, -3.01])
    t = prevalence_table(f).prevalence
    assert _row(t, "stunting")["cases"] == 3  # -2.01, -3.0, -3.01
    assert _row(t, "stunting-severe")["cases"] == 1  # only -3.01


def test_who_overweight_includes_obesity_and_plus_two_is_not_overweight() -> None:
    f = _frame(zwfl=[2.0, 2.01, 3.0, 3.5, 0.0])
    t = prevalence_table(f, convention=Convention.WHO).prevalence
    assert _row(t, "overweight")["cases"] == 3
    assert _row(t, "obesity")["cases"] == 1


def test_china_2024_overweight_band_on_bmi() -> None:
    f = _frame(zbmi=[1.0, 1.01, 2.0, 2.01, 3.0, -0.5], zwfl=[5.0] * 6)
    t = prevalence_table(f, convention="cn-2024").prevalence
    ow, ob = _row(t, "overweight"), _row(t, "obesity")
    assert (ow["cases"], ob["cases"]) == (2, 2)  # (1.01, 2.0) and (2.01, 3.0)
    assert ow["cutoff"] == "zbmi > 1 and <= 2"


def test_flagged_values_leave_numerator_and_denominator() -> None:
    f = _frame(zwei=[-2.5, -7.0, 0.0, 0.1], fwei=[0, 1, 0, 0])
    report = prevalence_table(f)
    row = _row(report.prevalence, "underweight")
    assert (row["n"], row["cases"]) == (3, 1)
    z = report.zscores.loc[report.zscores["z"] == "zwei"].iloc[0]
    assert z["n"] == 3
    assert z["mean"] == pytest.approx((-2.5 + 0.0 + 0.1) / 3)


def test_oedema_counts_as_severe_for_weight_indices_but_not_in_means() -> None:
    f = _frame(zwei=[1.0, np.nan, 0.0], zlen=[0.0, 0.0, 0.0], oedema=["n", "y", "n"])
    report = prevalence_table(f)
    uw = _row(report.prevalence, "underweight")
    assert (uw["n"], uw["cases"]) == (3, 1)
    assert _row(report.prevalence, "underweight-severe")["cases"] == 1
    assert _row(report.prevalence, "stunting")["n"] == 3
    z = report.zscores.loc[report.zscores["z"] == "zwei"].iloc[0]
    assert z["n"] == 2


@pytest.mark.parametrize(
    ("days", "group"),
    [
        (0, "00-05 mo"),
        (182, "00-05 mo"),
        (183, "06-11 mo"),
        (365, "06-11 mo"),
        (366, "12-23 mo"),
        (730, "12-23 mo"),
        (731, "24-35 mo"),
        (1095, "24-35 mo"),
        (1096, "36-47 mo"),
        (1460, "36-47 mo"),
        (1461, "48-59 mo"),
        (1826, "48-59 mo"),
    ],
)
def test_age_group_edges(days: int, group: str) -> None:
    assert str(age_groups(pd.Series([days])).iloc[0]) == group


def test_age_groups_are_the_documented_ones() -> None:
    ag = load_conventions().age_groups
    assert ag.breaks_months == (0.0, 6.0, 12.0, 24.0, 36.0, 48.0, 60.0)
    assert ag.days_per_month == 30.4375


def test_records_over_1826_days_are_excluded() -> None:
    f = pd.DataFrame({"age_days": [1826, 1827, np.nan], "sex": 1, "zlen": [-3.5, -3.5, -3.5]})
    report = prevalence_table(f)
    assert report.total_records == 2  # missing age is kept, as in anthro
    assert _row(report.prevalence, "stunting")["n"] == 2


def test_empty_levels_are_reported_with_zero_n() -> None:
    f = _frame(zlen=[-3.0, 0.0, 1.0])  # all male, all 12-23 months
    t = prevalence_table(f).prevalence
    female = _row(t, "stunting", "sex", sex="female")
    assert female["n"] == 0
    assert math.isnan(female["prevalence"])
    assert len(t.loc[(t["grouping"] == "age_group+sex") & (t["indicator"] == "stunting")]) == 12


def test_grouping_by_centre_and_district() -> None:
    f = pd.DataFrame(
        {
            "age_days": [100, 200, 300, 400],
            "sex": ["m", "f", "M", "F"],
            "centre": ["A", "A", "B", "B"],
            "district": ["D1", "D1", "D1", "D1"],
            "zlen": [-2.5, 0.0, -2.5, -2.5],
        }
    )
    t = prevalence_table(
        f, groupings=[(), ("centre",), ("district",), ("centre", "sex")]
    ).prevalence
    a, b = _row(t, "stunting", "centre", centre="A"), _row(t, "stunting", "centre", centre="B")
    assert (a["cases"], a["n"], b["cases"], b["n"]) == (1, 2, 2, 2)
    assert a["sex"] == "all"
    assert _row(t, "stunting", "district", district="D1")["prevalence"] == 75.0
    assert _row(t, "stunting", "centre+sex", centre="B", sex="female")["n"] == 1


def test_hand_computed_interval() -> None:
    # 3 of 10 stunted in a data set of N = 10: logit CI with t(9), SE sqrt(N/(N-1) p(1-p)/n).
    f = _frame(zlen=[-2.5] * 3 + [0.0] * 7)
    row = _row(prevalence_table(f).prevalence, "stunting")
    p, n, big_n = 0.3, 10, 10
    se_logit = math.sqrt(big_n / (big_n - 1) / (n * p * (1 - p)))
    t = stats.t.ppf(0.975, big_n - 1)
    logit = math.log(p / (1 - p))
    assert row["prevalence"] == pytest.approx(30.0)
    assert row["se"] == pytest.approx(100 * math.sqrt(big_n / (big_n - 1) * p * (1 - p) / n))
    assert row["ci_lower"] == pytest.approx(100 / (1 + math.exp(-(logit - t * se_logit))))
    assert row["ci_upper"] == pytest.approx(100 / (1 + math.exp(-(logit + t * se_logit))))


def test_zero_and_full_prevalence_have_degenerate_who_interval() -> None:
    f = _frame(zlen=[-2.5, -2.6], zwei=[0.0, 0.0])
    t = prevalence_table(f).prevalence
    full, zero = _row(t, "stunting"), _row(t, "underweight")
    assert (full["ci_lower"], full["ci_upper"]) == (100.0, 100.0)
    assert (zero["ci_lower"], zero["ci_upper"]) == (0.0, 0.0)


def test_z_summary_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0.2, 1.3, 500)
    f = _frame(zbmi=list(z))
    row = prevalence_table(f).zscores.query("z == 'zbmi' and grouping == 'all'").iloc[0]
    assert row["mean"] == pytest.approx(z.mean())
    assert row["sd"] == pytest.approx(z.std(ddof=1))
    assert row["ci_lower"] < row["mean"] < row["ci_upper"]


def test_distribution_cutoffs_on_request() -> None:
    f = _frame(zlen=[-1.5, 1.5, 2.5])
    t = prevalence_table(f, include_distribution=True).prevalence
    assert _row(t, "zlen<-1")["cases"] == 1
    assert _row(t, "zlen>1")["cases"] == 2
    assert _row(t, "zlen>2")["cases"] == 1


def test_unknown_convention_and_missing_columns_raise() -> None:
    with pytest.raises(UnknownConventionError):
        prevalence_table(_frame(zlen=[0.0]), convention="nchs")
    with pytest.raises(ReportInputError):
        prevalence_table(pd.DataFrame({"zlen": [0.0]}))
    with pytest.raises(ReportInputError):
        prevalence_table(_frame(zlen=[0.0]), groupings=[("centre",)])


def test_latest_per_child_in_period() -> None:
    obs = pd.DataFrame(
        {
            "child_id": ["a", "a", "a", "b"],
            "date": pd.to_datetime(["2026-01-01", "2026-06-01", "2026-12-01", "2026-03-01"]),
            "zlen": [1.0, 2.0, 3.0, 4.0],
        }
    )
    latest = latest_per_child(obs, end=pd.Timestamp("2026-11-30"))
    assert dict(zip(latest["child_id"], latest["zlen"], strict=True)) == {"a": 2.0, "b": 4.0}


def test_chart_data_shape() -> None:
    f = _frame(zlen=[-2.5, 0.0, 0.0, 0.0], sex=[1, 1, 2, 2])
    report = prevalence_table(f)
    chart = prevalence_chart_data(report, indicator="stunting", grouping="sex", lang="en")
    assert list(chart["group"]) == ["female", "male"]
    assert list(chart["value"]) == [0.0, 50.0]
    assert (chart["err_minus"] >= 0).all()
    assert chart["title"].iloc[0].startswith("Stunting")


def test_chart_data_of_a_text_column_and_of_two_keys() -> None:
    f = _frame(zlen=[-2.5, 0.0, 0.0, 0.0], sex=[1, 1, 2, 2]).assign(centre=["x", "x", "y", "y"])
    report = prevalence_table(f, groupings=[("centre",), ("age_group", "sex")])
    chart = prevalence_chart_data(report, indicator="stunting", grouping="centre")
    assert list(chart["group"]) == ["x", "y"]
    assert list(chart["value"]) == [50.0, 0.0]
    pairs = prevalence_chart_data(report, indicator="stunting", grouping="age_group+sex")
    assert all(" · " in g for g in pairs["group"])


def test_sex_codes_of_every_kind() -> None:
    from healthbridge.reports.prevalence import normalise_sex

    values = pd.Series([1, 2.0, "M", "female", "x", None], dtype=object)
    assert list(normalise_sex(values).fillna("?")) == ["male", "female", "male", "female", "?", "?"]


def test_chart_data_of_an_empty_report_is_empty() -> None:
    """A district with no measurement in the period (found by the API fuzzer: was a 500)."""
    empty = prevalence_table(pd.DataFrame(columns=["sex", "age_days", "centre", "zlen", "flen"]))
    data = prevalence_chart_data(empty, indicator="stunting", grouping="centre")
    assert data.empty
    assert list(data.columns) == ["group", "value", "err_minus", "err_plus", "n", "title"]


def test_a_single_record_gives_figures_without_standard_errors() -> None:
    """One child in all (a small area's quarter, issue 19): no design SE, no error."""
    one = pd.DataFrame({"age_days": [400], "sex": [1], "zlen": [-2.5], "zwei": [-1.0]})
    report = prevalence_table(one)
    whole = report.zscores.loc[report.zscores["grouping"] == "all"]
    assert whole["n"].tolist()
    assert whole["se"].isna().all()
    assert report.total_records == 1
