"""The jurisdiction views of the district page: the official's area, its sub-areas side by
side and the quarterly trend (tables of :func:`healthbridge.district.figures.area_tables`).

Figures only, from the tables the ``/reports/areas`` and ``/reports/trend`` endpoints serve;
nothing is computed here but the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from healthbridge.district.area_population import POPULATION_FIGURES
from healthbridge.web.district_tables import Cell, Row, Table, _count, _number, _suppressed

if TYPE_CHECKING:
    import pandas as pd

    from healthbridge.district.areas import AreaTree
    from healthbridge.web.i18n import Translator


@dataclass(frozen=True, slots=True)
class AreaView:
    """What the page shows of the jurisdiction.

    ``crumbs``: (area id, name) from the caller's reach down to the parent of the area shown
    (links back up); ``drill``: per comparison row, the area to open (``None`` for the area's
    own row and for centres)."""

    name: str
    level: str
    crumbs: tuple[tuple[str, str], ...]
    comparison: Table
    drill: tuple[str | None, ...]
    trend: Table
    figures: dict[str, str]

    @property
    def trend_drawn(self) -> bool:
        """Whether the trend chart has a point (every cell suppressed or empty: no chart)."""
        return any(c.value is not None for row in self.trend.rows for c in row.cells)

    def compare_drawn(self, figure: str) -> bool:
        """Whether the comparison chart of ``figure`` has a bar."""
        codes = list(self.figures)
        if figure not in codes:
            return False
        i = codes.index(figure)
        return any(row.cells[i].value is not None for row in self.comparison.rows)


def _cell(row: Any) -> Cell:
    per_1000 = row["figure"] in POPULATION_FIGURES
    note = row.get("note")
    return Cell(
        _number(row["rate"]),
        _number(row["ci_lower"]),
        _number(row["ci_upper"]),
        _count(row["numerator"]),
        _count(row["denominator"]),
        unit="per-1000" if per_1000 else "%",
        suppressed=_suppressed(row),
        note=note if isinstance(note, str) else None,
    )


def _labels(table: pd.DataFrame, t: Translator) -> dict[str, str]:
    label = "label_zh" if t.lang.value == "zh" else "label_en"
    return dict(zip(table["figure"], table[label], strict=True))


def quarter_name(period_start: str, t: Translator) -> str:
    """``2026-07-01`` → 2026年第3季度 / 2026 Q3."""
    year, month = int(period_start[:4]), int(period_start[5:7])
    return t("area.quarter", year=year, q=(month - 1) // 3 + 1)


def area_view(
    tables: dict[str, pd.DataFrame],
    tree: AreaTree,
    reach: str | None,
    area: str | None,
    t: Translator,
) -> AreaView:
    """The view of ``area`` (shown to a caller whose jurisdiction is ``reach``)."""
    compared, trend = tables["areas"], tables["trend"]
    figures = _labels(compared if not compared.empty else trend, t)
    codes = list(figures)
    rows: list[Row] = []
    drill: list[str | None] = []
    first: list[int] = []  # the area's own row
    for key, group in compared.groupby("area", sort=False):
        by_figure = {r["figure"]: r for _i, r in group.iterrows()}
        cells = tuple(_cell(by_figure[c]) if c in by_figure else Cell(None) for c in codes)
        whole = key == "all"
        label = (
            (tree.name(area) if area else t("area.everything")) if whole else tree.name(str(key))
        )
        if whole:
            first.append(len(rows))
        rows.append(Row(label, cells))
        drill.append(None if whole or not tree.is_area(str(key)) else str(key))
    order = first + sorted(
        (i for i in range(len(rows)) if i not in first), key=lambda i: rows[i].label
    )
    # the trend has the compared figures but not places per 1,000 (a population per quarter
    # is not recorded)
    trend_figures = {c: n for c, n in figures.items() if c not in POPULATION_FIGURES}
    periods: list[Row] = []
    for start, group in trend.groupby("period_start", sort=True):
        by_figure = {r["figure"]: r for _i, r in group.iterrows()}
        periods.append(
            Row(
                quarter_name(str(start), t),
                tuple(_cell(by_figure[c]) if c in by_figure else Cell(None) for c in trend_figures),
            )
        )
    chain = tree.chain(area)[1:] if area else []
    top = chain.index(reach) + 1 if reach in chain else len(chain)
    crumbs = tuple((a, tree.name(a)) for a in reversed(chain[:top]))
    if reach is None and area is not None:
        crumbs = (("", t("area.everything")), *crumbs)
    level = tree.nodes[area].level if area and area in tree.nodes else "all"
    return AreaView(
        name=tree.name(area) if area else t("area.everything"),
        level=level,
        crumbs=crumbs,
        comparison=Table(tuple(figures.values()), tuple(rows[i] for i in order)),
        drill=tuple(drill[i] for i in order),
        trend=Table(tuple(trend_figures.values()), tuple(periods)),
        figures=figures,
    )
