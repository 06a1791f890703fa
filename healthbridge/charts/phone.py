"""The parent's growth chart, drawn for a phone (about 360–390 CSS px wide).

The paediatrician's chart (:mod:`healthbridge.charts.growth`) is a WHO chart set (birth–2
years, birth–5 years …) on an 8 × 6 inch figure; shrunk to a phone its labels are 4–5 px
high and a 2-year-old's points crowd the left third of a 0–5-year axis. This chart is drawn
for the phone instead:

* **age window** fitted to the child (:func:`age_window`): from birth to the child's age plus
  6 months, rounded up to the next tick (a 3-month-old sees 0–9 months, a 2-year-old 0–30
  months), never shorter than 6 months nor past the 0–5-year standard (5 years); from 5
  years the WHO chart set is used as on the doctor's chart;
* **figure** 3.4 × 3.2 inches (an SVG of 245 × 230 pt, about 326 CSS px wide: in the page's
  card on a 360–390 px screen it is shown at about its own size, so 10–12 pt text reads as
  13–16 px; the PNG is 680 × 640 px, sharp on a 2× screen); checked on a 390 × 844 screenshot;
* **fewer gridlines** (a light horizontal grid at the y ticks only, about 5 of them; x ticks
  at the window's step);
* the WHO **percentile curves labelled at the right edge** (P3 … P97, in a right margin so
  the labels are never cut), the same lines and colours as the doctor's chart.

Weight-for-length/height charts have no age axis: they keep the WHO length/height range.
The reference data are the same (:func:`healthbridge.charts.growth.chart_data`); only the
window and the drawing differ.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Final

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, MultipleLocator

from growth_standards import Indicator, Sex
from healthbridge.charts.fonts import font_family
from healthbridge.charts.growth import (
    _LINE_COLOURS,
    _POINT_STYLES,
    AGE_RANGES,
    DAYS_PER_MONTH,
    LENGTH_RANGES,
    ChartData,
    ChartError,
    Format,
    Point,
    _metadata,
    _point_sets,
    _resolved,
    _x_display,
    chart_data,
    choose_range,
    y_limits,
)
from healthbridge.charts.labels import LEGEND, SEX_LABEL, TITLES, X_LABEL, Y_LABEL, Lang, line_label

#: Figure size in inches and the PNG resolution (680 × 640 PNG px).
FIGSIZE: Final = (3.4, 3.2)
PNG_DPI: Final = 200
#: Months added after the child's age, the shortest window and the last phone window (5 y).
AHEAD_MONTHS: Final = 6
MIN_MONTHS: Final = 6
MAX_MONTHS: Final = 60
#: x tick step (months) by window length: the first whose limit the window is within.
_STEPS: Final = ((6, 1), (12, 3), (48, 6), (MAX_MONTHS, 12))
_MARGINS: Final = {"left": 0.17, "right": 0.83, "bottom": 0.16, "top": 0.9}


def tick_step(months: float) -> int:
    """The x tick step (months) of a window ``months`` long."""
    return next((step for limit, step in _STEPS if months <= limit), 12)


def age_window(age_days: float) -> tuple[float, int] | None:
    """The x-axis window (end in months, tick step) for a child ``age_days`` old; None from
    5 years (the WHO chart set is used). The end is the age plus :data:`AHEAD_MONTHS`,
    rounded up to the tick step of the window, at least :data:`MIN_MONTHS`."""
    months = max(age_days, 0.0) / DAYS_PER_MONTH
    if months > MAX_MONTHS:
        return None
    wanted = max(months + AHEAD_MONTHS, MIN_MONTHS)
    step = tick_step(wanted)
    end = min(step * math.ceil(wanted / step - 1e-9), MAX_MONTHS)
    return float(end), tick_step(end)


def windowed(data: ChartData, age_days: float) -> tuple[ChartData, int | None]:
    """``data`` with its reference lines cut to the child's window (and the tick step); the
    data unchanged (step None) for length/height charts and children of 5 years and more."""
    if data.indicator in LENGTH_RANGES or data.range_key == "5-19y":
        return data, None
    oldest = max([age_days, *(p.x for p in data.points)])
    window = age_window(oldest)
    if window is None:
        return data, None
    end_months, step = window
    end_days = min(end_months * DAYS_PER_MONTH, AGE_RANGES["0-5y"][1])
    if data.lines["x"].iloc[-1] < end_days - 1:
        return data, None  # the caller gave a shorter chart set: keep it
    lines = data.lines.loc[data.lines["x"] <= end_days + 0.5].reset_index(drop=True)
    return (
        ChartData(data.indicator, data.sex, "window", data.line_kind, lines, data.points),
        step,
    )


def phone_title(data: ChartData, lang: Lang) -> str:
    """ "Weight-for-age · girls" (short: the window is on the axis)."""
    lang = _resolved(lang)
    return f"{TITLES[data.indicator][lang]} · {SEX_LABEL[data.sex][lang]}"


def draw_phone(data: ChartData, age_days: float, lang: Lang = Lang.ZH) -> Figure:
    """The phone chart of ``data`` for a child ``age_days`` old today (module docstring)."""
    lang = _resolved(lang)
    family = font_family(lang)
    shown, step = windowed(data, age_days)
    fig = Figure(figsize=FIGSIZE, dpi=100)
    fig.subplots_adjust(**_MARGINS)
    ax = fig.add_subplot(1, 1, 1)
    x = _x_display(shown, shown.lines["x"].to_numpy())
    ax.set_xlim(float(x[0]), float(x[-1]))
    ax.set_ylim(*y_limits(shown))
    for column in shown.lines.columns[1:]:
        label = line_label("z", 0.0, lang) if column == "Median" else column
        y = shown.lines[column].to_numpy()
        ax.plot(
            x,
            y,
            color=_LINE_COLOURS.get(column, "#555555"),
            linewidth=1.5 if column in ("P50", "Median") else 1.0,
            gid=f"ref:{column}",
        )
        ax.annotate(
            label,
            (float(x[-1]), float(y[-1])),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=10,
            color=_LINE_COLOURS.get(column, "#555555"),
            family=family,
            annotation_clip=False,
            gid=f"label:{column}",
        )
    ax.set_title(phone_title(shown, lang), fontsize=12, family=family)
    x_key = (
        LENGTH_RANGES[shown.indicator][0]
        if shown.indicator in LENGTH_RANGES
        else ("years" if shown.range_key == "5-19y" else "months")
    )
    ax.set_xlabel(X_LABEL[x_key][lang], fontsize=10, family=family)
    ax.set_ylabel(Y_LABEL[shown.indicator][lang], fontsize=10, family=family)
    ax.tick_params(labelsize=10)
    ax.xaxis.set_major_locator(
        MultipleLocator(step if step is not None else (5.0 if x_key in ("length", "height") else 1))
    )
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.grid(True, axis="y", color="#e4e4e4", linewidth=0.6)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    sets = _point_sets(shown)
    for kind, pts in sets.items():
        style = {**_POINT_STYLES[kind]}
        ax.plot(
            [p for p, _ in pts], [v for _, v in pts], gid=kind, label=LEGEND[kind][lang], **style
        )
    if len(sets) > 1:  # only worth a legend when there is more than one kind of point
        ax.legend(loc="upper left", prop={"family": family, "size": 9}, frameon=False)
    return fig


def phone_data(
    indicator: Indicator, sex: Sex, points: Sequence[Point], age_days: float
) -> ChartData:
    """The chart data for the phone: the 0–5-year standard (cut to the window by
    :func:`draw_phone`) below 5 years, the WHO chart set otherwise."""
    ages = [age_days, *(p.x for p in points)]
    key = None
    if indicator not in LENGTH_RANGES and age_window(max(ages)) is not None:
        key = "0-5y"
    if key is None:
        key = choose_range(indicator, ages)
    return chart_data(indicator, sex, points, range_key=key)


def render_phone(fig: Figure, fmt: Format = "svg") -> bytes:
    """Serialise the phone chart (PNG at :data:`PNG_DPI`: sharp on a 2x screen)."""
    if fmt not in ("png", "svg", "pdf"):
        raise ChartError(f"unsupported chart format {fmt!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata=_metadata(fmt), dpi=PNG_DPI if fmt == "png" else 100)
    return buffer.getvalue()
