"""Small-cell suppression (issue 20 item 7): groups of 1–2 children lose counts and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthbridge.reports.suppression import suppress_small_cells, suppressed_for_csv


def test_groups_of_one_or_two_children_are_suppressed() -> None:
    frame = pd.DataFrame(
        {
            "group": ["a", "b", "c", "d", "e"],
            "n": [0, 1, 2, 3, 30],
            "cases": [0, 1, 0, 1, 2],
            "prevalence": [np.nan, 100.0, 0.0, 33.3, 6.7],
            "ci_lower": [np.nan, 5.0, 0.0, 1.0, 1.0],
        }
    )
    out = suppress_small_cells(
        frame, size="n", counts=("n", "cases"), derived=("prevalence", "ci_lower")
    )
    assert out["suppressed"].tolist() == [False, True, True, False, False]
    assert out["n"].isna().tolist() == [False, True, True, False, False]
    assert out["cases"].isna().tolist() == [False, True, True, False, False]
    assert out.loc[1:2, ["prevalence", "ci_lower"]].isna().all().all()
    assert out.loc[4, "cases"] == 2  # two cases among 30 children identify nobody
    assert out["group"].tolist() == frame["group"].tolist()  # labels stay
    csv = suppressed_for_csv(out)
    assert csv.loc[1, "n"] == "<3"
    assert csv.loc[2, "cases"] == "<3"
    assert csv.loc[3, "n"] == 3


def test_rows_that_do_not_count_children_are_kept() -> None:
    frame = pd.DataFrame({"unit": ["child", "centre"], "denominator": [2, 2], "rate": [50.0, 50.0]})
    out = suppress_small_cells(
        frame,
        size="denominator",
        counts=("denominator",),
        derived=("rate",),
        applies=frame["unit"] == "child",
    )
    assert out["suppressed"].tolist() == [True, False]
    assert out.loc[1, "rate"] == 50.0
