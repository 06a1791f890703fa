"""The trend of an area's figures: one line per figure over the last quarters.

Input is :func:`healthbridge.district.compare.trend`'s table (``period_start``,
``period_end``, ``figure``, ``label_zh``, ``label_en``, ``rate``); suppressed small cells
(no rate) leave a gap in their line rather than a zero.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from healthbridge.charts.fonts import cjk_font_available, font_family
from healthbridge.charts.labels import Lang

_Y_LABEL: Final = {Lang.ZH: "百分比 (%)", Lang.EN: "Percent (%)"}
_TITLE: Final = {Lang.ZH: "近四个季度趋势", Lang.EN: "Trend over the last quarters"}
_X_LABEL: Final = {Lang.ZH: "季度", Lang.EN: "Quarter"}


def quarter_label(period_start: str) -> str:
    """``2026-07-01`` → ``2026Q3``."""
    year, month = int(period_start[:4]), int(period_start[5:7])
    return f"{year}Q{(month - 1) // 3 + 1}"


def draw_trend(table: pd.DataFrame, *, lang: Lang = Lang.ZH) -> Figure:
    """A line per figure, quarters on the x axis; Chinese labels need a CJK font."""
    if lang is Lang.ZH and not cjk_font_available():
        lang = Lang.EN
    family = font_family(lang)
    label = "label_zh" if lang is Lang.ZH else "label_en"
    periods = list(dict.fromkeys(table["period_start"]))
    x = np.arange(len(periods))
    fig = Figure(figsize=(7.0, 4.5), dpi=100)
    ax = fig.add_subplot()
    for _figure, rows in table.groupby("figure", sort=False):
        by_period = dict(zip(rows["period_start"], rows["rate"], strict=True))
        values = pd.to_numeric(
            pd.Series([by_period.get(p) for p in periods], dtype="object"), errors="coerce"
        ).to_numpy(dtype="float64")
        ax.plot(x, values, marker="o", label=str(rows[label].iloc[0]))
    ax.set_xticks(x, [quarter_label(str(p)) for p in periods])
    ax.set_xlabel(_X_LABEL[lang], family=family)
    ax.set_ylabel(_Y_LABEL[lang], family=family)
    ax.set_ylim(0, 105)
    ax.set_title(_TITLE[lang], family=family)
    ax.grid(axis="y", color="#dddddd")
    ax.legend(prop={"family": family, "size": 7}, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig
