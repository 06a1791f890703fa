"""Growth charts: the plotted data is the reference curves and the child's measurements."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from matplotlib.image import imread

from growth_standards import Indicator, Sex, centile_curves, z_curves
from healthbridge.charts import fonts
from healthbridge.charts.growth import (
    DAYS_PER_MONTH,
    ChartError,
    Point,
    chart_data,
    choose_range,
    draw,
    draw_child,
    draw_reference,
    reference_key,
    render,
    y_limits,
)
from healthbridge.charts.labels import Lang

BIRTH = dt.date(2025, 1, 10)


def _points() -> list[Point]:
    # deliberately out of time order: the chart must join them in time order
    return [
        Point(x=180.0, value=7.6, when=BIRTH + dt.timedelta(days=180), source="Observation/b"),
        Point(x=30.0, value=4.4, when=BIRTH + dt.timedelta(days=30), source="Observation/a"),
        Point(x=365.0, value=9.3, when=BIRTH + dt.timedelta(days=365), source="Observation/c"),
        Point(
            x=400.0,
            value=19.0,
            when=BIRTH + dt.timedelta(days=400),
            source="Observation/d",
            implausible=True,
        ),
    ]


def _line(fig, gid: str):  # type: ignore[no-untyped-def]
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() == gid]
    return line


def test_reference_lines_equal_the_growth_standards_curves() -> None:
    data = chart_data(Indicator.WFA, Sex.MALE, _points())
    assert data.range_key == "0-2y"
    curves = centile_curves(Indicator.WFA, Sex.MALE, centiles=(3.0, 15.0, 50.0, 85.0, 97.0))
    inside = curves[(curves["age_days"] >= 0) & (curves["age_days"] <= 730)]
    np.testing.assert_array_equal(data.lines["x"].to_numpy(), inside["age_days"].to_numpy())
    value_columns = ["P3", "P15", "P50", "P85", "P97"]
    for label, column in zip(["P3", "P15", "P50", "P85", "P97"], value_columns, strict=True):
        np.testing.assert_array_equal(data.lines[label].to_numpy(), inside[column].to_numpy())
    fig = draw(data, Lang.EN)
    median = _line(fig, "ref:P50")
    np.testing.assert_allclose(median.get_xdata(), inside["age_days"].to_numpy() / DAYS_PER_MONTH)
    np.testing.assert_array_equal(median.get_ydata(), inside[value_columns[2]].to_numpy())


def test_z_lines_on_request() -> None:
    data = chart_data(Indicator.LHFA, Sex.FEMALE, _points()[:1], line_kind="z")
    curves = z_curves(Indicator.LHFA, Sex.FEMALE, zs=(-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0))
    inside = curves[(curves["age_days"] >= 0) & (curves["age_days"] <= 730)]
    assert list(data.lines.columns) == [
        "x",
        "-3 SD",
        "-2 SD",
        "-1 SD",
        "Median",
        "+1 SD",
        "+2 SD",
        "+3 SD",
    ]
    np.testing.assert_array_equal(data.lines["Median"].to_numpy(), inside["SD0"].to_numpy())


def test_points_are_the_measurements_in_time_order_and_implausible_apart() -> None:
    fig = draw(chart_data(Indicator.WFA, Sex.MALE, _points()), Lang.EN)
    child = _line(fig, "child")
    np.testing.assert_allclose(child.get_xdata(), np.array([30.0, 180.0, 365.0]) / DAYS_PER_MONTH)
    np.testing.assert_array_equal(child.get_ydata(), [4.4, 7.6, 9.3])
    bad = _line(fig, "implausible")
    np.testing.assert_array_equal(bad.get_ydata(), [19.0])
    assert bad.get_linestyle() == "None"


def test_corrected_age_points_for_a_preterm_child() -> None:
    points = [Point(x=120.0, value=5.0, when=BIRTH, source="Observation/p", corrected_x=64.0)]
    fig = draw(chart_data(Indicator.WFA, Sex.FEMALE, points), Lang.EN)
    corrected = _line(fig, "corrected")
    np.testing.assert_allclose(corrected.get_xdata(), [64.0 / DAYS_PER_MONTH])


@pytest.mark.parametrize(
    ("ages", "expected"),
    [
        ([0.0, 730.0], "0-2y"),
        ([0.0, 731.0], "0-3y"),  # a 2-year-old: the axis fits the child
        ([0.0, 1096.0], "0-3y"),
        ([0.0, 1097.0], "0-5y"),
        ([400.0, 1856.0], "0-5y"),
        ([1900.0, 4000.0], "5-19y"),
        ([1000.0, 2500.0], "0-5y"),
    ],
)
def test_choose_range(ages: list[float], expected: str) -> None:
    assert choose_range(Indicator.LHFA, ages) == expected


def test_weight_for_length_uses_the_length_axis() -> None:
    pts = [Point(x=70.0, value=8.2, when=BIRTH, source="Observation/x")]
    data = chart_data(Indicator.WFL, Sex.MALE, pts)
    assert data.range_key == "length"
    assert data.lines["x"].min() == pytest.approx(45.0)
    assert data.lines["x"].max() == pytest.approx(110.0)


def test_head_circumference_has_no_5_to_19_chart() -> None:
    with pytest.raises(ChartError):
        chart_data(Indicator.HCFA, Sex.MALE, [], range_key="5-19y")


@pytest.mark.parametrize(
    ("fmt", "magic"), [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml")]
)
def test_render_formats(fmt: str, magic: bytes) -> None:
    fig = draw(chart_data(Indicator.WFA, Sex.MALE, _points()), Lang.ZH)
    assert render(fig, fmt).startswith(magic)  # type: ignore[arg-type]


def test_chinese_labels_when_a_cjk_font_exists() -> None:
    if not fonts.cjk_font_available():
        pytest.skip("no CJK font on this machine (scripts/setup installs fonts-noto-cjk)")
    fig = draw(chart_data(Indicator.WFA, Sex.MALE, _points()), Lang.ZH)
    assert "年龄别体重" in fig.axes[0].get_title()


def test_falls_back_to_english_without_a_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    monkeypatch.setattr("healthbridge.charts.growth.cjk_font_available", lambda: False)
    fig = draw(chart_data(Indicator.WFA, Sex.FEMALE, _points()), Lang.ZH)
    assert fig.axes[0].get_title().startswith("Weight-for-age")


def test_reference_and_child_layers_split_the_chart_and_share_its_axes() -> None:
    data = chart_data(Indicator.WFA, Sex.MALE, _points())
    whole = draw(data, Lang.EN)
    reference = draw_reference(data, Lang.EN)
    child = draw_child(data, Lang.EN)
    gids = {ln.get_gid() for ln in whole.axes[0].get_lines()}
    ref_gids = {ln.get_gid() for ln in reference.axes[0].get_lines()}
    child_gids = {ln.get_gid() for ln in child.axes[0].get_lines()}
    assert ref_gids == {"ref:P3", "ref:P15", "ref:P50", "ref:P85", "ref:P97"}
    assert child_gids == {"child", "implausible"}
    assert ref_gids | child_gids == gids
    for layer in (reference, child):
        assert layer.get_size_inches().tolist() == whole.get_size_inches().tolist()
        assert layer.axes[0].get_position().bounds == whole.axes[0].get_position().bounds
        assert layer.axes[0].get_xlim() == whole.axes[0].get_xlim()
        assert layer.axes[0].get_ylim() == whole.axes[0].get_ylim()
    # the legend names the kinds of points this child has; it is drawn with the reference layer
    legend = reference.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "Measurements",
        "Implausible (re-measure)",
    ]
    assert child.axes[0].get_legend() is None
    # the child's layer is transparent: nothing of it hides the reference layer
    assert not child.patch.get_visible()
    assert not child.axes[0].axison
    np.testing.assert_array_equal(_line(child, "implausible").get_ydata(), [19.0])


def test_y_limits_cover_the_reference_lines_and_every_point() -> None:
    data = chart_data(Indicator.WFA, Sex.MALE, _points())
    low, high = y_limits(data)
    assert low < float(data.lines["P3"].min())
    assert high > 19.0  # the implausible point is on the chart, not clipped
    without_outlier = chart_data(Indicator.WFA, Sex.MALE, _points()[:3])
    assert y_limits(without_outlier)[1] < high
    # children whose points lie inside the reference lines share one reference layer
    assert reference_key(without_outlier, Lang.ZH) == reference_key(
        chart_data(Indicator.WFA, Sex.MALE, _points()[:2]), Lang.ZH
    )
    assert reference_key(data, Lang.ZH) != reference_key(without_outlier, Lang.ZH)
    # two small newborns a little below the 3rd percentile share a (widened) reference layer
    small = [
        chart_data(Indicator.WFA, Sex.MALE, [Point(0.0, weight, BIRTH, "Observation/n")])
        for weight in (2.0, 1.95)
    ]
    assert y_limits(small[0])[0] < 1.95
    assert y_limits(small[0]) != y_limits(without_outlier)
    assert reference_key(small[0], Lang.ZH) == reference_key(small[1], Lang.ZH)


@pytest.mark.parametrize("lang", [Lang.EN, Lang.ZH])
def test_layered_png_is_the_whole_chart(lang: Lang) -> None:
    """The PNG made from the cached reference pixels + the child's layer is the same picture."""
    from healthbridge.charts.compose import clear_cache, render_chart

    clear_cache()
    data = chart_data(Indicator.WFA, Sex.MALE, _points())
    whole = imread(io.BytesIO(render(draw(data, lang), "png")))
    for _ in range(2):  # drawn, then from the cache
        layered = imread(io.BytesIO(render_chart(data, lang, "png")))
        assert layered.shape == whole.shape == (600, 800, 4)
        difference = np.abs(layered - whole)
        assert float(difference.mean()) < 1e-3
        assert float((difference.max(axis=2) > 0.1).mean()) < 1e-3  # a few edge pixels at most
    # and the child's points are there: the marker colour appears only with them
    blue = np.array([0x15, 0x65, 0xC0]) / 255

    def blue_pixels(png: bytes) -> int:
        rgb = imread(io.BytesIO(png))[..., :3]
        return int((np.abs(rgb - blue).max(axis=2) < 0.02).sum())

    empty = chart_data(Indicator.WFA, Sex.MALE, [])
    assert blue_pixels(render_chart(data, lang, "png")) > 50
    assert blue_pixels(render_chart(empty, lang, "png")) == 0
