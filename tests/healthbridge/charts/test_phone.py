"""The parent's phone chart: an age window that fits the child, a phone-sized figure."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from matplotlib.image import imread

from growth_standards import Indicator, Sex
from healthbridge.charts import fonts, phone
from healthbridge.charts.growth import DAYS_PER_MONTH, Point, chart_data, chart_title, draw
from healthbridge.charts.labels import Lang

BIRTH = dt.date(2024, 9, 1)


def _points(last_day: int) -> list[Point]:
    days = [d for d in (0, 30, 61, 122, 183, 365, 548, 730) if d <= last_day]
    return [
        Point(float(d), 3.3 + d / 100, BIRTH + dt.timedelta(days=d), f"Observation/o{d}")
        for d in days
    ]


@pytest.mark.parametrize(
    ("age_months", "end", "step"),
    [
        (0, 6, 1),  # a newborn: 0-6 months, monthly ticks
        (3, 9, 3),  # a 3-month-old sees 0-9 months
        (7, 18, 6),
        (24, 30, 6),  # a 2-year-old: 0-30 months, never 0-5 years
        (26, 36, 6),
        (40, 48, 6),
        (56, 60, 12),  # the window stops at the 0-5-year standard
    ],
)
def test_age_window_fits_the_child(age_months: int, end: float, step: int) -> None:
    assert phone.age_window(age_months * DAYS_PER_MONTH) == (end, step)


def test_no_phone_window_from_five_years() -> None:
    assert phone.age_window(61 * DAYS_PER_MONTH) is None


@pytest.mark.parametrize(("age_months", "end"), [(3, 9.0), (24, 30.0)])
def test_drawn_axis_is_the_window(age_months: int, end: float) -> None:
    age = age_months * DAYS_PER_MONTH
    data = phone.phone_data(Indicator.WFA, Sex.FEMALE, _points(int(age)), age)
    fig = phone.draw_phone(data, age, Lang.EN)
    low, high = fig.axes[0].get_xlim()
    assert (low, round(high, 1)) == (0.0, end)
    # the reference curves stop at the window's end and are labelled there, at the right edge
    median = next(ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "ref:P50")
    assert max(median.get_xdata()) == pytest.approx(end, abs=0.05)
    labels = {t.get_text(): t for t in fig.axes[0].texts}
    assert set(labels) == {"P3", "P15", "P50", "P85", "P97"}
    assert all(t.xy[0] == pytest.approx(end, abs=0.05) for t in labels.values())


def test_points_beyond_today_widen_the_window() -> None:
    """A measurement dated after ``age`` (a record read on an earlier day) still shows."""
    data = phone.phone_data(Indicator.WFA, Sex.MALE, _points(730), 100.0)
    fig = phone.draw_phone(data, 100.0, Lang.EN)
    assert fig.axes[0].get_xlim()[1] >= 730 / DAYS_PER_MONTH


def test_phone_figure_size_and_few_gridlines() -> None:
    data = phone.phone_data(Indicator.WFA, Sex.FEMALE, _points(730), 760.0)
    fig = phone.draw_phone(data, 760.0, Lang.EN)
    png = imread(io.BytesIO(phone.render_phone(fig, "png")))
    assert png.shape[:2] == (640, 680)  # 3.4 x 3.2 in at 200 dpi
    svg = phone.render_phone(fig, "svg").decode()
    assert 'width="244.8pt" height="230.4pt"' in svg  # 3.4 x 3.2 in
    ax = fig.axes[0]
    assert not any(ln.get_visible() for ln in ax.xaxis.get_gridlines())  # no vertical grid
    assert len(ax.get_yticks()) <= 7
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 10


def test_length_charts_keep_the_who_range() -> None:
    pts = [Point(60.0, 6.0, BIRTH, "Observation/x")]
    data = phone.phone_data(Indicator.WFL, Sex.MALE, pts, 200.0)
    fig = phone.draw_phone(data, 200.0, Lang.EN)
    assert fig.axes[0].get_xlim() == (45.0, 110.0)


def test_doctor_chart_unchanged() -> None:
    """The paediatrician's chart keeps the WHO chart sets (0-2 y for a 1-year-old)."""
    fig = draw(chart_data(Indicator.WFA, Sex.MALE, _points(365)), Lang.EN)
    assert fig.axes[0].get_xlim()[1] == pytest.approx(730 / DAYS_PER_MONTH)


def test_chinese_phone_chart() -> None:
    if not fonts.cjk_font_available():
        pytest.skip("no CJK font on this machine (scripts/setup installs fonts-noto-cjk)")
    data = phone.phone_data(Indicator.WFA, Sex.FEMALE, _points(120), 120.0)
    fig = phone.draw_phone(data, 120.0, Lang.ZH)
    ax = fig.axes[0]
    assert ax.get_title() == "年龄别体重 · 女童"
    assert ax.get_xlabel() == "月龄 (月)"
    assert phone.render_phone(fig, "png").startswith(b"\x89PNG")


def test_sex_is_lower_case_mid_title_in_english() -> None:
    data = chart_data(Indicator.WFA, Sex.FEMALE, _points(365))
    assert chart_title(data, Lang.EN) == "Weight-for-age · girls · Birth to 2 years"
    assert phone.phone_title(data, Lang.EN) == "Weight-for-age · girls"
