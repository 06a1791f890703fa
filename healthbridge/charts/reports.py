"""District report charts: one bar chart per figure, 95 % confidence intervals as whiskers.

Input is the chart data of :func:`healthbridge.reports.prevalence.prevalence_chart_data` or
:func:`healthbridge.reports.coverage.coverage_chart_data` (``group``, ``value``,
``err_minus``, ``err_plus``, ``title``). Bars without a value (empty group) are drawn as an
empty slot labelled "n = 0" rather than left out, so centres stay comparable across charts.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from healthbridge.charts.fonts import cjk_font_available, font_family
from healthbridge.charts.growth import render
from healthbridge.charts.labels import Lang

__all__ = ["draw_bars", "render"]

_Y_LABEL: Final = {Lang.ZH: "百分比 (%)", Lang.EN: "Percent (%)"}
_PER_1000: Final = {Lang.ZH: "每千人口", Lang.EN: "per 1,000 population"}
_CI_NOTE: Final = {
    Lang.ZH: "误差线：95% 置信区间",
    Lang.EN: "Whiskers: 95% confidence interval",
}
#: Names of the report's pseudo-groups: the whole district, and children in no centre
#: (``healthbridge.district.reports.NOT_ENROLLED``).
_PSEUDO_GROUPS: Final = {
    "all": {Lang.ZH: "全区", Lang.EN: "District"},
    "none": {Lang.ZH: "未入托", Lang.EN: "Not enrolled"},
}


def draw_bars(
    data: pd.DataFrame, *, lang: Lang = Lang.ZH, unit: str = "%", title: str | None = None
) -> Figure:
    """A bar per group with CI whiskers; Chinese labels need a CJK font, else English."""
    if lang is Lang.ZH and not cjk_font_available():
        lang = Lang.EN
    family = font_family(lang)
    groups = [_PSEUDO_GROUPS[g][lang] if g in _PSEUDO_GROUPS else str(g) for g in data["group"]]
    values = pd.to_numeric(data["value"], errors="coerce").to_numpy(dtype="float64")
    err = np.vstack(
        [
            pd.to_numeric(data["err_minus"], errors="coerce").to_numpy(dtype="float64"),
            pd.to_numeric(data["err_plus"], errors="coerce").to_numpy(dtype="float64"),
        ]
    )
    fig = Figure(figsize=(max(6.0, 0.9 * len(groups) + 2.0), 4.5), dpi=100)
    ax = fig.add_subplot()
    x = np.arange(len(groups))
    colours = ["#1f4e79" if g == "all" else "#5b9bd5" for g in data["group"]]
    ax.bar(x, np.nan_to_num(values), color=colours, width=0.6)
    ax.errorbar(x, values, yerr=np.nan_to_num(err), fmt="none", ecolor="#333333", capsize=4)
    for xi, v in zip(x, values, strict=True):
        # places per 1,000 are small numbers (0.05‰ is not "0.0")
        label = "n = 0" if np.isnan(v) else f"{v:.1f}" if unit == "%" else f"{v:.2f}"
        ax.annotate(
            label,
            (xi, 0 if np.isnan(v) else v),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
            family=family,
        )
    ax.set_xticks(
        x,
        groups,
        rotation=30 if len(groups) > 4 else 0,
        ha="right" if len(groups) > 4 else "center",
    )
    # group names are data (Chinese centre names even on an English chart): CJK-capable ticks
    ticks = font_family(Lang.ZH) if cjk_font_available() else family
    for tick in ax.get_xticklabels():
        tick.set_fontfamily(ticks)
    ax.set_ylabel(_Y_LABEL[lang] if unit == "%" else _PER_1000[lang], family=family)
    top = float(np.nanmax(np.nan_to_num(values) + np.nan_to_num(err[1]), initial=0.0))
    # headroom above the tallest bar for its value label (a 100 % bar too), ticks stop at 100 %
    ax.set_ylim(0, min(112.0, max(5.0, top * 1.15)) if unit == "%" else (top * 1.2 or 1.0))
    if unit == "%" and top * 1.15 > 100.0:
        ax.set_yticks([t for t in ax.get_yticks() if 0.0 <= t <= 100.0])
    chart_title = title or (str(data["title"].iloc[0]) if len(data) else "")
    ax.set_title(chart_title, family=family)
    ax.grid(axis="y", color="#dddddd")
    ax.set_axisbelow(True)
    if unit == "%":  # places per 1,000 have no interval
        fig.text(0.01, 0.01, _CI_NOTE[lang], fontsize=7, color="#666666", family=family)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
