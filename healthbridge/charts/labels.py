"""Bilingual (zh-CN first, English) labels for growth charts.

Terms follow the Chinese names used in WS/T 423-2022 《7岁以下儿童生长标准》 and the WHO
chart titles ("Weight-for-age BOYS, Birth to 2 years").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from growth_standards import Indicator, Sex


class Lang(StrEnum):
    """Display languages; Chinese is the default."""

    ZH = "zh"
    EN = "en"


TITLES: Final[dict[Indicator, dict[Lang, str]]] = {
    Indicator.WFA: {Lang.ZH: "年龄别体重", Lang.EN: "Weight-for-age"},
    Indicator.LHFA: {Lang.ZH: "年龄别身长/身高", Lang.EN: "Length/height-for-age"},
    Indicator.WFL: {Lang.ZH: "身长别体重", Lang.EN: "Weight-for-length"},
    Indicator.WFH: {Lang.ZH: "身高别体重", Lang.EN: "Weight-for-height"},
    Indicator.BFA: {Lang.ZH: "年龄别BMI", Lang.EN: "BMI-for-age"},
    Indicator.HCFA: {Lang.ZH: "年龄别头围", Lang.EN: "Head circumference-for-age"},
}

SEX_LABEL: Final[dict[Sex, dict[Lang, str]]] = {
    # lower case: the label is always mid-line ("Weight-for-age · girls · …")
    Sex.MALE: {Lang.ZH: "男童", Lang.EN: "boys"},
    Sex.FEMALE: {Lang.ZH: "女童", Lang.EN: "girls"},
}

Y_LABEL: Final[dict[Indicator, dict[Lang, str]]] = {
    Indicator.WFA: {Lang.ZH: "体重 (kg)", Lang.EN: "Weight (kg)"},
    Indicator.LHFA: {Lang.ZH: "身长/身高 (cm)", Lang.EN: "Length/height (cm)"},
    Indicator.WFL: {Lang.ZH: "体重 (kg)", Lang.EN: "Weight (kg)"},
    Indicator.WFH: {Lang.ZH: "体重 (kg)", Lang.EN: "Weight (kg)"},
    Indicator.BFA: {Lang.ZH: "BMI (kg/m²)", Lang.EN: "BMI (kg/m²)"},
    Indicator.HCFA: {Lang.ZH: "头围 (cm)", Lang.EN: "Head circumference (cm)"},
}

X_LABEL: Final[dict[str, dict[Lang, str]]] = {
    "months": {Lang.ZH: "月龄 (月)", Lang.EN: "Age (completed months)"},
    "years": {Lang.ZH: "年龄 (岁)", Lang.EN: "Age (years)"},
    "length": {Lang.ZH: "身长 (cm)", Lang.EN: "Length (cm)"},
    "height": {Lang.ZH: "身高 (cm)", Lang.EN: "Height (cm)"},
}

RANGE_LABEL: Final[dict[str, dict[Lang, str]]] = {
    "0-2y": {Lang.ZH: "出生至2岁", Lang.EN: "Birth to 2 years"},
    "0-3y": {Lang.ZH: "出生至3岁", Lang.EN: "Birth to 3 years"},
    "0-5y": {Lang.ZH: "出生至5岁", Lang.EN: "Birth to 5 years"},
    "5-19y": {Lang.ZH: "5至19岁", Lang.EN: "5 to 19 years"},
    "length": {Lang.ZH: "45–110 cm", Lang.EN: "45–110 cm"},
    "height": {Lang.ZH: "65–120 cm", Lang.EN: "65–120 cm"},
}

LEGEND: Final[dict[str, dict[Lang, str]]] = {
    "child": {Lang.ZH: "测量值", Lang.EN: "Measurements"},
    "corrected": {Lang.ZH: "矫正年龄", Lang.EN: "Corrected age"},
    "implausible": {Lang.ZH: "疑似测量错误", Lang.EN: "Implausible (re-measure)"},
}

SOURCE_NOTE: Final[dict[Lang, str]] = {
    Lang.ZH: "参照标准：WHO 2006 儿童生长标准 / WHO 2007 生长参考值",
    Lang.EN: "Reference: WHO Child Growth Standards 2006 / WHO Growth Reference 2007",
}


def line_label(kind: str, value: float, lang: Lang) -> str:
    """The label of a reference line: ``P3``/``P50``... or ``-2``/``0``/``+2`` SD lines."""
    if kind == "centile":
        return f"P{value:g}"
    if value == 0:
        return "中位数" if lang is Lang.ZH else "Median"
    return f"{value:+g} SD"
