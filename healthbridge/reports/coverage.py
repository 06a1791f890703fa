"""District coverage figures (DOMAIN.md §6.1), each traceable to the children it counts.

Every figure is *numerator / denominator* with a 95 % interval. Rules, for a report date
``as_of`` and a period ``[period_start, as_of]`` (default: the 365 days ending on ``as_of``):

* **Checkup coverage, per visit** (``checkup:<code>``): children under 7 whose visit is due
  (birth date + due age in calendar months + ``grace_days`` ≤ ``as_of``) ÷ … of whom those
  with a checkup of that visit code dated on or before ``as_of``. Due ages are data
  (``data/checkup_schedule.json``, 基本公卫规范第三版 2017).
* **Under-3 systematic management rate, 4:2:2** (``systematic-management-u3``; 3岁以下儿童
  系统管理率, 妇幼卫生年报, DOMAIN.md §6.1). Denominator: children younger than 36 calendar
  months on ``as_of`` who have reached the due age of the first counted visit (3 months +
  grace) — a child with nothing due yet cannot be judged, so is not counted either way.
  Numerator: those who, in each year of life, attended as many *distinct* scheduled visits as
  are due by ``as_of`` (year 1: 3, 6, 8, 12 m; year 2: 18, 24 m; year 3: 30, 36 m — so a child
  past 30 months needs 4 + 2 + 1, and the full 4:2:2 at 36 months). Visits are matched by
  visit code, whatever their date; the newborn visit does not count (年报 rule).
* **Under-7 health management rate** (``health-management-u7``; 7岁以下儿童健康管理率):
  children younger than 84 months on ``as_of`` ÷ those with ≥ 1 checkup (any code except
  ``daily-check``) in the period.
* **Vaccination coverage** (``vaccination:<vaccine>:<dose>``): children whose dose is due
  (birth + ``due_age_days`` + ``grace_days`` ≤ ``as_of``) ÷ those with that dose recorded on or
  before ``as_of``. The required-dose table is an input (the NIP schedule lives elsewhere).
* **Admission check completion** (``admission-check``; 查验办法 2021, DOMAIN.md §1.4): new
  entrants in the period ÷ those whose certificate has been assessed. **Catch-up completion**
  (``admission-catchup``): entrants assessed incomplete ÷ those whose catch-up is recorded.
* **Signed-centre rate** (``signed-centres``): filed centres ÷ those with a 医育结合 agreement
  signed on or before ``as_of`` and not ended. Local definitions vary (DOMAIN.md §7 item 7).
* **Frail-child management rate** (``managed-frail``; 体弱儿管理率 = 体弱儿专案管理人数 ÷
  体弱儿人数, 妇幼卫生年报 usage [M]): children identified as frail in the period (a managed case
  open at some time in it, or a listed ``frail`` identification dated in it: an alert of a
  managed-case condition) ÷ of whom those with a managed case open at some time in the period.
* **Case closure rate** (``case-closure``; 结案率 = 结案人数 ÷ 专案管理人数 [M]): children with a
  managed case open at some time in the period ÷ of whom those with a case closed in the period
  with outcome cured, improved or referred (a case closed as lost to follow-up, 失访, is not a
  结案: our reading [?]).
* **Childcare places per 1,000 population** (``places-per-1000``): places in filed centres ÷
  resident population / 1,000, only when the population is configured; no interval.

Per-centre rows use the centre a child is enrolled in on ``as_of`` (``enrolled_on`` ≤
``as_of`` < ``left_on`` when those columns exist); admission rows use the centre of the entry.

Intervals: Wilson score by default (never degenerate at 0 % or 100 %, good coverage for the
small denominators of single centres); Clopper–Pearson on request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from healthbridge.reports.ci import CiMethod, proportion_ci
from healthbridge.reports.coverage_families import _families
from healthbridge.reports.coverage_inputs import CoverageInputs, _Family
from healthbridge.reports.errors import ReportInputError

__all__ = [
    "GROUP_KEYS",
    "CoverageInputs",
    "FigureMembers",
    "coverage_chart_data",
    "coverage_table",
    "figure_members",
]

GROUP_KEYS: tuple[str, ...] = ("centre", "district")


@dataclass(frozen=True)
class FigureMembers:
    """Who a figure counts: unit ids (child ids, or centre ids for ``signed-centres``)."""

    figure: str
    unit: str
    denominator_ids: tuple[str, ...]
    numerator_ids: tuple[str, ...]


def coverage_table(
    inputs: CoverageInputs,
    *,
    as_of: dt.date,
    period_start: dt.date | None = None,
    groupings: Sequence[Sequence[str]] = ((), ("centre",)),
    grace_days: int = 0,
    ci_method: CiMethod = CiMethod.WILSON,
    families: Collection[str] | None = None,
) -> pd.DataFrame:
    """All coverage figures as one tidy table.

    Columns: ``grouping``, ``centre``, ``district`` (``"all"`` where not split), ``figure``,
    ``label_zh``, ``label_en``, ``unit`` (``child``/``centre``/``place``), ``numerator``,
    ``denominator``, ``rate`` (% — per 1,000 for ``places-per-1000``), ``rate_unit``,
    ``ci_lower``, ``ci_upper``, ``ci_method``. Groupings may use ``centre`` and ``district``.
    ``families``: only the figures of these families (of
    :data:`~healthbridge.reports.coverage_families.FAMILIES`; ``checkup`` has the per-visit
    figures and the 4:2:2 and under-7 management rates) — the same figures as in the whole
    table, for a caller that shows a few (the area comparison and trend).
    """
    for g in groupings:
        bad = [k for k in g if k not in GROUP_KEYS]
        if bad:
            raise ReportInputError(f"coverage groupings may use centre and district, not {bad}")
    parts: list[pd.DataFrame] = []
    for family in _families(inputs, as_of, period_start, grace_days, families):
        for g in groupings:
            parts.append(_aggregate(family, tuple(g), ci_method))
    places = _places_row(inputs)
    if places is not None:
        parts.append(places)
    table = pd.concat(parts, ignore_index=True)
    for k in GROUP_KEYS:
        if k not in table.columns:
            table[k] = pd.NA
        table[k] = table[k].astype("string").fillna("all")
    return table[
        [
            "grouping",
            *GROUP_KEYS,
            "figure",
            "label_zh",
            "label_en",
            "unit",
            "numerator",
            "denominator",
            "rate",
            "rate_unit",
            "ci_lower",
            "ci_upper",
            "ci_method",
        ]
    ]


def _aggregate(family: _Family, keys: tuple[str, ...], method: CiMethod) -> pd.DataFrame:
    den = pd.DataFrame(family.denominator.astype(np.int64), columns=list(family.codes))
    num = pd.DataFrame(family.numerator.astype(np.int64), columns=list(family.codes))
    if keys:
        by = [family.groups[k] for k in keys]
        den_s = den.groupby(by, dropna=True).sum()
        num_s = num.groupby(by, dropna=True).sum()
        key_frame = den_s.index.to_frame(index=False)
        key_frame.columns = list(keys)
    else:
        den_s = den.sum(axis=0).to_frame().T
        num_s = num.sum(axis=0).to_frame().T
        key_frame = pd.DataFrame(index=[0])
    # every figure of the family at once, figure-major (each figure's groups together): one
    # frame built from whole columns, not one small frame per figure (44 per district page)
    codes = list(family.codes)
    groups = len(key_frame)
    d = den_s[codes].to_numpy(dtype=np.int64).T.ravel()
    n = num_s[codes].to_numpy(dtype=np.int64).T.ravel()
    lower, upper = proportion_ci(n, d, method)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(d > 0, n / d * 100, np.nan)
    out = key_frame.iloc[np.tile(np.arange(groups), len(codes))].reset_index(drop=True)
    columns: dict[str, Any] = {
        "figure": np.repeat(np.array(codes, dtype=object), groups),
        "label_zh": np.repeat(np.array(family.labels_zh, dtype=object), groups),
        "label_en": np.repeat(np.array(family.labels_en, dtype=object), groups),
        "unit": family.unit,
        "numerator": n,
        "denominator": d,
        "rate": rate,
        "rate_unit": "%",
        "ci_lower": lower * 100,
        "ci_upper": upper * 100,
        "ci_method": str(method),
    }
    out = pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)
    out.insert(0, "grouping", "+".join(keys) if keys else "all")
    return out


def _places_row(inputs: CoverageInputs) -> pd.DataFrame | None:
    centres = inputs.centres
    if inputs.population is None or "places" not in centres.columns:
        return None
    if inputs.population <= 0:
        raise ReportInputError("population must be positive")
    filed = (
        centres["filed"].fillna(False).astype(bool)
        if "filed" in centres.columns
        else pd.Series(True, index=centres.index)
    )
    places = int(pd.to_numeric(centres.loc[filed, "places"]).fillna(0).sum())
    return pd.DataFrame(
        {
            "grouping": ["all"],
            "figure": ["places-per-1000"],
            "label_zh": ["每千人口拥有3岁以下婴幼儿托位数"],
            "label_en": ["Childcare places for under-3s per 1,000 population"],
            "unit": ["place"],
            "numerator": [places],
            "denominator": [inputs.population],
            "rate": [places / (inputs.population / 1000)],
            "rate_unit": ["per 1000"],
            "ci_lower": [np.nan],
            "ci_upper": [np.nan],
            "ci_method": [""],
        }
    )


def figure_members(
    inputs: CoverageInputs,
    figure: str,
    *,
    as_of: dt.date,
    period_start: dt.date | None = None,
    grace_days: int = 0,
    centre: str | None = None,
    district: str | None = None,
) -> FigureMembers:
    """The ids a figure counts, so an official can see exactly which children (or centres)
    are in its numerator and denominator; ``centre``/``district`` narrow to one row of the
    table. Raises :class:`ReportInputError` for an unknown figure code."""
    for family in _families(inputs, as_of, period_start, grace_days):
        if figure not in family.codes:
            continue
        col = family.codes.index(figure)
        keep = np.ones(len(family.ids), dtype=bool)
        for key, value in (("centre", centre), ("district", district)):
            if value is not None:
                keep &= (family.groups[key] == value).fillna(False).to_numpy()
        den = family.denominator[:, col] & keep
        num = family.numerator[:, col] & keep
        return FigureMembers(
            figure=figure,
            unit=family.unit,
            denominator_ids=tuple(sorted(str(i) for i in family.ids[den])),
            numerator_ids=tuple(sorted(str(i) for i in family.ids[num])),
        )
    raise ReportInputError(f"unknown coverage figure: {figure!r}")


def coverage_chart_data(table: pd.DataFrame, *, figure: str, lang: str = "zh") -> pd.DataFrame:
    """Per-centre bars with error bars for one figure (plus the district-wide row first).

    Columns: ``group``, ``value``, ``err_minus``, ``err_plus``, ``numerator``,
    ``denominator``, ``title``.
    """
    rows = table.loc[(table["figure"] == figure) & table["grouping"].isin(["all", "centre"])]
    title_col = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            "group": np.where(rows["grouping"] == "all", "all", rows["centre"]),
            "value": rows["rate"].to_numpy(),
            "err_minus": (rows["rate"] - rows["ci_lower"]).to_numpy(),
            "err_plus": (rows["ci_upper"] - rows["rate"]).to_numpy(),
            "numerator": rows["numerator"].to_numpy(),
            "denominator": rows["denominator"].to_numpy(),
            "title": rows[title_col].to_numpy(),
        }
    )
