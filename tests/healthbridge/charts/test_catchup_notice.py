from __future__ import annotations

import datetime as dt

from healthbridge.charts.catchup_notice import CatchUpNotice, notice_lines, render_catchup_notice
from healthbridge.charts.labels import Lang

NOTICE = CatchUpNotice(
    "王小明", dt.date(2024, 3, 1), "小太阳托育园", ["麻腮风疫苗 (1)", "乙脑减毒活疫苗 (1)"],
    dt.date(2026, 12, 31), dt.date(2026, 11, 20),
)  # fmt: skip


def test_the_notice_names_the_doses_and_the_recheck_date() -> None:
    text = " ".join(line.text for line in notice_lines(NOTICE, Lang.ZH))
    assert "补种通知单" in text
    assert "王小明" in text
    assert "麻腮风疫苗 (1)" in text
    assert "乙脑减毒活疫苗 (1)" in text
    assert "2026-12-31" in text
    english = " ".join(line.text for line in notice_lines(NOTICE, Lang.EN))
    assert "catch-up" in english


def test_the_notice_is_a_pdf() -> None:
    pdf = render_catchup_notice(NOTICE, Lang.ZH)
    assert pdf.startswith(b"%PDF")
