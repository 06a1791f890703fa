"""Session import: headers (English, Chinese), CSV and Excel, every rejection reason."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from healthbridge.exchange.errors import SessionFileError
from healthbridge.exchange.messages import RejectReason
from healthbridge.exchange.session_import import (
    ChildMatch,
    SessionImport,
    import_session,
    parse_date,
    read_session,
    rejection_report,
)

TODAY = dt.date(2026, 11, 22)
CHILDREN = {
    "C001": ChildMatch("Patient/1", dt.date(2025, 1, 10)),
    "C002": ChildMatch("Patient/2", dt.date(2023, 6, 1)),
    "C003": ChildMatch("Patient/3", None),
    "1001": ChildMatch("Patient/4", dt.date(2024, 2, 2)),
}
HEADER = "identifier,date,weight_kg,lenhei_cm,measure,headc_cm,temperature_c\n"


def matcher(identifier: str) -> ChildMatch | None:
    return CHILDREN.get(identifier)


def run(text: str, filename: str = "s.csv", encoding: str = "utf-8") -> SessionImport:
    return import_session(text.encode(encoding), filename, matcher, today=TODAY)


def reasons(result: SessionImport) -> dict[int, set[RejectReason]]:
    return {r.row_number: {p.reason for p in r.problems} for r in result.rejected}


def test_valid_rows_become_typed_records() -> None:
    result = run(HEADER + "C001,2026-11-01,9.8,76.5,l,45.2,36.6\nC002,2026/11/2,14,95,h,,\n")
    assert result.rejected == ()
    first, second = result.accepted
    assert (first.row_number, first.patient_reference, first.date) == (
        2,
        "Patient/1",
        TODAY.replace(day=1),
    )
    assert (first.weight_kg, first.lenhei_cm, first.measure) == (9.8, 76.5, "l")
    assert (first.headc_cm, first.temperature_c) == (45.2, 36.6)
    assert (second.headc_cm, second.temperature_c, second.measure) == (None, None, "h")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (",2026-11-01,9.8,,,,", RejectReason.MISSING_IDENTIFIER),
        ("X999,2026-11-01,9.8,,,,", RejectReason.UNKNOWN_IDENTIFIER),
        ("C001,,9.8,,,,", RejectReason.MISSING_DATE),
        ("C001,01/11/2026,9.8,,,,", RejectReason.BAD_DATE),
        ("C001,2026-02-30,9.8,,,,", RejectReason.BAD_DATE),
        ("C001,2026-11-23,9.8,,,,", RejectReason.FUTURE_DATE),
        ("C001,2025-01-09,3.1,,,,", RejectReason.BEFORE_BIRTH),
        ("C001,2026-11-01,nine,,,,", RejectReason.BAD_NUMBER),
        ("C001,2026-11-01,9800,,,,", RejectReason.OUT_OF_RANGE),
        ("C001,2026-11-01,,0.76,l,,", RejectReason.OUT_OF_RANGE),
        ("C001,2026-11-01,,,,80,", RejectReason.OUT_OF_RANGE),
        ("C001,2026-11-01,,,,,39.9e1", RejectReason.OUT_OF_RANGE),
        ("C001,2026-11-01,9.8,76,sitting,,", RejectReason.UNKNOWN_MEASURE),
        ("C001,2026-11-01,,,,,", RejectReason.NO_MEASUREMENT),
    ],
)
def test_each_rejection_reason(line: str, reason: RejectReason) -> None:
    result = run(HEADER + line + "\n")
    assert result.accepted == ()
    assert reason in reasons(result)[2]
    problem = result.rejected[0].problems[0]
    assert problem.message_zh
    assert problem.message_en
    assert problem.message_zh != problem.message_en


def test_duplicates_for_same_child_and_date_are_all_rejected() -> None:
    result = run(
        HEADER + "C001,2026-11-01,9.8,,,,\nC002,2026-11-01,14,,,,\nC001,2026-11-01,9.9,,,,\n"
    )
    assert [r.row_number for r in result.accepted] == [3]
    assert reasons(result) == {2: {RejectReason.DUPLICATE}, 4: {RejectReason.DUPLICATE}}
    assert "2, 4" in result.rejected[0].problems[0].message_en


def test_all_problems_of_a_row_are_reported() -> None:
    result = run(HEADER + "C001,2026-12-01,0,200,x,,\n")
    assert reasons(result)[2] == {
        RejectReason.FUTURE_DATE,
        RejectReason.OUT_OF_RANGE,
        RejectReason.UNKNOWN_MEASURE,
    }


def test_measure_is_imputed_the_way_who_does() -> None:
    result = run(
        HEADER + "C001,2026-11-01,,76,,,\nC002,2026-11-01,,95,,,\nC003,2026-11-01,,86.9,,,\n"
    )
    assert [(r.measure, r.measure_imputed) for r in result.accepted] == [
        ("l", True),  # 660 days old
        ("h", True),  # 1249 days old
        ("l", True),  # no birth date: < 87 cm
    ]


def test_chinese_headers_with_units_in_gbk() -> None:
    text = (
        "儿童编号,测量日期,体重(kg),身长/身高（cm）,测量方式,头围,体温(℃),备注\n"
        "C001,2026年11月1日,9.8,76.5,卧位,45,36.5,好\n"
        "C002,2026.11.2,14.2,95.1,立位,,,\n"
    )
    result = run(text, encoding="gb18030")
    assert result.rejected == ()
    assert [r.measure for r in result.accepted] == ["l", "h"]
    assert result.accepted[0].date == dt.date(2026, 11, 1)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_excel_file_with_date_cells_and_numeric_identifiers() -> None:
    content = _xlsx(
        [
            ["儿童编号", "测量日期", "体重", "身长身高", "测量方式", "头围", "体温"],
            [1001, dt.datetime(2026, 11, 3, 9, 30), 12.5, 88.0, "h", None, 36.8],
            [None, None, None, None, None, None, None],
            ["C001", "2026-11-04", "bad", None, None, None, None],
        ]
    )
    result = import_session(content, "session.xlsx", matcher, today=TODAY)
    assert [(r.row_number, r.identifier, r.date) for r in result.accepted] == [
        (2, "1001", dt.date(2026, 11, 3))
    ]
    assert reasons(result) == {4: {RejectReason.BAD_NUMBER}}


def test_file_level_errors() -> None:
    with pytest.raises(SessionFileError) as missing:
        read_session(b"identifier,weight_kg\nC001,9\n", "s.csv")
    assert "date" in missing.value.message_en
    assert "缺少" in missing.value.message_zh
    with pytest.raises(SessionFileError):
        read_session(b"identifier,date,comment\nC001,2026-11-01,x\n", "s.csv")
    with pytest.raises(SessionFileError):
        read_session(b"anything", "s.pdf")
    with pytest.raises(SessionFileError):
        read_session(b"not a zip", "s.xlsx")
    with pytest.raises(SessionFileError):
        read_session(b"", "s.csv")


def test_same_bytes_same_hash_and_rows() -> None:
    text = HEADER + "C001,2026-11-01,9.8,,,,\n"
    a, b = run(text), run(text)
    assert a == b
    assert a.sha256 != run(text + "C002,2026-11-01,14,,,,\n").sha256


def test_rejection_report_in_both_languages() -> None:
    result = run(HEADER + "X9,2026-11-01,9.8,,,,\n")
    zh, en = rejection_report(result), rejection_report(result, "en")
    assert zh[0]["reason"] == en[0]["reason"] == "unknown-identifier"
    assert "未找到" in zh[0]["message"]
    assert "No child" in en[0]["message"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01", dt.date(2026, 5, 1)),
        ("2026/5/1", dt.date(2026, 5, 1)),
        ("2026.5.1", dt.date(2026, 5, 1)),
        ("2026年5月1日", dt.date(2026, 5, 1)),
        ("20260501", dt.date(2026, 5, 1)),
        ("2026-05-01T08:00:00", dt.date(2026, 5, 1)),
        ("5/1/2026", None),
        ("2026-13-01", None),
    ],
)
def test_parse_date(text: str, expected: dt.date | None) -> None:
    assert parse_date(text) == expected
