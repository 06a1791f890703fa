"""The trend of an area's figures: lines over the last quarters, one panel per kind.

Input is :func:`healthbridge.district.compare.trend`'s table (``period_start``,
``period_end``, ``figure``, ``label_zh``, ``label_en``, ``rate``) and the figures of each
panel (prevalences of a few per cent and coverage near 100 % on one axis would flatten the
prevalences). Suppressed small cells (no rate) leave a gap in their line rather than a zero.
Legends sit under their panel so the lines keep the width of a phone screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from healthbridge.charts.fonts import cjk_font_available, font_family
from healthbridge.charts.labels import Lang

_Y_LABEL: Final = {Lang.ZH: "百分比 (%)", Lang.EN: "Percent (%)"}
_TITLES: Final = (
    {Lang.ZH: "患病率 · 近四个季度", Lang.EN: "Prevalence · last four quarters"},
    {Lang.ZH: "覆盖率 · 近四个季度", Lang.EN: "Coverage · last four quarters"},
)


def quarter_label(period_start: str) -> str:
    """``2026-07-01`` → ``2026Q3``."""
    year, month = int(period_start[:4]), int(period_start[5:7])
    return f"{year}Q{(month - 1) // 3 + 1}"


def draw_trend(
    table: pd.DataFrame, *, panels: Sequence[Sequence[str]], lang: Lang = Lang.ZH
) -> Figure:
    """One panel per entry of ``panels`` (figure codes; the first titled prevalence, the
    second coverage), a line per figure, quarters on the x axis."""
    if lang is Lang.ZH and not cjk_font_available():
        lang = Lang.EN
    family = font_family(lang)
    label = "label_zh" if lang is Lang.ZH else "label_en"
    periods = list(dict.fromkeys(table["period_start"]))
    x = np.arange(len(periods))
    fig = Figure(figsize=(6.4, 3.4 * len(panels)), dpi=100)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for n, (ax, codes) in enumerate(zip(axes, panels, strict=True)):
        top = 0.0
        for code in codes:
            rows = table.loc[table["figure"] == code]
            if rows.empty:
                continue
            by_period = dict(zip(rows["period_start"], rows["rate"], strict=True))
            values = pd.to_numeric(
                pd.Series([by_period.get(p) for p in periods], dtype="object"), errors="coerce"
            ).to_numpy(dtype="float64")
            top = max(top, float(np.nanmax(values, initial=0.0)))
            ax.plot(x, values, marker="o", label=str(rows[label].iloc[0]))
        ax.set_xticks(x, [quarter_label(str(p)) for p in periods])
        ax.set_ylabel(_Y_LABEL[lang], family=family)
        ax.set_ylim(0, 105 if top > 50 else max(5.0, top * 1.3))
        ax.set_title(_TITLES[min(n, len(_TITLES) - 1)][lang], family=family)
        ax.grid(axis="y", color="#dddddd")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(
                prop={"family": family, "size": 8},
                loc="upper center",
                bbox_to_anchor=(0.5, -0.14),
                ncol=1,
                frameon=False,
            )
    fig.tight_layout(h_pad=1.0)
    return fig
