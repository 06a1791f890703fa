"""The prevalence table built rule-major from whole columns is the table built one small
frame per rule and group (the previous computation, kept here as the reference)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from healthbridge.reports import prevalence as pv
from healthbridge.reports.ci import logit_ci, proportion_se
from healthbridge.reports.conventions import load_conventions


def _reference(
    frame: pd.DataFrame, convention: str, groupings: Sequence[Sequence[str]], dist: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    conv = load_conventions().spec(convention).code
    groups = [tuple(g) for g in groupings]
    prepared = pv.prepare(frame)
    total = len(prepared)
    counts: dict[str, np.ndarray] = {}
    used = []
    for rule in pv._indicator_rules(conv, dist):
        cols = pv._rule_columns(prepared, rule)
        if cols is None:
            continue
        counts[f"n::{rule.code}"] = cols[0].astype(np.int64)
        counts[f"c::{rule.code}"] = cols[1].astype(np.int64)
        used.append(rule)
    z_present = [z for z in pv.FLAG_COLUMNS if z in prepared.columns]
    for z in z_present:
        values = prepared[z].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~np.isnan(values)
        counts[f"zn::{z}"] = ok.astype(np.int64)
        counts[f"zs::{z}"] = np.where(ok, values, 0.0)
    wide = pd.DataFrame(counts, index=prepared.index)
    prev_parts, z_parts, key_order = [], [], []
    for g in groups:
        key_order += [k for k in g if k not in key_order]
    t_value = float(stats.t.ppf(0.975, df=total - 1)) if total > 1 else float("nan")
    for g in groups:
        summed = pv._group_frame(prepared, g, wide)
        label = "+".join(g) if g else pv.ALL
        keys = summed[list(g)].astype("string") if g else pd.DataFrame(index=summed.index)
        ss = pv._centred_squares(prepared, g, summed, z_present)
        for rule in used:
            n = summed[f"n::{rule.code}"].to_numpy(dtype=np.float64)
            cases = summed[f"c::{rule.code}"].to_numpy(dtype=np.float64)
            lower, upper = logit_ci(cases, n, total)
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(n > 0, cases / n, np.nan)
            part = keys.copy()
            part.insert(0, "grouping", label)
            part["indicator"] = rule.code
            part["cutoff"] = rule.cutoff
            part["n"] = n.astype(np.int64)
            part["cases"] = cases.astype(np.int64)
            part["prevalence"] = p * 100
            part["se"] = proportion_se(cases, n, total) * 100
            part["ci_lower"] = lower * 100
            part["ci_upper"] = upper * 100
            part["label_en"] = rule.label_en
            part["label_zh"] = rule.label_zh
            prev_parts.append(part)
        for z in z_present:
            n = summed[f"zn::{z}"].to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(n > 0, summed[f"zs::{z}"].to_numpy(dtype=np.float64) / n, np.nan)
                sd = np.where(n > 1, np.sqrt(ss[z] / (n - 1)), np.nan)
                design = total / (total - 1) if total > 1 else np.nan
                se = np.where((n > 0) & (total > 1), np.sqrt(design) * np.sqrt(ss[z]) / n, np.nan)
            part = keys.copy()
            part.insert(0, "grouping", label)
            part["z"] = z
            part["n"] = n.astype(np.int64)
            part["mean"] = mean
            part["sd"] = sd
            part["se"] = se
            part["ci_lower"] = mean - t_value * se
            part["ci_upper"] = mean + t_value * se
            z_parts.append(part)
    return pv._finish(prev_parts, key_order), pv._finish(z_parts, key_order)


def _frame(rows: int, seed: int, zs: Sequence[str]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "age_days": rng.integers(0, 2000, rows),  # some beyond 1826: excluded
        "sex": rng.choice(["M", "F", "m", "f", None], rows),
        "centre": rng.choice(["c1", "c2", "c3", None], rows),  # c3 small: suppressed cells
        "area": rng.choice(["a1", "a2", None], rows),
        "oedema": rng.choice(["n", "y", None], rows, p=[0.9, 0.05, 0.05]),
    }
    for z in zs:
        values = rng.normal(-0.5, 1.5, rows)
        values[rng.random(rows) < 0.1] = np.nan
        data[z] = values
        data[pv.FLAG_COLUMNS[z]] = (rng.random(rows) < 0.05).astype(int)
    return pd.DataFrame(data)


GROUPINGS = ((), ("centre",), ("area",), ("sex",), ("age_group", "sex"), ("centre", "sex"))


@pytest.mark.parametrize(
    ("rows", "convention", "dist"),
    [(0, "who", False), (1, "who", False), (7, "cn-2024", False), (400, "who", True),
     (400, "cn-2024", False)],
)  # fmt: skip
def test_stacked_table_is_the_per_rule_table(rows: int, convention: str, dist: bool) -> None:
    for seed, zs in ((rows, ("zlen", "zwei", "zwfl", "zbmi")), (rows + 1, ("zlen",)), (3, ())):
        frame = _frame(rows, seed, zs)
        report = pv.prevalence_table(
            frame, convention=convention, groupings=GROUPINGS, include_distribution=dist
        )
        prevalence, zscores = _reference(frame, convention, GROUPINGS, dist)
        pd.testing.assert_frame_equal(report.prevalence, prevalence)
        pd.testing.assert_frame_equal(report.zscores, zscores)


def test_single_child_area_and_empty_groups_match() -> None:
    frame = _frame(50, 11, ("zlen", "zwfl"))
    frame.loc[0, "centre"] = "alone"  # one child: a suppressed small cell downstream
    frame.loc[frame["centre"] == "c2", ["zlen", "zwfl"]] = np.nan  # a group with n = 0
    report = pv.prevalence_table(frame, groupings=GROUPINGS)
    prevalence, zscores = _reference(frame, "who", GROUPINGS, False)
    pd.testing.assert_frame_equal(report.prevalence, prevalence)
    pd.testing.assert_frame_equal(report.zscores, zscores)
