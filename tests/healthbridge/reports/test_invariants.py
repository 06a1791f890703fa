"""Invariants over random data: groups add up, intervals contain estimates, members nest."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from healthbridge.reports.coverage import CoverageInputs, coverage_table, figure_members
from healthbridge.reports.prevalence import prevalence_table

AS_OF = dt.date(2026, 6, 15)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300))
def test_prevalence_groups_add_up_and_ci_contains_estimate(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age_days": rng.integers(0, 1827, n),
            "sex": rng.choice([1, 2], n),
            "centre": rng.choice(["A", "B", "C"], n),
            "zlen": np.where(rng.random(n) < 0.1, np.nan, rng.normal(-1, 1.5, n).round(1)),
            "zwfl": rng.normal(1, 1.5, n).round(1),
            "fwfl": (rng.random(n) < 0.05).astype(int),
        }
    )
    report = prevalence_table(frame, groupings=[(), ("sex",), ("age_group",), ("centre",)])
    t = report.prevalence
    for indicator in ("stunting", "overweight", "obesity"):
        rows = t.loc[t["indicator"] == indicator]
        total = rows.loc[rows["grouping"] == "all"].iloc[0]
        for grouping in ("sex", "age_group", "centre"):
            part = rows.loc[rows["grouping"] == grouping]
            assert part["cases"].sum() == total["cases"]
            assert part["n"].sum() == total["n"]
        known = rows.dropna(subset=["prevalence"])
        assert (known["ci_lower"] <= known["prevalence"] + 1e-9).all()
        assert (known["prevalence"] <= known["ci_upper"] + 1e-9).all()
        assert (known["cases"] <= known["n"]).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 80))
def test_coverage_members_nest_and_match_counts(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    births = [AS_OF - dt.timedelta(days=int(d)) for d in rng.integers(0, 2600, n)]
    children = pd.DataFrame(
        {"child_id": ids, "birth_date": births, "centre": rng.choice(["A", "B"], n)}
    )
    codes = ["3m", "6m", "8m", "12m", "18m", "24m", "30m", "4y"]
    picks = rng.random((n, len(codes))) < 0.7
    checkups = pd.DataFrame(
        [(ids[i], AS_OF, codes[j]) for i, j in zip(*np.nonzero(picks), strict=True)],
        columns=["child_id", "date", "visit_code"],
    )
    inputs = CoverageInputs(children, checkups)
    table = coverage_table(inputs, as_of=AS_OF)
    for figure in ("systematic-management-u3", "checkup:12m", "health-management-u7"):
        members = figure_members(inputs, figure, as_of=AS_OF)
        assert set(members.numerator_ids) <= set(members.denominator_ids)
        row = table.loc[(table["figure"] == figure) & (table["grouping"] == "all")].iloc[0]
        assert row["numerator"] == len(members.numerator_ids)
        assert row["denominator"] == len(members.denominator_ids)
        by_centre = table.loc[(table["figure"] == figure) & (table["grouping"] == "centre")]
        assert by_centre["denominator"].sum() == row["denominator"]
        if row["denominator"] > 0:
            assert row["ci_lower"] <= row["rate"] <= row["ci_upper"]
