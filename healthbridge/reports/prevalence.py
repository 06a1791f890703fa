"""Nutrition prevalences and z-score summaries, computed the way WHO's ``anthro`` does.

Method (WHO ``anthro`` R package, ``anthro_prevalence``; ``R/prevalence.R`` and
``R/prevalence-simple.R``), for a design without clusters, strata or sampling weights:

1. One record per child. Records older than 1826 days are dropped; the remaining record
   count is ``N``, the size of the analysed data set.
2. A z-score whose flag (``fwei``, ``flen``, ``fwfl``, ``fbmi``, ``fhc``, ``fac``) is 1 —
   biologically implausible — is treated as missing: out of numerator *and* denominator.
3. Oedema (optional ``oedema`` column, ``y``/``n``): weight-based z-scores (zwei, zwfl, zbmi)
   are set missing for the mean/SD, but count as -3.1 for prevalences, so a child with
   oedema is always in the denominator and in the < -2 and < -3 numerators.
4. Prevalence = cases / non-missing records in the group, with the logit interval of
   :func:`healthbridge.reports.ci.logit_ci` (``svyciprop(method = "logit")``) and the
   design-based SE, both using ``N`` of the whole data set (groups are survey domains).
5. Mean z with a t interval (``N - 1`` df) and the sample SD (``n - 1`` denominator).
6. Groups: everybody ("all"), age group (``00-05 mo`` … ``48-59 mo``, ``right = FALSE`` on
   age in days / 30.4375), sex, age group × sex, plus any column of the input (centre,
   district). Age-group and sex levels are reported even when empty (n = 0), as WHO does.

Differences from anthro, on purpose: z-scores come in already computed (the
``growth_standards`` branch scores them), cluster/strata/sampling-weight designs are not
implemented (HealthBridge reports on its whole registered population, not on a sample; see
docs/reports.md), and named prevalences follow a chosen :class:`Convention`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from healthbridge.reports.ci import logit_ci, proportion_se
from healthbridge.reports.conventions import Condition, Convention, Rule, load_conventions
from healthbridge.reports.errors import ReportInputError

#: z-score column → flag column (docs/CONVENTIONS.md).
FLAG_COLUMNS: dict[str, str] = {
    "zwei": "fwei",
    "zlen": "flen",
    "zwfl": "fwfl",
    "zbmi": "fbmi",
    "zhc": "fhc",
    "zac": "fac",
}
#: Weight-based indices whose prevalence counts oedema as < -3 SD (anthro ``*_aux``).
WEIGHT_BASED: tuple[str, ...] = ("zwei", "zwfl", "zbmi")
#: The auxiliary z given to a child with oedema for weight-based prevalences.
OEDEMA_Z = -3.1

AGE_GROUP = "age_group"
SEX = "sex"
ALL = "all"
SEX_LEVELS: tuple[str, ...] = ("female", "male")  # WHO orders Female before Male

#: The groupings WHO reports, in WHO's order.
WHO_GROUPINGS: tuple[tuple[str, ...], ...] = ((), (AGE_GROUP,), (SEX,), (AGE_GROUP, SEX))

_SEX_CODES = {
    "1": "male",
    "1.0": "male",
    "2.0": "female",
    "m": "male",
    "male": "male",
    "2": "female",
    "f": "female",
    "female": "female",
}


@dataclass(frozen=True)
class PrevalenceReport:
    """Two tidy tables: prevalences and z-score summaries.

    ``prevalence`` columns: ``grouping``, one column per grouping key (value ``"all"`` where
    the row does not split by that key), ``indicator``, ``cutoff``, ``n`` (unweighted
    denominator), ``cases``, ``prevalence`` (%), ``se`` (%), ``ci_lower``, ``ci_upper`` (%),
    ``label_en``, ``label_zh``.

    ``zscores`` columns: ``grouping``, the keys, ``z``, ``n``, ``mean``, ``sd``, ``se``,
    ``ci_lower``, ``ci_upper``.
    """

    convention: Convention
    conventions_version: str
    total_records: int
    prevalence: pd.DataFrame
    zscores: pd.DataFrame


def normalise_sex(values: pd.Series) -> pd.Series:
    """Map 1/2, m/f, male/female (any case) to ``"male"``/``"female"``; others to NA."""
    text = values.astype("string").str.strip().str.lower()
    return text.map(_SEX_CODES).astype("string")


def age_groups(age_days: pd.Series) -> pd.Series:
    """WHO survey age group of each age in days (categorical; NA when age is missing)."""
    spec = load_conventions().age_groups
    months = pd.to_numeric(age_days, errors="coerce").astype("float64") / spec.days_per_month
    return pd.cut(months, bins=list(spec.breaks_months), labels=list(spec.labels), right=False)


def latest_per_child(
    observations: pd.DataFrame,
    *,
    child_column: str = "child_id",
    date_column: str = "date",
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One record per child: the most recent observation with ``start <= date <= end``.

    WHO's survey method counts each child once; a registry holds many visits per child, so a
    period report takes each child's latest scored measurement in the period.
    """
    _require(observations, (child_column, date_column))
    dates = pd.to_datetime(observations[date_column])
    keep = pd.Series(True, index=observations.index)
    if start is not None:
        keep &= dates >= pd.Timestamp(start)
    if end is not None:
        keep &= dates <= pd.Timestamp(end)
    chosen = observations.loc[keep].assign(_date=dates[keep])
    chosen = chosen.sort_values([child_column, "_date"], kind="stable")
    latest = chosen.drop_duplicates(child_column, keep="last").drop(columns="_date")
    return latest.reset_index(drop=True)


def latest_per_period(
    observations: pd.DataFrame,
    periods: Sequence[tuple[pd.Timestamp, pd.Timestamp]],
    *,
    child_column: str = "child_id",
    date_column: str = "date",
) -> list[pd.DataFrame]:
    """:func:`latest_per_child` of each period ``(start, end)``, from one sort of the
    observations (a trend's quarters): the same rows in the same order as one call per
    period, since a stable sort keeps the order of any subset of its rows."""
    _require(observations, (child_column, date_column))
    dates = pd.to_datetime(observations[date_column])
    ordered = observations.assign(_date=dates).sort_values([child_column, "_date"], kind="stable")
    out: list[pd.DataFrame] = []
    for start, end in periods:
        day = ordered["_date"]
        chosen = ordered.loc[(day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))]
        latest = chosen.drop_duplicates(child_column, keep="last").drop(columns="_date")
        out.append(latest.reset_index(drop=True))
    return out


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportInputError(f"missing column(s): {', '.join(missing)}")


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply WHO's exclusions: age > 1826 days dropped, flagged z-scores set missing,
    oedema handled (auxiliary ``<z>_aux`` columns for prevalences); adds ``age_group`` and a
    normalised ``sex``.

    Needs ``age_days``; ``sex``, z-score, flag and ``oedema`` columns are used when present.
    """
    _require(frame, ("age_days",))
    spec = load_conventions().age_groups
    age = pd.to_numeric(frame["age_days"], errors="coerce").astype("float64")
    kept = frame.loc[age.isna() | (age <= spec.max_age_days)].copy()
    age = age.loc[kept.index]
    kept[AGE_GROUP] = age_groups(age)
    if SEX in kept.columns:
        kept[SEX] = pd.Categorical(normalise_sex(kept[SEX]), categories=list(SEX_LEVELS))
    oedema = (
        kept["oedema"].astype("string").str.strip().str.lower().isin(["y", "1"]).fillna(False)
        if "oedema" in kept.columns
        else pd.Series(False, index=kept.index)
    )
    # anthro sets oedema to "n" beyond 1826 days; those rows are already gone.
    for z, flag in FLAG_COLUMNS.items():
        if z not in kept.columns:
            continue
        values = pd.to_numeric(kept[z], errors="coerce").astype("float64")
        if flag in kept.columns:
            flagged = pd.to_numeric(kept[flag], errors="coerce").fillna(0).astype("int64") == 1
            values = values.mask(flagged)
        if z in WEIGHT_BASED:
            kept[f"{z}_aux"] = values.mask(oedema, OEDEMA_Z)
            values = values.mask(oedema)
        else:
            kept[f"{z}_aux"] = values
        kept[z] = values
    return kept.reset_index(drop=True)


def _rule_columns(prepared: pd.DataFrame, rule: Rule) -> tuple[np.ndarray, np.ndarray] | None:
    """(known, case) boolean arrays for a rule, or None if a z column is absent."""
    known = np.ones(len(prepared), dtype=bool)
    case = np.ones(len(prepared), dtype=bool)
    for cond in rule.conditions:
        aux = f"{cond.z}_aux"
        if aux not in prepared.columns:
            return None
        z = prepared[aux].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~np.isnan(z)
        known &= ok
        with np.errstate(invalid="ignore"):
            if cond.below is not None:
                case &= z < cond.below
            if cond.above is not None:
                case &= z > cond.above
            if cond.at_most is not None:
                case &= z <= cond.at_most
    return known, case & known


def _indicator_rules(convention: Convention, include_distribution: bool) -> list[Rule]:
    conv = load_conventions()
    rules = list(conv.spec(convention).rules)
    if include_distribution:
        for z in conv.distribution_z:
            for c in conv.distribution_below:
                rules.append(
                    Rule(
                        f"{z}<{c:g}", (Condition(z, below=c),), f"{z} < {c:g} SD", f"{z} < {c:g}SD"
                    )
                )
            for c in conv.distribution_above:
                rules.append(
                    Rule(
                        f"{z}>{c:g}", (Condition(z, above=c),), f"{z} > {c:g} SD", f"{z} > {c:g}SD"
                    )
                )
    return rules


def _group_frame(
    prepared: pd.DataFrame, keys: tuple[str, ...], values: pd.DataFrame
) -> pd.DataFrame:
    """Sum ``values`` per group of ``keys``; empty sex/age-group levels are kept (n = 0)."""
    if not keys:
        summed = values.sum(axis=0).to_frame().T
        return summed
    key_frame = pd.DataFrame({k: prepared[k] for k in keys})
    summed = values.groupby(
        [key_frame[k] for k in keys], observed=True, dropna=True, sort=False
    ).sum()
    summed = summed.reset_index()
    level_keys = [k for k in keys if k in (AGE_GROUP, SEX)]
    other_keys = [k for k in keys if k not in level_keys]
    if level_keys:
        grid = pd.DataFrame({"_one": [1]})
        for k in level_keys:
            levels = pd.DataFrame({k: list(prepared[k].cat.categories), "_one": 1})
            grid = grid.merge(levels, on="_one")
        if other_keys:
            observed = key_frame[other_keys].dropna().drop_duplicates().assign(_one=1)
            grid = grid.merge(observed, on="_one")
        grid = grid.drop(columns="_one")
        for k in level_keys:
            summed[k] = summed[k].astype("string")
            grid[k] = grid[k].astype("string")
        for k in other_keys:
            grid[k] = grid[k].astype(summed[k].dtype)
        summed = grid.merge(summed, on=list(keys), how="left")
        value_cols = list(values.columns)
        summed[value_cols] = summed[value_cols].fillna(0)
    else:
        summed = summed.sort_values(list(keys), kind="stable").reset_index(drop=True)
    return summed


def prevalence_table(
    frame: pd.DataFrame,
    *,
    convention: Convention | str = Convention.WHO,
    groupings: Sequence[Sequence[str]] = WHO_GROUPINGS,
    include_distribution: bool = False,
) -> PrevalenceReport:
    """Prevalences and z-score summaries for one record per child.

    ``frame`` needs ``age_days`` (age at measurement), optionally ``sex``, ``oedema``, the
    z-score columns (``zlen``, ``zwei``, ``zwfl``, ``zbmi``, ``zhc``, ``zac``) with their
    flag columns, and any grouping columns named in ``groupings`` (e.g. ``centre``,
    ``district``). ``()`` in ``groupings`` means everybody. ``include_distribution`` adds
    WHO's six distribution cut-offs (< -3, < -2, < -1, > +1, > +2, > +3) per index.
    """
    conv = load_conventions().spec(convention).code
    groups = [tuple(g) for g in groupings]
    prepared = prepare(frame)
    for g in groups:
        _require(prepared, g)
    total = len(prepared)
    rules = _indicator_rules(conv, include_distribution)

    # One wide table of 0/1 counts and z sums, summed per group in a single groupby.
    counts: dict[str, np.ndarray] = {}
    used_rules: list[Rule] = []
    for rule in rules:
        cols = _rule_columns(prepared, rule)
        if cols is None:
            continue
        known, case = cols
        counts[f"n::{rule.code}"] = known.astype(np.int64)
        counts[f"c::{rule.code}"] = case.astype(np.int64)
        used_rules.append(rule)
    z_present = [z for z in FLAG_COLUMNS if z in prepared.columns]
    for z in z_present:
        values = prepared[z].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~np.isnan(values)
        filled = np.where(ok, values, 0.0)
        counts[f"zn::{z}"] = ok.astype(np.int64)
        counts[f"zs::{z}"] = filled
    wide = pd.DataFrame(counts, index=prepared.index)

    # Means first, then centred sums of squares (two passes, as sd() does, for accuracy).
    prev_parts: list[pd.DataFrame] = []
    z_parts: list[pd.DataFrame] = []
    key_order: list[str] = []
    for g in groups:
        for k in g:
            if k not in key_order:
                key_order.append(k)
    t_value = float(stats.t.ppf(0.975, df=total - 1)) if total > 1 else float("nan")
    for g in groups:
        summed = _group_frame(prepared, g, wide)
        label = "+".join(g) if g else ALL
        keys = summed[list(g)].astype("string") if g else pd.DataFrame(index=summed.index)
        ss = _centred_squares(prepared, g, summed, z_present)
        # every rule (and every z column) at once, rule-major (each rule's groups together):
        # one frame from whole columns, not one small frame per rule and group
        if used_rules:
            n = _stacked(summed, [f"n::{r.code}" for r in used_rules])
            cases = _stacked(summed, [f"c::{r.code}" for r in used_rules])
            lower, upper = logit_ci(cases, n, total)
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(n > 0, cases / n, np.nan)
            prev_parts.append(
                _part(keys, label, len(used_rules), {
                    "indicator": [r.code for r in used_rules],
                    "cutoff": [r.cutoff for r in used_rules],
                    "n": n.astype(np.int64),
                    "cases": cases.astype(np.int64),
                    "prevalence": p * 100,
                    "se": proportion_se(cases, n, total) * 100,
                    "ci_lower": lower * 100,
                    "ci_upper": upper * 100,
                    "label_en": [r.label_en for r in used_rules],
                    "label_zh": [r.label_zh for r in used_rules],
                })
            )  # fmt: skip
        if z_present:
            n = _stacked(summed, [f"zn::{z}" for z in z_present])
            sums = _stacked(summed, [f"zs::{z}" for z in z_present])
            squares = np.concatenate([ss[z] for z in z_present])
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(n > 0, sums / n, np.nan)
                sd = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
                # total is a Python int: 1/0 would raise for a single record, not give inf
                design = total / (total - 1) if total > 1 else np.nan
                se = np.where((n > 0) & (total > 1), np.sqrt(design) * np.sqrt(squares) / n, np.nan)
            z_parts.append(
                _part(keys, label, len(z_present), {
                    "z": list(z_present),
                    "n": n.astype(np.int64),
                    "mean": mean,
                    "sd": sd,
                    "se": se,
                    "ci_lower": mean - t_value * se,
                    "ci_upper": mean + t_value * se,
                })
            )  # fmt: skip
    prevalence = _finish(prev_parts, key_order)
    zscores = _finish(z_parts, key_order)
    return PrevalenceReport(conv, load_conventions().version, total, prevalence, zscores)


def _stacked(summed: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The ``columns`` of ``summed`` one after another (column-major) as float64."""
    return summed[columns].to_numpy(dtype=np.float64).T.ravel()


def _part(keys: pd.DataFrame, label: str, count: int, columns: dict[str, Any]) -> pd.DataFrame:
    """One grouping's rows of ``count`` figures, figure-major: the group keys repeated per
    figure, then ``columns`` (a list of ``count`` values is one per figure, repeated over
    the groups; an array has a value per row)."""
    groups = len(keys)
    out = keys.iloc[np.tile(np.arange(groups), count)].reset_index(drop=True)
    out.insert(0, "grouping", label)
    for name, value in columns.items():
        if isinstance(value, list):
            # (no group: a scalar gives the empty column the dtype one value would)
            value = [v for v in value for _ in range(groups)] if groups else value[0]
        out[name] = value
    return out


def _centred_squares(
    prepared: pd.DataFrame, keys: tuple[str, ...], summed: pd.DataFrame, z_cols: list[str]
) -> dict[str, np.ndarray]:
    """Per group, sum of squared deviations from the group mean of each z column."""
    out: dict[str, np.ndarray] = {}
    if not z_cols:
        return out
    if keys:
        index = pd.MultiIndex.from_frame(summed[list(keys)].astype("string"))
        row_keys = pd.MultiIndex.from_frame(prepared[list(keys)].astype("string"))
        position = index.get_indexer(row_keys)
    else:
        position = np.zeros(len(prepared), dtype=np.int64)
    valid_row = position >= 0
    for z in z_cols:
        n = summed[f"zn::{z}"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(n > 0, summed[f"zs::{z}"].to_numpy(dtype=np.float64) / n, 0.0)
        values = prepared[z].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = valid_row & ~np.isnan(values)
        dev = values[ok] - means[position[ok]]
        out[z] = np.bincount(position[ok], weights=dev * dev, minlength=len(summed))
    return out


def _finish(parts: list[pd.DataFrame], key_order: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    for k in key_order:
        if k not in table.columns:
            table[k] = ALL
        table[k] = table[k].astype("string").fillna(ALL)
    first = ["grouping", *key_order]
    rest = [c for c in table.columns if c not in first]
    return table[first + rest]


def prevalence_chart_data(
    report: PrevalenceReport, *, indicator: str, grouping: str = ALL, lang: str = "zh"
) -> pd.DataFrame:
    """Bars with error bars for one indicator and one grouping, ready to plot.

    Columns: ``group`` (the row's key values joined by " · ", or "all"), ``value`` (%),
    ``err_minus`` and ``err_plus`` (distance to the CI bounds), ``n``, ``title``.
    """
    table = report.prevalence
    columns = ["group", "value", "err_minus", "err_plus", "n", "title"]
    if table.empty or "indicator" not in table.columns:  # no child in the period
        return pd.DataFrame(columns=columns)
    rows = table.loc[(table["indicator"] == indicator) & (table["grouping"] == grouping)]
    keys = grouping.split("+") if grouping != ALL else []
    if rows.empty or any(k not in rows.columns for k in keys):
        return pd.DataFrame(columns=columns)
    # (a row-wise ``agg(" · ".join, axis=1)`` returns a frame for one key on pandas 3)
    group = pd.Series(
        [" · ".join(str(v) for v in values) for values in rows[keys].itertuples(index=False)]
        if keys
        else [ALL] * len(rows),
        index=rows.index,
        dtype="object",
    )
    title_col = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            "group": group.to_numpy(),
            "value": rows["prevalence"].to_numpy(),
            "err_minus": (rows["prevalence"] - rows["ci_lower"]).to_numpy(),
            "err_plus": (rows["ci_upper"] - rows["prevalence"]).to_numpy(),
            "n": rows["n"].to_numpy(),
            "title": rows[title_col].to_numpy(),
        }
    )
