"""The cells, rows and tables of the district pages (figures with their intervals and counts).

Shared by the district report (:mod:`healthbridge.web.pages_district`) and its jurisdiction
views (:mod:`healthbridge.web.district_areas`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Cell:
    """One figure: a rate (%) or a mean with its 95 % interval and counts."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    unit: str = "%"
    #: a group of 1–2 children: shown as "<3" with the page's footnote, no figures
    suppressed: bool = False
    #: why there is no figure (``population-not-configured``: the area has no population)
    note: str | None = None

    @property
    def empty(self) -> bool:
        return self.value is None and not self.suppressed


@dataclass(frozen=True, slots=True)
class Row:
    """A table row: its label and one cell per column."""

    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A figure table: column headings and rows."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except TypeError:  # pandas' NA: a suppressed small cell
        return None
    return None if math.isnan(number) else number


def _suppressed(row: Any) -> bool:
    return bool(row.get("suppressed", False))


def _count(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
