"""WHO-style growth charts drawn with matplotlib's object-oriented API on the Agg backend.

A chart is built in two steps so that tests can check the *plotted data*, not just that a
file appeared: :func:`chart_data` assembles the reference lines (from
:mod:`growth_standards` curves) and the child's points; :func:`draw` turns that into a
matplotlib Figure; :func:`render` serialises a Figure to PNG, SVG or PDF.

Age ranges follow WHO's chart sets: birth–2 years and birth–5 years (WHO 2006 standards) and
5–19 years (WHO 2007 reference). Reference lines are the 3rd, 15th, 50th, 85th and 97th
percentiles (WHO's percentile charts) or the −3…+3 z lines (WHO's z-score charts).
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MultipleLocator

from growth_standards import Indicator, Sex, centile_curves, z_curves
from healthbridge.charts.fonts import cjk_font_available, font_family
from healthbridge.charts.labels import (
    LEGEND,
    RANGE_LABEL,
    SEX_LABEL,
    SOURCE_NOTE,
    TITLES,
    X_LABEL,
    Y_LABEL,
    Lang,
    line_label,
)

#: Days per month as WHO converts ages (anthro: 30.4375).
DAYS_PER_MONTH: Final = 30.4375
DAYS_PER_YEAR: Final = 365.25
CENTILES: Final = (3.0, 15.0, 50.0, 85.0, 97.0)
ZLINES: Final = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
#: x-axis extents of the chart sets, in the indicator's x unit (days, or cm).
AGE_RANGES: Final[dict[str, tuple[float, float]]] = {
    "0-2y": (0.0, 730.0),
    # a display window of the 0–5 y standard for 2–3-year-olds (36 months = 1095.75 days):
    # on a phone, a 0–5 y axis leaves a 26-month-old's points in the left 40 % of the chart
    "0-3y": (0.0, 1096.0),
    "0-5y": (0.0, 1856.0),
    "5-19y": (1856.0, 6940.0),
}
LENGTH_RANGES: Final[dict[Indicator, tuple[str, float, float]]] = {
    Indicator.WFL: ("length", 45.0, 110.0),
    Indicator.WFH: ("height", 65.0, 120.0),
}
#: The ages each indicator has reference data for (days): used to choose a chart set.
AGE_INDICATOR_LIMITS: Final[dict[Indicator, float]] = {
    Indicator.WFA: 3652.0,  # WHO 2007 weight-for-age stops at 10 years
    Indicator.LHFA: 6940.0,
    Indicator.BFA: 6940.0,
    Indicator.HCFA: 1856.0,
}
Format = Literal["png", "svg", "pdf"]
LineKind = Literal["centile", "z"]


class ChartError(ValueError):
    """A chart was asked for that cannot be drawn (e.g. an indicator without reference data)."""


@dataclass(frozen=True, slots=True)
class Point:
    """One plotted measurement; ``source`` names the record it came from (traceability)."""

    x: float  # age in days, or length/height in cm
    value: float
    when: dt.date
    source: str
    implausible: bool = False
    corrected_x: float | None = None  # corrected age in days for a preterm child


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything a chart shows, in the indicator's own units (days or cm; kg, cm, kg/m²).

    ``lines`` has a column ``x`` and one column per reference line, named by
    :func:`~healthbridge.charts.labels.line_label`.
    """

    indicator: Indicator
    sex: Sex
    range_key: str
    line_kind: LineKind
    lines: pd.DataFrame
    points: tuple[Point, ...] = field(default=())


def choose_range(indicator: Indicator, ages_days: Sequence[float]) -> str:
    """The WHO chart set that covers a child's ages: 0–2 y, 0–5 y or 5–19 y (0–3 y: the
    0–5 y standard cut at 36 months, so that the axis fits a 2–3-year-old)."""
    if indicator in LENGTH_RANGES:
        return LENGTH_RANGES[indicator][0]
    oldest = max(ages_days, default=0.0)
    youngest = min(ages_days, default=0.0)
    if oldest <= AGE_RANGES["0-2y"][1]:
        return "0-2y"
    if oldest <= AGE_RANGES["0-3y"][1]:
        return "0-3y"
    if oldest <= AGE_RANGES["0-5y"][1] or indicator is Indicator.HCFA:
        return "0-5y"
    if youngest < AGE_RANGES["5-19y"][0]:
        return "0-5y"
    return "5-19y"


@lru_cache(maxsize=64)
def _curves(indicator: Indicator, sex: Sex, line_kind: LineKind) -> pd.DataFrame:
    """The reference lines of one chart set (computed once per process; read-only use)."""
    if line_kind == "centile":
        return centile_curves(indicator, sex, centiles=CENTILES)
    return z_curves(indicator, sex, zs=ZLINES)


def chart_data(
    indicator: Indicator,
    sex: Sex,
    points: Sequence[Point],
    *,
    line_kind: LineKind = "centile",
    range_key: str | None = None,
) -> ChartData:
    """Assemble the reference lines and the child's points (in time order) for one chart."""
    if indicator not in TITLES:
        raise ChartError(f"no chart is drawn for indicator {indicator.value!r}")
    ordered = tuple(sorted(points, key=lambda p: (p.when, p.x)))
    key = range_key or choose_range(indicator, [p.x for p in ordered])
    if indicator in LENGTH_RANGES:
        _kind, low, high = LENGTH_RANGES[indicator]
    else:
        if key not in AGE_RANGES:
            raise ChartError(f"unknown age range {key!r}")
        low, high = AGE_RANGES[key]
        high = min(high, AGE_INDICATOR_LIMITS[indicator])
        if low >= high:
            raise ChartError(f"{indicator.value} has no reference data for {key}")
    curves = _curves(indicator, sex, line_kind)
    values: Sequence[float] = CENTILES if line_kind == "centile" else ZLINES
    x_column = curves.columns[0]  # age_days, length_cm or height_cm
    inside = curves[(curves[x_column] >= low) & (curves[x_column] <= high)]
    lines = pd.DataFrame({"x": inside[x_column].to_numpy()})
    for value, column in zip(values, curves.columns[1:], strict=True):
        lines[line_label(line_kind, value, Lang.EN)] = inside[column].to_numpy()
    return ChartData(indicator, sex, key, line_kind, lines.reset_index(drop=True), ordered)


def _x_display(data: ChartData, x: np.ndarray) -> np.ndarray:
    if data.indicator in LENGTH_RANGES:
        return x
    if data.range_key == "5-19y":
        return x / DAYS_PER_YEAR
    return x / DAYS_PER_MONTH


def _x_label_key(data: ChartData) -> str:
    if data.indicator in LENGTH_RANGES:
        return LENGTH_RANGES[data.indicator][0]
    return "years" if data.range_key == "5-19y" else "months"


#: Colours close to WHO's charts: red outer lines, black median, orange in between.
_LINE_COLOURS: Final[dict[str, str]] = {
    "P3": "#c62828",
    "P97": "#c62828",
    "-3 SD": "#000000",
    "+3 SD": "#000000",
    "-2 SD": "#c62828",
    "+2 SD": "#c62828",
    "P50": "#2e7d32",
    "Median": "#2e7d32",
    "P15": "#ef6c00",
    "P85": "#ef6c00",
    "-1 SD": "#ef6c00",
    "+1 SD": "#ef6c00",
}


#: x tick spacing per chart set, as on WHO's charts (months, or years from 5 years).
_TICK_STEP: Final[dict[tuple[str, str], float]] = {
    ("months", "0-2y"): 2.0,
    ("months", "0-3y"): 3.0,
    ("months", "0-5y"): 6.0,
    ("years", "5-19y"): 1.0,
}


#: Axes position on the figure (fixed margins; see :func:`draw`).
_MARGINS: Final = {"left": 0.085, "right": 0.915, "bottom": 0.105, "top": 0.94}
_FIGSIZE: Final = (8.0, 6.0)
#: Fraction of the data range added above and below, as matplotlib's default margins.
_Y_MARGIN: Final = 0.05
#: Steps (per span of the reference lines) in which points beyond the lines widen the y-axis.
_Y_STEPS: Final = 20
CHILD_GIDS: Final = ("child", "corrected", "implausible")


def y_limits(data: ChartData) -> tuple[float, float]:
    """The y-axis extent: every reference line and every point, plus a 5 % margin.

    Fixed explicitly (rather than left to autoscaling) so that the reference layer, drawn
    once per chart set by :func:`draw_reference`, and the child's layer of
    :func:`draw_child` share one coordinate system. A point beyond the reference lines (a
    very small newborn, an implausible value) widens the extent in steps of 1/20 of the lines'
    span, so that such children still share a few reference layers instead of one each.
    """
    table = data.lines.iloc[:, 1:].to_numpy()
    low, high = float(np.nanmin(table)), float(np.nanmax(table))
    step = (high - low) / _Y_STEPS or 1.0
    values = [p.value for p in data.points]
    if values and min(values) < low:
        low -= step * math.ceil((low - min(values)) / step)
    if values and max(values) > high:
        high += step * math.ceil((max(values) - high) / step)
    pad = (high - low) * _Y_MARGIN
    return low - pad, high + pad


def _resolved(lang: Lang) -> Lang:
    """``lang``, or English when Chinese is asked for and no CJK font is installed."""
    if lang is Lang.ZH and not cjk_font_available():
        return Lang.EN
    return lang


def _figure(data: ChartData, ylim: tuple[float, float]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=_FIGSIZE, dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    # Fixed margins instead of tight_layout(): the layout is the same for every chart, and
    # measuring every text extent twice took more than half of the drawing time.
    fig.subplots_adjust(**_MARGINS)
    x = _x_display(data, data.lines["x"].to_numpy())
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylim(*ylim)
    return fig, ax


def chart_title(data: ChartData, lang: Lang) -> str:
    """ "Weight-for-age · Boys · Birth to 2 years" (in ``lang``; English without a CJK font)."""
    lang = _resolved(lang)
    return (
        f"{TITLES[data.indicator][lang]} · {SEX_LABEL[data.sex][lang]} · "
        f"{RANGE_LABEL[data.range_key][lang]}"
    )


def _draw_reference_layer(fig: Figure, ax: Axes, data: ChartData, lang: Lang) -> None:
    """Reference lines with their end labels, title, axis labels, grid, source note and the
    legend of the kinds of points the child has (part of the reference key)."""
    family = font_family(lang)
    x = _x_display(data, data.lines["x"].to_numpy())
    for column in data.lines.columns[1:]:
        label = column
        if column == "Median":
            label = line_label("z", 0.0, lang)
        ax.plot(
            x,
            data.lines[column].to_numpy(),
            color=_LINE_COLOURS.get(column, "#555555"),
            linewidth=1.6 if column in ("P50", "Median") else 1.1,
            label=label,
            gid=f"ref:{column}",
        )
        ax.annotate(
            label,
            (x[-1], data.lines[column].iloc[-1]),
            fontsize=8,
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            family=family,
        )
    ax.set_title(chart_title(data, lang), family=family)
    ax.set_xlabel(X_LABEL[_x_label_key(data)][lang], family=family)
    ax.set_ylabel(Y_LABEL[data.indicator][lang], family=family)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.xaxis.set_major_locator(
        MultipleLocator(
            _TICK_STEP[_x_label_key(data), data.range_key]
            if data.indicator not in LENGTH_RANGES
            else 5.0
        )
    )
    fig.text(0.01, 0.01, SOURCE_NOTE[lang], fontsize=7, color="#666666", family=family)
    _legend(ax, tuple(_point_sets(data)), lang)


#: How each kind of the child's points is drawn (also the legend's proxies).
_POINT_STYLES: Final[dict[str, dict[str, Any]]] = {
    "child": {
        "marker": "o",
        "linestyle": "-",
        "color": "#1565c0",
        "markersize": 5,
        "linewidth": 1.4,
        "zorder": 5,
    },
    "corrected": {
        "marker": "s",
        "linestyle": "--",
        "color": "#6a1b9a",
        "markersize": 4,
        "linewidth": 1.0,
        "fillstyle": "none",
        "zorder": 4,
    },
    "implausible": {
        "marker": "x",
        "linestyle": "none",
        "color": "#d50000",
        "markersize": 9,
        "markeredgewidth": 2,
        "zorder": 6,
    },
}
#: Below the child's points (zorder 4-6), so that no point hides under the legend.
_LEGEND_ZORDER: Final = 3.5


def _point_sets(data: ChartData) -> dict[str, list[tuple[float, float]]]:
    """The child's points by kind (display x, value); kinds without points are left out."""
    good = [p for p in data.points if not p.implausible]
    sets = {
        "child": [(p.x, p.value) for p in good],
        "corrected": [(float(p.corrected_x), p.value) for p in good if p.corrected_x is not None],
        "implausible": [(p.x, p.value) for p in data.points if p.implausible],
    }
    return {
        kind: [
            (float(x), value)
            for x, value in zip(
                _x_display(data, np.array([x for x, _ in pts], dtype=float)),
                [v for _, v in pts],
                strict=True,
            )
        ]
        for kind, pts in sets.items()
        if pts
    }


def _legend(ax: Axes, kinds: Sequence[str], lang: Lang) -> None:
    """The legend of the kinds of points the child has (drawn with the reference layer)."""
    if not kinds:
        return
    proxies = [Line2D([], [], label=LEGEND[kind][lang], **_POINT_STYLES[kind]) for kind in kinds]
    legend = ax.legend(
        handles=proxies, loc="upper left", prop={"family": font_family(lang), "size": 9}
    )
    legend.set_zorder(_LEGEND_ZORDER)


def _draw_child_layer(ax: Axes, data: ChartData) -> None:
    """The child's points joined in time order, corrected-age and implausible points."""
    for kind, pts in _point_sets(data).items():
        ax.plot(
            [x for x, _ in pts], [v for _, v in pts], gid=kind, label=kind, **_POINT_STYLES[kind]
        )


def draw(data: ChartData, lang: Lang = Lang.ZH) -> Figure:
    """Draw ``data`` as a Figure; Chinese labels need a CJK font, else English is used."""
    lang = _resolved(lang)
    fig, ax = _figure(data, y_limits(data))
    _draw_reference_layer(fig, ax, data, lang)
    _draw_child_layer(ax, data)
    return fig


def draw_reference(data: ChartData, lang: Lang = Lang.ZH) -> Figure:
    """The chart without the child: what every child of one chart set shares.

    Drawn with the y-extent of :func:`y_limits` (which includes the child's points), so that
    :func:`draw_child` on a transparent page of the same size lines up with it exactly.
    """
    lang = _resolved(lang)
    fig, ax = _figure(data, y_limits(data))
    _draw_reference_layer(fig, ax, data, lang)
    return fig


def draw_child(data: ChartData, lang: Lang = Lang.ZH) -> Figure:
    """Only the child's layer, on a transparent figure laid out as :func:`draw_reference`."""
    lang = _resolved(lang)
    fig, ax = _figure(data, y_limits(data))
    fig.patch.set_visible(False)
    ax.set_axis_off()
    _draw_child_layer(ax, data)
    return fig


def reference_key(data: ChartData, lang: Lang) -> tuple[object, ...]:
    """What :func:`draw_reference` depends on: children sharing a key share the drawing."""
    return (
        data.indicator,
        data.sex,
        data.range_key,
        data.line_kind,
        _resolved(lang),
        y_limits(data),
        tuple(_point_sets(data)),  # the legend's entries
    )


def render(fig: Figure, fmt: Format = "png") -> bytes:
    """Serialise a Figure (Agg canvas; no GUI backend is ever touched)."""
    if fmt not in ("png", "svg", "pdf"):
        raise ChartError(f"unsupported chart format {fmt!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata=_metadata(fmt))
    return buffer.getvalue()


def _metadata(fmt: Format) -> dict[str, str | None]:
    # Fixed metadata keeps output byte-stable for the same data (no creation dates).
    if fmt == "png":
        return {"Software": "HealthBridge"}
    if fmt == "svg":
        return {"Date": None, "Creator": "HealthBridge"}
    return {"CreationDate": None, "Creator": "HealthBridge", "Producer": "HealthBridge"}
