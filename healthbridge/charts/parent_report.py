"""The parent report: a short PDF a parent can read on a phone or print.

Page 1 summarises the child: the latest measurements with their percentile in plain words,
what the health team found (the clinical engine's own wording — this module applies no
thresholds), the vaccinations given and due, and the next checkup. The following pages are
the growth charts. Everything is drawn with matplotlib (``PdfPages``), so no extra PDF
library is needed and Chinese text uses the same CJK font as the charts.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from matplotlib.artist import Artist
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from growth_standards import Indicator, Sex
from healthbridge.charts.fonts import cjk_font_available, font_family
from healthbridge.charts.growth import ChartData
from healthbridge.charts.labels import SEX_LABEL, TITLES, Lang

A4: Final = (8.27, 11.69)


@dataclass(frozen=True, slots=True)
class LatestScore:
    """The latest value of one indicator, its percentile and the team's finding (if any)."""

    indicator: Indicator
    value: float
    unit: str
    measured: dt.date
    percentile: float | None  # None when the value is flagged implausible
    finding: str | None = None  # plain-language text from the clinical engine, in ``lang``


@dataclass(frozen=True, slots=True)
class VaccineLine:
    """A dose given or due, in display form (``name`` already localised)."""

    name: str
    dose: int
    date: dt.date | None  # given on, or due from
    status: str  # "given" | "due" | "overdue" | "not-yet-due"


@dataclass(frozen=True, slots=True)
class ParentReport:
    """Everything on the parent report, already resolved from the record."""

    child_name: str
    sex: Sex
    birth_date: dt.date
    as_of: dt.date
    scores: tuple[LatestScore, ...] = ()
    vaccines: tuple[VaccineLine, ...] = ()
    next_checkup: tuple[str, dt.date] | None = None  # (visit label, date)
    charts: tuple[ChartData, ...] = field(default=())
    centre: str | None = None
    #: one message per problem with who will contact the parent (charts/problems.py)
    notes: tuple[str, ...] = ()
    #: the referrals with the hospital's findings and plan, one text each
    referrals: tuple[str, ...] = ()


_TEXT: Final[dict[str, dict[Lang, str]]] = {
    "title": {Lang.ZH: "儿童生长发育报告", Lang.EN: "Child growth report"},
    "born": {Lang.ZH: "出生日期", Lang.EN: "Born"},
    "as_of": {Lang.ZH: "报告日期", Lang.EN: "Report date"},
    "centre": {Lang.ZH: "托育机构", Lang.EN: "Childcare centre"},
    "growth": {Lang.ZH: "最近一次测量", Lang.EN: "Latest measurements"},
    "vaccines": {Lang.ZH: "预防接种", Lang.EN: "Vaccinations"},
    "next": {Lang.ZH: "下次体检", Lang.EN: "Next checkup"},
    "none_due": {Lang.ZH: "目前没有待接种的疫苗。", Lang.EN: "No vaccination is due now."},
    "notes": {Lang.ZH: "需要关注的情况", Lang.EN: "Things to look at"},
    "referrals": {Lang.ZH: "转诊与医院的处理计划", Lang.EN: "Referrals and the hospital's plan"},
    "given": {Lang.ZH: "已接种", Lang.EN: "Given"},
    "implausible": {
        Lang.ZH: "该数值可能测量有误，请下次复测。",
        Lang.EN: "This value may be a measuring error; it will be re-measured.",
    },
    "footer": {
        Lang.ZH: "本报告依据WHO儿童生长标准计算，仅供家长参考；如有疑问请咨询儿童保健医生。",
        Lang.EN: "Computed with the WHO growth standards; for information only. "
        "Please ask your child-health doctor about any question.",
    },
}
_STATUS: Final[dict[str, dict[Lang, str]]] = {
    "given": {Lang.ZH: "已接种", Lang.EN: "given"},
    "due": {Lang.ZH: "应接种", Lang.EN: "due"},
    "overdue": {Lang.ZH: "已逾期，请尽快补种", Lang.EN: "overdue, please catch up soon"},
    "not-yet-due": {Lang.ZH: "未到接种时间", Lang.EN: "not yet due"},
}


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text; ``x`` and ``y`` (its top) in figure fractions, ``size`` in points."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    color: str = "#000000"


#: Baseline below the top of a line, in ems (the CJK fonts' ascender is 0.88 em).
_ASCENT: Final = 0.88


class TextLines(Artist):
    """Lines of text at fixed places, drawn straight to the renderer.

    A :class:`matplotlib.text.Text` measures its string (a full shaping pass) before drawing
    it (a second one) so that it can align and clip it; a report page of left-aligned lines
    at known places needs neither, and the text pass was most of a parent report's time.
    """

    def __init__(self, lines: Sequence[TextLine], family: list[str]) -> None:
        super().__init__()
        self.lines = tuple(lines)
        self.family = family

    def draw(self, renderer: RendererBase) -> None:
        """Each line at its baseline, in its size, weight and colour."""
        if not self.get_visible() or self.figure is None:
            return
        to_display = self.figure.transFigure
        fonts: dict[tuple[float, bool], FontProperties] = {}
        for line in self.lines:
            prop = fonts.get((line.size, line.bold))
            if prop is None:
                prop = FontProperties(
                    family=self.family, size=line.size, weight="bold" if line.bold else "normal"
                )
                fonts[line.size, line.bold] = prop
            x, top = to_display.transform((line.x, line.y))
            gc = renderer.new_gc()
            gc.set_foreground(line.color)
            baseline = top - renderer.points_to_pixels(line.size * _ASCENT)
            if renderer.flipy():  # raster renderers count y from the top, as Text.draw does
                baseline = renderer.get_canvas_width_height()[1] - baseline
            renderer.draw_text(gc, float(x), float(baseline), line.text, prop, 0.0)
            gc.restore()
        self.stale = False


def ordinal(number: str) -> str:
    """English ordinal of a shown number: 1st, 2nd, 3rd, 11th–13th, 21st, 0.1st, 99.9th."""
    if "." not in number and number[-2:] in ("11", "12", "13"):
        return f"{number}th"
    return number + {"1": "st", "2": "nd", "3": "rd"}.get(number[-1], "th")


class _Scored(Protocol):
    @property
    def indicator(self) -> Indicator: ...
    @property
    def percentile(self) -> float | None: ...


#: What "children like yours" are for each reference: same age, or same length/height.
_PEERS: Final[dict[Indicator, dict[Lang, str]]] = {
    Indicator.WFL: {Lang.ZH: "身长相同", Lang.EN: "the same length"},
    Indicator.WFH: {Lang.ZH: "身高相同", Lang.EN: "the same height"},
}


def percentile_sentence(score: _Scored, lang: Lang) -> str:
    """Plain words for a percentile: "out of 100 children of the same age and sex...".

    Weight-for-length/height compares with children of the same length/height (WHO), not of
    the same age. Below 0.5 no child of 100 is "about 0": it says "fewer than 1"; above 99.5,
    "more than 99". Only the percentile itself is explained; whether it is a concern is the
    clinical engine's finding (``score.finding``), not decided here.
    """
    if score.percentile is None:
        return _TEXT["implausible"][lang]
    p = score.percentile
    shown = f"{p:.1f}" if p < 1 or p > 99 else f"{p:.0f}"
    below = max(0, min(100, round(p)))
    peers = _PEERS.get(score.indicator)
    if lang is Lang.ZH:
        group = f"{peers[lang]}、性别相同" if peers else "同年龄、同性别"
        count = "不到 1 个" if p < 0.5 else "超过 99 个" if p > 99.5 else f"约有 {below} 个"
        return f"第 {shown} 百分位：100 个{group}的孩子中，{count}低于这个数值。"
    group = f"{peers[lang]} and sex" if peers else "the same age and sex"
    if p < 0.5:
        count = "fewer than 1 has"
    elif p > 99.5:
        count = "more than 99 have"
    else:
        count = f"about {below} {'has' if below == 1 else 'have'}"
    return f"{ordinal(shown)} percentile: of 100 children of {group}, {count} a lower value."


#: Text stops above this height (figure fraction): the footer sits below it, never under text.
BOTTOM: Final = 0.085


def _summary_pages(report: ParentReport, lang: Lang) -> list[Figure]:
    """The summary as pages of text: a line that would reach the footer starts a new page
    (a long vaccine list or many messages never overlap the footer)."""
    family = font_family(lang)
    pages: list[list[TextLine]] = [[]]
    y = 0.95

    def line(
        text: str,
        *,
        size: float = 10.5,
        bold: bool = False,
        indent: float = 0.0,
        gap: float = 0.024,
        width: int = 46,
    ) -> None:
        nonlocal y
        wrap = width if lang is Lang.ZH else width * 2
        for part in textwrap.wrap(text, wrap) or [""]:
            if y < BOTTOM:
                pages.append([])
                y = 0.95
            pages[-1].append(TextLine(0.08 + indent, y, part, size, bold))
            y -= gap

    def heading(text: str) -> None:
        nonlocal y
        if y < BOTTOM + 0.08:  # keep a heading with its first lines
            y = BOTTOM - 1
        line(text, size=13, bold=True, gap=0.03)

    line(_TEXT["title"][lang], size=18, bold=True, gap=0.04)
    line(
        f"{report.child_name}  ·  {SEX_LABEL[report.sex][lang]}  ·  "
        f"{_TEXT['born'][lang]} {report.birth_date.isoformat()}"
    )
    line(
        f"{_TEXT['as_of'][lang]} {report.as_of.isoformat()}"
        + (f"  ·  {_TEXT['centre'][lang]} {report.centre}" if report.centre else ""),
        gap=0.04,
    )
    heading(_TEXT["growth"][lang])
    for score in report.scores:
        name = TITLES[score.indicator][lang] if score.indicator in TITLES else score.indicator
        line(
            f"{name}: {score.value:g} {score.unit} ({score.measured.isoformat()})",
            bold=True,
            indent=0.02,
        )
        line(percentile_sentence(score, lang), indent=0.04)
        if score.finding:
            line(score.finding, indent=0.04)
        y -= 0.008
    for title, texts in (("notes", report.notes), ("referrals", report.referrals)):
        if texts:
            y -= 0.01
            heading(_TEXT[title][lang])
            for text in texts:
                line(text, indent=0.02)
                y -= 0.006
    if report.next_checkup:
        y -= 0.01
        label, day = report.next_checkup
        line(f"{_TEXT['next'][lang]}: {label} · {day.isoformat()}", size=12, bold=True)
    y -= 0.015
    heading(_TEXT["vaccines"][lang])
    due = [v for v in report.vaccines if v.status != "given"]
    given = [v for v in report.vaccines if v.status == "given"]
    if not due:
        line(_TEXT["none_due"][lang], indent=0.02)
    for v in due:
        when = v.date.isoformat() if v.date else ""
        line(
            f"{v.name} ({v.dose}) · {_STATUS[v.status][lang]} {when}",
            indent=0.02,
            size=9.5,
            gap=0.02,
        )
    if given:  # doses given: compact, several to a line
        sep = "；" if lang is Lang.ZH else "; "
        text = sep.join(
            f"{v.name}({v.dose}) {v.date.isoformat() if v.date else ''}".strip() for v in given
        )
        line(f"{_TEXT['given'][lang]}: {text}", indent=0.02, size=9.5, gap=0.02, width=44)
    figures = []
    for number, lines in enumerate(pages, start=1):
        fig = Figure(figsize=A4, dpi=100)
        footer = _TEXT["footer"][lang] + (f"  ({number}/{len(pages)})" if len(pages) > 1 else "")
        lines.append(TextLine(0.08, 0.045, footer, 7.5, color="#666666"))
        fig.add_artist(TextLines(lines, family))
        figures.append(fig)
    return figures


def _summary_page(report: ParentReport, lang: Lang) -> Figure:
    """The first summary page (tests read its text)."""
    return _summary_pages(report, lang)[0]


def page_text(fig: Figure) -> list[str]:
    """The lines of text on a page drawn by :func:`_summary_page`, top to bottom."""
    return [
        line.text
        for artist in fig.artists
        if isinstance(artist, TextLines)
        for line in artist.lines
    ]


def render_parent_report(report: ParentReport, lang: Lang = Lang.ZH) -> bytes:
    """The parent report as PDF bytes (summary page, then one page per chart).

    Chart pages are composed from a cached reference layer and the child's layer
    (:mod:`healthbridge.charts.compose`): the same picture as :func:`draw`, at a fraction of
    the cost when many reports are made in one process.
    """
    from healthbridge.charts.compose import chart_pages

    if lang is Lang.ZH and not cjk_font_available():
        lang = Lang.EN
    pages = []
    for fig in _summary_pages(report, lang):
        summary = io.BytesIO()
        fig.savefig(
            summary, format="pdf", metadata={"CreationDate": None, "Producer": "HealthBridge"}
        )
        pages.append(summary.getvalue())
    return chart_pages(pages, report.charts, lang, title=_TEXT["title"][lang])


def render_batch(reports: Sequence[ParentReport], lang: Lang = Lang.ZH) -> list[bytes]:
    """Render many parent reports (e.g. a centre's 150 children) one after another."""
    return [render_parent_report(r, lang) for r in reports]
