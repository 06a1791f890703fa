"""Why an imported row was rejected: stable codes with zh-CN and English messages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectReason(StrEnum):
    """Stable codes for row rejections (shown in import reports and API responses)."""

    MISSING_IDENTIFIER = "missing-identifier"
    UNKNOWN_IDENTIFIER = "unknown-identifier"
    MISSING_DATE = "missing-date"
    BAD_DATE = "bad-date"
    FUTURE_DATE = "future-date"
    BEFORE_BIRTH = "before-birth"
    BAD_NUMBER = "bad-number"
    OUT_OF_RANGE = "out-of-range"
    UNKNOWN_MEASURE = "unknown-measure"
    NO_MEASUREMENT = "no-measurement"
    DUPLICATE = "duplicate"


#: Message templates (zh-CN, en); fields are filled with ``str.format``.
MESSAGES: dict[RejectReason, tuple[str, str]] = {
    RejectReason.MISSING_IDENTIFIER: ("缺少儿童编号", "Child identifier is missing"),
    RejectReason.UNKNOWN_IDENTIFIER: (
        "儿童编号“{value}”未找到对应儿童",
        "No child found for identifier '{value}'",
    ),
    RejectReason.MISSING_DATE: ("缺少测量日期", "Measurement date is missing"),
    RejectReason.BAD_DATE: ("测量日期“{value}”无法识别", "Cannot read measurement date '{value}'"),
    RejectReason.FUTURE_DATE: (
        "测量日期 {value} 晚于今天",
        "Measurement date {value} is in the future",
    ),
    RejectReason.BEFORE_BIRTH: (
        "测量日期 {value} 早于出生日期 {birth}",
        "Measurement date {value} is before the birth date {birth}",
    ),
    RejectReason.BAD_NUMBER: (
        "{field_zh}“{value}”不是数字",
        "{field_en} '{value}' is not a number",
    ),
    RejectReason.OUT_OF_RANGE: (
        "{field_zh} {value} 超出合理范围（{low}–{high}）",
        "{field_en} {value} is outside the plausible range ({low}–{high})",
    ),
    RejectReason.UNKNOWN_MEASURE: (
        "测量方式“{value}”无法识别（应为 卧位/l 或 立位/h）",
        "Unknown measuring position '{value}' (expected l/lying or h/standing)",
    ),
    RejectReason.NO_MEASUREMENT: ("该行没有任何测量值", "The row has no measurement"),
    RejectReason.DUPLICATE: (
        "同一儿童同一日期有多行（第 {rows} 行），均未导入",
        "Several rows for the same child and date (rows {rows}); none imported",
    ),
}

#: Field names for messages (zh-CN, en).
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "weight_kg": ("体重（kg）", "Weight (kg)"),
    "lenhei_cm": ("身长/身高（cm）", "Length/height (cm)"),
    "headc_cm": ("头围（cm）", "Head circumference (cm)"),
    "temperature_c": ("体温（℃）", "Temperature (°C)"),
}


@dataclass(frozen=True)
class RowProblem:
    """One reason a row was rejected, with its messages in both languages."""

    reason: RejectReason
    field: str | None
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        """The message in ``lang`` (``"zh"`` default, ``"en"``)."""
        return self.message_en if lang == "en" else self.message_zh


def problem(reason: RejectReason, field: str | None = None, **values: object) -> RowProblem:
    """Build a :class:`RowProblem`, filling both message templates."""
    zh, en = MESSAGES[reason]
    names = FIELD_NAMES.get(field or "", (field or "", field or ""))
    fill = {"field_zh": names[0], "field_en": names[1], **values}
    return RowProblem(reason, field, zh.format(**fill), en.format(**fill))
