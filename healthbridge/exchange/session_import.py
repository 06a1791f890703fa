"""Read and validate a centre's measurement session (CSV or Excel), one row per child.

Columns (English or Chinese headers; ``data/session_format.json`` holds the header map):
``identifier`` (儿童编号), ``date`` (测量日期), ``weight_kg`` (体重), ``lenhei_cm``
(身长身高 / 身长/身高), ``measure`` (测量方式: l/卧位 or h/立位), ``headc_cm`` (头围),
``temperature_c`` (体温). Row numbers are spreadsheet row numbers: the header is row 1.

Every row is checked and either accepted as a typed :class:`SessionRow` or rejected with all
its :class:`~healthbridge.exchange.messages.RowProblem`\\ s; nothing is written here. The lead's
import endpoint writes the accepted rows as one FHIR transaction per file
(:func:`healthbridge.exchange.session_bundle.session_bundle`), or nothing at all.

A blank ``measure`` with a length/height is filled the way WHO's ``anthro_zscores`` does: lying
under 731 days of age, standing from 731 days; without a known age, lying under 87 cm.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from healthbridge.exchange.errors import SessionFileError
from healthbridge.exchange.messages import RejectReason, RowProblem, problem

MEASUREMENT_FIELDS: tuple[str, ...] = ("weight_kg", "lenhei_cm", "headc_cm", "temperature_c")


@dataclass(frozen=True)
class ChildMatch:
    """What the matcher knows about a child: the FHIR reference and, if known, birth date."""

    patient_reference: str
    birth_date: dt.date | None = None


#: Resolves an identifier from the file to a child, or None when unknown.
Matcher = Callable[[str], ChildMatch | None]


@dataclass(frozen=True)
class SessionFormat:
    """Header aliases, measure value aliases and plausibility limits (a data file)."""

    version: str
    aliases: dict[str, str]
    required: tuple[str, ...]
    measure_values: dict[str, str]
    limits: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class SessionTable:
    """The raw cells of a session file with canonical column names."""

    sha256: str
    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, Any]], ...]  # (spreadsheet row number, cells)


@dataclass(frozen=True)
class SessionRow:
    """An accepted row, typed."""

    row_number: int
    identifier: str
    patient_reference: str
    date: dt.date
    weight_kg: float | None
    lenhei_cm: float | None
    measure: str | None  # "l" lying (length) or "h" standing (height)
    measure_imputed: bool
    headc_cm: float | None
    temperature_c: float | None


@dataclass(frozen=True)
class RejectedRow:
    """A rejected row: its raw cells and every problem found."""

    row_number: int
    identifier: str | None
    cells: dict[str, Any]
    problems: tuple[RowProblem, ...]


@dataclass(frozen=True)
class SessionImport:
    """Validation result of one file."""

    sha256: str
    accepted: tuple[SessionRow, ...]
    rejected: tuple[RejectedRow, ...]


def _normalise_header(text: str) -> str:
    s = str(text).strip().lower().replace("（", "(").replace("）", ")")
    s = re.sub(r"\(.*?\)", "", s)
    return re.sub(r"\s+", "", s)


@cache
def load_session_format() -> SessionFormat:
    """Read and cache ``data/session_format.json``."""
    raw = json.loads(
        resources.files("healthbridge.exchange")
        .joinpath("data/session_format.json")
        .read_text(encoding="utf-8")
    )
    aliases = {
        _normalise_header(alias): name
        for name, spec in raw["columns"].items()
        for alias in spec["aliases"]
    }
    required = tuple(name for name, spec in raw["columns"].items() if spec["required"])
    measures = {
        _normalise_header(alias): code
        for code, values in raw["measure_values"].items()
        for alias in values
    }
    limits = {k: (float(v["min"]), float(v["max"])) for k, v in raw["limits"].items()}
    return SessionFormat(str(raw["version"]), aliases, required, measures, limits)


def file_sha256(content: bytes) -> str:
    """Hex SHA-256 of the file bytes: the file's identity for idempotent re-import."""
    return hashlib.sha256(content).hexdigest()


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SessionFileError("无法识别文件编码（请使用 UTF-8 或 GBK）", "Unknown text encoding")


def _csv_rows(content: bytes) -> list[list[Any]]:
    return [list(r) for r in csv.reader(io.StringIO(_decode(content)))]


def _excel_rows(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise SessionFileError("无法读取 Excel 文件", "Cannot read the Excel file") from exc
    try:
        sheet = book.worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def read_session(content: bytes, filename: str) -> SessionTable:
    """Parse CSV (UTF-8 or GBK) or Excel (.xlsx) bytes into canonical columns.

    Raises :class:`SessionFileError` when the file cannot be read or lacks a required column
    or any measurement column. Unknown columns are ignored; fully blank rows are skipped.
    """
    lower = filename.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        rows = _excel_rows(content)
    elif lower.endswith((".csv", ".txt")):
        rows = _csv_rows(content)
    else:
        raise SessionFileError("仅支持 CSV 或 Excel（.xlsx）文件", "Only CSV or .xlsx files")
    if not rows:
        raise SessionFileError("文件为空", "The file is empty")
    fmt = load_session_format()
    header = rows[0]
    positions: dict[str, int] = {}
    for i, cell in enumerate(header):
        if cell is None:
            continue
        name = fmt.aliases.get(_normalise_header(str(cell)))
        if name is not None and name not in positions:
            positions[name] = i
    missing = [c for c in fmt.required if c not in positions]
    if missing:
        raise SessionFileError(
            f"缺少必需的列：{'、'.join(missing)}",
            f"Missing required column(s): {', '.join(missing)}",
        )
    if not any(f in positions for f in MEASUREMENT_FIELDS):
        raise SessionFileError("没有任何测量值列", "No measurement column found")
    table_rows: list[tuple[int, dict[str, Any]]] = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: (row[i] if i < len(row) else None) for name, i in positions.items()}
        if all(_blank(v) for v in cells.values()):
            continue
        table_rows.append((number, cells))
    return SessionTable(file_sha256(content), tuple(positions), tuple(table_rows))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value: Any) -> dt.date | None:
    """A date from an Excel cell or text (2026-05-01, 2026/5/1, 2026.5.1, 2026年5月1日,
    20260501, with an optional time part after a space or ``T``); None when unreadable."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    text = re.split(r"[ T]", value.strip(), maxsplit=1)[0]
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def parse_number(value: Any) -> float | None:
    """A finite float from a cell; None when unreadable (blank cells are handled before)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores numeric identifiers as floats
    return str(value).strip()


def validate_session(
    table: SessionTable,
    matcher: Matcher,
    *,
    today: dt.date,
) -> SessionImport:
    """Check every row; returns accepted typed rows and rejected rows with reasons.

    Rules: identifier present and known to ``matcher``; date present, readable, not after
    ``today``, not before the child's birth date (when the matcher knows it); each given
    measurement a number within the plausible range of ``data/session_format.json``; measure
    one of the known values; at least one measurement; and no two rows for the same child and
    date (all such rows are rejected: the file contradicts itself).
    """
    fmt = load_session_format()
    matches: dict[str, ChildMatch | None] = {}
    staged: list[tuple[int, dict[str, Any], str | None, list[RowProblem], dict[str, Any]]] = []
    by_child_date: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
    for number, cells in table.rows:
        problems: list[RowProblem] = []
        typed: dict[str, Any] = {}
        identifier = None if _blank(cells.get("identifier")) else _text(cells["identifier"])
        match = None
        if identifier is None:
            problems.append(problem(RejectReason.MISSING_IDENTIFIER, "identifier"))
        else:
            if identifier not in matches:
                matches[identifier] = matcher(identifier)
            match = matches[identifier]
            if match is None:
                problems.append(
                    problem(RejectReason.UNKNOWN_IDENTIFIER, "identifier", value=identifier)
                )
        date = _check_date(cells.get("date"), today, match, problems)
        for name in MEASUREMENT_FIELDS:
            typed[name] = _check_number(name, cells.get(name), fmt, problems)
        typed["measure"], typed["measure_imputed"] = _check_measure(
            cells.get("measure"), typed["lenhei_cm"], date, match, fmt, problems
        )
        if all(typed[n] is None for n in MEASUREMENT_FIELDS) and not any(
            p.reason in (RejectReason.BAD_NUMBER, RejectReason.OUT_OF_RANGE) for p in problems
        ):
            problems.append(problem(RejectReason.NO_MEASUREMENT))
        typed["date"] = date
        if match is not None and date is not None:
            by_child_date[(match.patient_reference, date)].append(number)
        typed["match"] = match
        staged.append((number, cells, identifier, problems, typed))

    duplicates = {n: rows for rows in by_child_date.values() if len(rows) > 1 for n in rows}
    accepted: list[SessionRow] = []
    rejected: list[RejectedRow] = []
    for number, cells, identifier, problems, typed in staged:
        if number in duplicates:
            listed = ", ".join(str(r) for r in duplicates[number])
            problems.append(problem(RejectReason.DUPLICATE, rows=listed))
        if problems:
            rejected.append(RejectedRow(number, identifier, dict(cells), tuple(problems)))
            continue
        match = typed["match"]
        if identifier is None or match is None or typed["date"] is None:  # pragma: no cover
            raise AssertionError("a row without problems has identifier, child and date")
        accepted.append(
            SessionRow(
                row_number=number,
                identifier=identifier,
                patient_reference=match.patient_reference,
                date=typed["date"],
                weight_kg=typed["weight_kg"],
                lenhei_cm=typed["lenhei_cm"],
                measure=typed["measure"],
                measure_imputed=typed["measure_imputed"],
                headc_cm=typed["headc_cm"],
                temperature_c=typed["temperature_c"],
            )
        )
    return SessionImport(table.sha256, tuple(accepted), tuple(rejected))


def _check_date(
    value: Any, today: dt.date, match: ChildMatch | None, problems: list[RowProblem]
) -> dt.date | None:
    if _blank(value):
        problems.append(problem(RejectReason.MISSING_DATE, "date"))
        return None
    date = parse_date(value)
    if date is None:
        problems.append(problem(RejectReason.BAD_DATE, "date", value=_text(value)))
        return None
    if date > today:
        problems.append(problem(RejectReason.FUTURE_DATE, "date", value=date.isoformat()))
    if match is not None and match.birth_date is not None and date < match.birth_date:
        problems.append(
            problem(
                RejectReason.BEFORE_BIRTH,
                "date",
                value=date.isoformat(),
                birth=match.birth_date.isoformat(),
            )
        )
    return date


def _check_number(
    name: str, value: Any, fmt: SessionFormat, problems: list[RowProblem]
) -> float | None:
    if _blank(value):
        return None
    number = parse_number(value)
    if number is None:
        problems.append(problem(RejectReason.BAD_NUMBER, name, value=_text(value)))
        return None
    low, high = fmt.limits[name]
    if not low <= number <= high:
        problems.append(
            problem(RejectReason.OUT_OF_RANGE, name, value=f"{number:g}", low=low, high=high)
        )
        return None
    return number


def _check_measure(
    value: Any,
    lenhei: float | None,
    date: dt.date | None,
    match: ChildMatch | None,
    fmt: SessionFormat,
    problems: list[RowProblem],
) -> tuple[str | None, bool]:
    if not _blank(value):
        code = fmt.measure_values.get(_normalise_header(_text(value)))
        if code is None:
            problems.append(problem(RejectReason.UNKNOWN_MEASURE, "measure", value=_text(value)))
        return code, False
    if lenhei is None:
        return None, False
    # WHO anthro's imputation for a missing measuring position.
    if date is not None and match is not None and match.birth_date is not None:
        return ("l" if (date - match.birth_date).days < 731 else "h"), True
    return ("l" if lenhei < 87 else "h"), True


def import_session(
    content: bytes, filename: str, matcher: Matcher, *, today: dt.date
) -> SessionImport:
    """:func:`read_session` then :func:`validate_session`."""
    return validate_session(read_session(content, filename), matcher, today=today)


def rejection_report(result: SessionImport, lang: str = "zh") -> list[dict[str, str]]:
    """One line per problem (row, identifier, code, message) for a CSV or on-screen report."""
    lines: list[dict[str, str]] = []
    for row in result.rejected:
        for p in row.problems:
            lines.append(
                {
                    "row": str(row.row_number),
                    "identifier": row.identifier or "",
                    "field": p.field or "",
                    "reason": str(p.reason),
                    "message": p.message(lang),
                }
            )
    return lines


def iter_measurements(row: SessionRow) -> Iterable[tuple[str, float]]:
    """The (field, value) pairs present in an accepted row, in a fixed order."""
    for name in MEASUREMENT_FIELDS:
        value = getattr(row, name)
        if value is not None:
            yield name, value
