"""Report bar charts: the bars are the figures, the pseudo-groups are named, labels fit."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from healthbridge.charts.labels import Lang
from healthbridge.charts.reports import draw_bars


def _data(values: list[float]) -> pd.DataFrame:
    groups = ["all", "none", "托育中心甲"][: len(values)]
    return pd.DataFrame(
        {
            "group": groups,
            "value": values,
            "err_minus": [1.0] * len(values),
            "err_plus": [1.0] * len(values),
            "title": ["Stunting"] * len(values),
        }
    )


@pytest.mark.parametrize(
    ("lang", "names"),
    [
        (Lang.EN, ["District", "Not enrolled", "托育中心甲"]),
        (Lang.ZH, ["全区", "未入托", "托育中心甲"]),
    ],
)
def test_bars_equal_the_figures_and_groups_are_named(lang: Lang, names: list[str]) -> None:
    fig = draw_bars(_data([8.5, 12.0, 4.25]), lang=lang)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [b.get_height() for b in bars] == [8.5, 12.0, 4.25]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    if lang is Lang.ZH and labels[0] != "全区":  # no CJK font on this machine: English
        names = ["District", "Not enrolled", "托育中心甲"]
    assert labels == names
    assert [t.get_text() for t in ax.texts] == ["8.5", "12.0", "4.2"]


def test_a_full_bar_keeps_its_label_inside_the_axes() -> None:
    fig = draw_bars(_data([100.0, 50.0]), lang=Lang.EN)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert low == 0.0
    assert high > 100.0
    assert max(ax.get_yticks()) <= 100.0


def test_places_per_1000_keep_two_decimals_and_claim_no_interval() -> None:
    """Places per 1,000 are small (0.05): a label of "0.0" or a 0–1 axis would hide them, and
    they have no confidence interval to caption."""
    data = _data([0.05, 0.24]).assign(err_minus=0.0, err_plus=0.0)
    fig = draw_bars(data, lang=Lang.EN, unit="per-1000")
    ax = fig.axes[0]
    labels = [a.get_text() for a in ax.texts]
    assert labels == ["0.05", "0.24"]
    assert ax.get_ylim()[1] < 0.5
    assert not any("95%" in t.get_text() for t in fig.texts)
    percent = draw_bars(_data([8.5, 12.0]), lang=Lang.EN)
    assert any("95%" in t.get_text() for t in percent.texts)
