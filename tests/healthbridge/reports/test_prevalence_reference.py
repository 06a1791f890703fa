"""Prevalences against values computed by R's ``survey`` package the way WHO anthro does.

Source: ``fixtures/make_reference.R`` (R 4.2.2, survey 4.1.1; Debian bookworm packages) on
``fixtures/anthro_reference_input.csv`` (written by ``fixtures/make_dataset.py``). The R script
follows anthro_prevalence's survey path (``svyciprop(method = "logit")``,
``svymean``/``confint`` with ``df = degf(design)``).

Tolerances: counts exact; prevalence, SE and mean 1e-9; CI bounds 1e-6 percentage points
(svyciprop fits a quasibinomial GLM iteratively, so its bounds carry ~1e-7 of convergence
error); SD 0.01 — svyvar on a domain with missing values uses a slightly different
denominator than ``sd()``, and anthro's current design-free code path (``prevalence-simple.R``)
uses ``sd()``, which we follow; groups without missing values agree to 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthbridge.reports.prevalence import age_groups, prevalence_table

FIXTURES = Path(__file__).with_name("fixtures")
WHO_NAMES = {
    "stunting": "stunting",
    "stunting-severe": "stunting-severe",
    "underweight": "underweight",
    "wasting": "wasting",
    "overweight": "overweight-who",
    "obesity": "obesity-who",
}
CN_NAMES = {"overweight": "overweight-cn", "obesity": "obesity-cn"}


def _group_label(table: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    grouping = table["grouping"].replace({"age_group+sex": "age_sex"})
    group = np.select(
        [table["grouping"] == "all", table["grouping"] == "age_group", table["grouping"] == "sex"],
        [table["age_group"], table["age_group"], table["sex"]],
        default=table["age_group"] + "." + table["sex"],
    )
    return grouping, pd.Series(group, index=table.index)


@pytest.fixture(scope="module")
def merged() -> pd.DataFrame:
    data = pd.read_csv(FIXTURES / "anthro_reference_input.csv")
    expected = pd.read_csv(FIXTURES / "anthro_reference_expected.csv")
    parts = []
    for convention, names in (("who", WHO_NAMES), ("cn-2024", CN_NAMES)):
        report = prevalence_table(data, convention=convention)
        assert report.total_records == expected["total_records"].iloc[0]
        p = report.prevalence
        grouping, group = _group_label(p)
        parts.append(
            pd.DataFrame(
                {
                    "grouping": grouping,
                    "group": group.where(p["grouping"] != "all", "all"),
                    "indicator": p["indicator"].map(names),
                    "n_py": p["n"],
                    "est_py": p["prevalence"],
                    "se_py": p["se"],
                    "lo_py": p["ci_lower"],
                    "hi_py": p["ci_upper"],
                    "sd_py": np.nan,
                }
            ).dropna(subset=["indicator"])
        )
    z = prevalence_table(data).zscores
    grouping, group = _group_label(z)
    parts.append(
        pd.DataFrame(
            {
                "grouping": grouping,
                "group": group.where(z["grouping"] != "all", "all"),
                "indicator": z["z"],
                "n_py": z["n"],
                "est_py": z["mean"],
                "se_py": z["se"],
                "lo_py": z["ci_lower"],
                "hi_py": z["ci_upper"],
                "sd_py": z["sd"],
            }
        )
    )
    ours = pd.concat(parts, ignore_index=True)
    merged = expected.merge(ours, on=["grouping", "group", "indicator"], how="left")
    assert len(merged) == len(expected) == 252
    return merged


def test_every_reference_row_is_reported(merged: pd.DataFrame) -> None:
    assert merged["n_py"].notna().all()


def test_counts_exact(merged: pd.DataFrame) -> None:
    assert (merged["n"] == merged["n_py"]).all()


@pytest.mark.parametrize(
    ("r_col", "py_col", "tol"),
    [
        ("estimate", "est_py", 1e-9),
        ("se", "se_py", 1e-9),
        ("ci_lower", "lo_py", 1e-6),
        ("ci_upper", "hi_py", 1e-6),
    ],
)
def test_estimates_match_survey(merged: pd.DataFrame, r_col: str, py_col: str, tol: float) -> None:
    both_missing = merged[r_col].isna() & merged[py_col].isna()
    close = np.isclose(merged[r_col], merged[py_col], rtol=0, atol=tol)
    assert (both_missing | close).all()


def test_sd_close_to_survey(merged: pd.DataFrame) -> None:
    rows = merged.loc[merged["kind"] == "mean"]
    assert np.allclose(rows["sd"], rows["sd_py"], rtol=0, atol=0.01, equal_nan=True)


def test_sd_exact_where_group_has_no_missing_values(merged: pd.DataFrame) -> None:
    data = pd.read_csv(FIXTURES / "anthro_reference_input.csv")
    data = data.loc[data["age_days"] <= 1826]
    group = [str(g) for g in age_groups(data["age_days"])]
    sex = ["male" if s == 1 else "female" for s in data["sex"]]
    keys = [("all", "all")]
    for g, s in zip(group, sex, strict=True):
        keys += [("age_group", g), ("sex", s), ("age_sex", f"{g}.{s}")]
    sizes: dict[tuple[str, str], int] = {}
    for key in keys:
        sizes[key] = sizes.get(key, 0) + 1
    sizes[("all", "all")] = len(data)
    rows = merged.loc[merged["kind"] == "mean"]
    complete = [
        sizes.get((str(g), str(k))) == n
        for g, k, n in zip(rows["grouping"], rows["group"], rows["n"], strict=True)
    ]
    exact = rows.loc[complete]
    assert len(exact) >= 5
    assert np.allclose(exact["sd"], exact["sd_py"], rtol=0, atol=1e-9)
