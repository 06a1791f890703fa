"""The catch-up notice (补种通知单) of the admission vaccination check, as a one-page PDF.

After the entry check finds doses missing, the centre gives the family a notice naming the
doses to catch up, the vaccination clinic to go to and the date by which the certificate must
come back for the re-check (儿童入托、入学预防接种证查验办法, 2021: catch-up, then re-check).
Drawn like the parent report's summary page (matplotlib, the same CJK font; no PDF library).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from matplotlib.figure import Figure

from healthbridge.charts.fonts import cjk_font_available, font_family
from healthbridge.charts.labels import Lang
from healthbridge.charts.parent_report import A4, TextLine, TextLines

_TEXT: Final = {
    "title": {Lang.ZH: "儿童入托预防接种补种通知单", Lang.EN: "Vaccination catch-up notice"},
    "to": {Lang.ZH: "尊敬的家长：", Lang.EN: "Dear parent,"},
    "found": {
        Lang.ZH: "经查验预防接种证，您的孩子尚需补种以下疫苗：",
        Lang.EN: "The check of the vaccination certificate found these doses still to give:",
    },
    "ask": {
        Lang.ZH: "请您携带孩子和预防接种证，到辖区接种单位补种，"
        "并于 {day} 前将接种证交回本园保健室复验。",
        Lang.EN: "Please take your child and the certificate to your vaccination clinic and "
        "bring the certificate back to the centre's health room by {day} for the re-check.",
    },
    "child": {Lang.ZH: "儿童", Lang.EN: "Child"},
    "born": {Lang.ZH: "出生日期", Lang.EN: "Born"},
    "centre": {Lang.ZH: "托育机构", Lang.EN: "Centre"},
    "issued": {Lang.ZH: "开具日期", Lang.EN: "Issued"},
    "footer": {
        Lang.ZH: "依据《儿童入托、入学预防接种证查验办法》。如有疑问请联系本园保健室。",
        Lang.EN: "Under the admission vaccination-certificate check rules (2021). "
        "Questions: the centre's health room.",
    },
}


@dataclass(frozen=True, slots=True)
class CatchUpNotice:
    child_name: str
    birth_date: dt.date
    centre: str
    doses: Sequence[str]  # "麻腮风疫苗 (1)" …, in the reader's language
    recheck_by: dt.date
    issued: dt.date


def notice_lines(notice: CatchUpNotice, lang: Lang) -> list[TextLine]:
    """The page's lines, top to bottom."""
    out: list[TextLine] = []
    y = 0.93

    def line(text: str, size: float = 11.5, bold: bool = False, gap: float = 0.03) -> None:
        nonlocal y
        width = 38 if lang is Lang.ZH else 80
        while True:
            out.append(TextLine(0.09, y, text[:width], size, bold))
            y -= gap
            text = text[width:]
            if not text:
                return

    line(_TEXT["title"][lang], size=18, bold=True, gap=0.05)
    line(f"{_TEXT['child'][lang]}: {notice.child_name}    "
         f"{_TEXT['born'][lang]}: {notice.birth_date.isoformat()}")  # fmt: skip
    line(f"{_TEXT['centre'][lang]}: {notice.centre}", gap=0.05)
    line(_TEXT["to"][lang])
    line(_TEXT["found"][lang], gap=0.04)
    for dose in notice.doses:
        line(f"·  {dose}", bold=True)
    y -= 0.02
    line(_TEXT["ask"][lang].format(day=notice.recheck_by.isoformat()))
    y -= 0.02
    line(f"{_TEXT['issued'][lang]}: {notice.issued.isoformat()}")
    out.append(TextLine(0.09, 0.05, _TEXT["footer"][lang], 8, color="#666666"))
    return out


def render_catchup_notice(notice: CatchUpNotice, lang: Lang = Lang.ZH) -> bytes:
    """The notice as PDF bytes (Chinese unless no CJK font is installed)."""
    if lang is Lang.ZH and not cjk_font_available():
        lang = Lang.EN
    fig = Figure(figsize=A4, dpi=100)
    fig.add_artist(TextLines(notice_lines(notice, lang), font_family(lang)))
    out = io.BytesIO()
    fig.savefig(out, format="pdf", metadata={"CreationDate": None, "Producer": "HealthBridge"})
    return out.getvalue()
