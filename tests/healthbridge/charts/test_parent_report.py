"""The parent report: plain-language percentiles, sections, one page per chart."""

from __future__ import annotations

import datetime as dt
import re

from growth_standards import Indicator, Sex
from healthbridge.charts.growth import Point, chart_data
from healthbridge.charts.labels import Lang
from healthbridge.charts.parent_report import (
    LatestScore,
    ParentReport,
    VaccineLine,
    _summary_page,
    percentile_sentence,
    render_parent_report,
)

BIRTH = dt.date(2025, 3, 1)


def _report() -> ParentReport:
    pts = [Point(x=200.0, value=7.9, when=BIRTH + dt.timedelta(days=200), source="Observation/1")]
    return ParentReport(
        child_name="王子涵",
        sex=Sex.MALE,
        birth_date=BIRTH,
        as_of=dt.date(2026, 11, 22),
        scores=(
            LatestScore(Indicator.WFA, 7.9, "kg", BIRTH + dt.timedelta(days=200), 42.3),
            LatestScore(Indicator.LHFA, 58.0, "cm", BIRTH + dt.timedelta(days=200), None),
        ),
        vaccines=(
            VaccineLine("乙肝疫苗", 1, BIRTH, "given"),
            VaccineLine("百白破疫苗", 3, dt.date(2025, 9, 1), "overdue"),
        ),
        next_checkup=("18月龄体检", dt.date(2026, 9, 1)),
        charts=(
            chart_data(Indicator.WFA, Sex.MALE, pts),
            chart_data(Indicator.LHFA, Sex.MALE, pts),
        ),
        centre="小太阳托育园",
    )


def test_percentile_sentence() -> None:
    score = LatestScore(Indicator.WFA, 7.9, "kg", BIRTH, 42.3)
    assert "42" in percentile_sentence(score, Lang.EN)
    assert "about 42 have a lower value" in percentile_sentence(score, Lang.EN)
    assert "第 42 百分位" in percentile_sentence(score, Lang.ZH)
    tiny = LatestScore(Indicator.WFA, 5.0, "kg", BIRTH, 0.42)
    assert percentile_sentence(tiny, Lang.EN).startswith("0.4th")


def test_implausible_value_is_explained_not_ranked() -> None:
    score = LatestScore(Indicator.WFA, 30.0, "kg", BIRTH, None)
    assert "re-measured" in percentile_sentence(score, Lang.EN)


def test_summary_page_lists_overdue_doses_before_given_ones() -> None:
    texts = [t.get_text() for t in _summary_page(_report(), Lang.EN).texts]
    joined = "\n".join(texts)
    assert "Child growth report" in joined
    assert joined.index("百白破疫苗") < joined.index("乙肝疫苗")
    assert "overdue" in joined
    assert "Next checkup: 18月龄体检 · 2026-09-01" in joined


def test_pdf_has_a_summary_page_and_one_page_per_chart() -> None:
    pdf = render_parent_report(_report(), Lang.ZH)
    assert pdf.startswith(b"%PDF")
    pages = re.findall(rb"/Type\s*/Page\b", pdf)
    assert len(pages) == 3
