"""The parent report: plain-language percentiles, sections, one page per chart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re

import pypdf
import pytest

from growth_standards import Indicator, Sex
from healthbridge.charts import compose, fonts
from healthbridge.charts.growth import Point, chart_data
from healthbridge.charts.labels import Lang
from healthbridge.charts.parent_report import (
    LatestScore,
    ParentReport,
    VaccineLine,
    _summary_page,
    page_text,
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


def test_percentile_sentences_read_correctly() -> None:
    def say(indicator: Indicator, p: float, lang: Lang) -> str:
        return percentile_sentence(LatestScore(indicator, 7.0, "kg", BIRTH, p), lang)

    assert say(Indicator.WFA, 0.1, Lang.EN).startswith("0.1st percentile")
    assert "fewer than 1 has a lower value" in say(Indicator.WFA, 0.1, Lang.EN)
    assert say(Indicator.WFA, 1.2, Lang.EN).startswith("1st percentile")
    assert "about 1 has" in say(Indicator.WFA, 1.2, Lang.EN)
    assert say(Indicator.WFA, 2.0, Lang.EN).startswith("2nd")
    assert say(Indicator.WFA, 23.0, Lang.EN).startswith("23rd")
    assert say(Indicator.WFA, 12.0, Lang.EN).startswith("12th")
    assert say(Indicator.WFA, 99.9, Lang.EN).startswith("99.9th")
    assert "more than 99 have" in say(Indicator.WFA, 99.9, Lang.EN)
    zh = say(Indicator.WFA, 0.1, Lang.ZH)
    assert "不到 1 个" in zh
    assert "约有 0 个" not in zh
    assert "超过 99 个" in say(Indicator.WFA, 99.8, Lang.ZH)
    for indicator, word in ((Indicator.WFL, "length"), (Indicator.WFH, "height")):
        en = say(indicator, 30.0, Lang.EN)
        assert f"children of the same {word} and sex" in en
        assert "same age" not in en
        assert "同年龄" not in say(indicator, 30.0, Lang.ZH)
    assert "身长相同" in say(Indicator.WFL, 30.0, Lang.ZH)


def test_long_summary_flows_onto_pages_and_never_reaches_the_footer() -> None:
    from dataclasses import replace

    from healthbridge.charts.parent_report import BOTTOM, TextLines, _summary_pages

    many = tuple(
        VaccineLine(f"疫苗{i}", 1, BIRTH, "given" if i % 3 else "overdue") for i in range(60)
    )
    notes = tuple(f"问题 {i}：" + "需要关注的说明文字。" * 8 for i in range(6))
    report = replace(_report(), vaccines=many, notes=notes, referrals=("营养评估；医院已答复",))
    pages = _summary_pages(report, Lang.ZH)
    assert len(pages) > 1
    for fig in pages:
        lines = [ln for a in fig.artists if isinstance(a, TextLines) for ln in a.lines]
        footer = [ln for ln in lines if ln.y < BOTTOM]
        assert len(footer) == 1  # only the footer sits below the text area
        assert all(ln.y >= BOTTOM for ln in lines if ln is not footer[0])
    text = "\n".join(page_text(pages[0]))
    assert "需要关注的情况" in text
    assert "转诊与医院的处理计划" in text


def test_implausible_value_is_explained_not_ranked() -> None:
    score = LatestScore(Indicator.WFA, 30.0, "kg", BIRTH, None)
    assert "re-measured" in percentile_sentence(score, Lang.EN)


def test_summary_page_lists_overdue_doses_before_given_ones() -> None:
    texts = page_text(_summary_page(_report(), Lang.EN))
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


def _page_texts(pdf: bytes) -> list[str]:
    """The text of each page as a PDF reader extracts it (fonts' ToUnicode maps)."""
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_pdf_text_is_chinese_on_every_page() -> None:
    if not fonts.cjk_font_available():
        pytest.skip("no CJK font on this machine (scripts/setup installs fonts-noto-cjk)")
    summary, weight, length = _page_texts(render_parent_report(_report(), Lang.ZH))
    for text in ("儿童生长发育报告", "王子涵", "小太阳托育园", "第 42 百分位", "百白破疫苗"):
        assert text in summary
    assert "18月龄体检" in summary
    # chart pages: title, source note and legend (the reference layer), over it the points
    for text in ("年龄别体重", "参照标准", "测量值"):
        assert text in weight
    for text in ("年龄别身长/身高", "测量值"):
        assert text in length


def test_pdf_falls_back_to_english_without_a_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    for module in ("parent_report", "growth"):
        monkeypatch.setattr(f"healthbridge.charts.{module}.cjk_font_available", lambda: False)
    compose.clear_cache()
    # record data in Latin letters: without a CJK font only the labels can change language
    report = dataclasses.replace(
        _report(),
        child_name="Wang Zihan",
        centre="Little Sun",
        vaccines=(VaccineLine("HepB", 1, BIRTH, "given"),),
        next_checkup=("18-month checkup", dt.date(2026, 9, 1)),
    )
    summary, weight, _length = _page_texts(render_parent_report(report, Lang.ZH))
    compose.clear_cache()
    assert "Child growth report" in summary
    assert "Weight-for-age" in weight
    assert "Measurements" in weight
    assert "年龄别体重" not in weight


def test_chart_pages_reuse_one_reference_layer_per_chart_set() -> None:
    compose.clear_cache()
    first = render_parent_report(_report(), Lang.ZH)
    assert len(compose._cache) == 2  # weight-for-age and length-for-age, boys 0-2 years
    again = render_parent_report(_report(), Lang.ZH)
    assert len(compose._cache) == 2
    assert again == first  # byte-stable: no dates, deterministic file identifier
    reader = pypdf.PdfReader(io.BytesIO(first))
    # each chart page draws the child's layer as a Form XObject over the reference page
    for page in reader.pages[1:]:
        xobjects = page["/Resources"]["/XObject"]
        assert any(xobjects[name]["/Subtype"] == "/Form" for name in xobjects)
