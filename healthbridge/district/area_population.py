"""The resident population of an area, and the figures that divide by it.

Where the population comes from (the one reader, :func:`read`): the ``area-population``
extension (``valuePositiveInt``, fhir_profiles ``StructureDefinition/area-population``) on a
province, city or county/district Organization (:mod:`healthbridge.district.areas`) — the
常住人口 its statistics bureau reports. The deployment setting ``DISTRICT_POPULATION`` is
the population of the whole database (an official without an area, the admin), as before.

How it rolls up (:func:`population_of`): an area's **own** extension when it has one — the
statistics bureau's figure is authoritative, and a province's record may not hold every one
of its counties; otherwise **the sum of its sub-areas'** (each one's own or, in turn, its
sub-areas' sum), but only when every sub-area has one — a partial sum would understate the
population and overstate places per 1,000 — else the area's population is not configured
and its figures say so rather than show a wrong number. The whole database without
``DISTRICT_POPULATION`` sums its top-level areas the same way.

Figures using it (:data:`POPULATION_FIGURES`): places per 1,000 population
(每千人口拥有3岁以下婴幼儿托位数, 十四五 plan, DOMAIN.md §6.1): places of the area's filed
centres ÷ resident population / 1,000; no interval (a count over a census figure, not a
sample). The coverage report computes it for the area shown
(:func:`healthbridge.reports.coverage.coverage_table`'s ``population``);
:func:`comparison_rows` adds it for the area and each sub-area of the comparison table.

Not carried: the under-3 population. No figure of the reports divides by it (the national
enrolment share of under-3s, ~6 %, DOMAIN.md §6.2, has no published area formula), so it is
left out rather than recorded unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from healthbridge import terminology as t

if TYPE_CHECKING:
    from healthbridge.district.areas import AreaTree
    from healthbridge.district.frames import DistrictFrames

POPULATION_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/area-population"
PLACES_FIGURE: Final = "places-per-1000"
POPULATION_FIGURES: Final = (PLACES_FIGURE,)
#: ``note`` of a row whose area has no population (its rate is not computed).
NOT_CONFIGURED: Final = "population-not-configured"
LABELS: Final = {
    PLACES_FIGURE: (
        "每千人口拥有3岁以下婴幼儿托位数",
        "Childcare places for under-3s per 1,000 population",
    )
}


def read(org: Mapping[str, Any]) -> int | None:
    """The resident population an Organization's ``area-population`` extension carries
    (``None`` without one, or with a value that is not a positive integer)."""
    for ext in org.get("extension") or ():
        if isinstance(ext, Mapping) and ext.get("url") == POPULATION_EXTENSION:
            value = ext.get("valuePositiveInt")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


def population_of(tree: AreaTree, area: str | None, configured: int | None = None) -> int | None:
    """The resident population of ``area`` (``None``: the whole database, whose population
    is ``configured`` — the ``DISTRICT_POPULATION`` setting — when set); ``None`` when it is
    not configured (module docstring: own figure, else the sum of every sub-area's)."""
    if area is None:
        if configured is not None:
            return configured
        tops = [n.id for n in tree.nodes.values() if tree.is_area(n.id) and n.parent is None]
        return _sum(tree, tops, set())
    return _rolled(tree, area, set())


def _children(tree: AreaTree, area: str) -> list[str]:
    return [n.id for n in tree.nodes.values() if n.parent == area and tree.is_area(n.id)]


def _rolled(tree: AreaTree, area: str, seen: set[str]) -> int | None:
    node = tree.nodes.get(area)
    if node is None or not tree.is_area(area) or area in seen:
        return None
    if node.population is not None:
        return node.population
    return _sum(tree, _children(tree, area), seen | {area})


def _sum(tree: AreaTree, areas: list[str], seen: set[str]) -> int | None:
    if not areas:
        return None
    total = 0
    for sub in areas:
        value = _rolled(tree, sub, seen)
        if value is None:
            return None
        total += value
    return total


def _places(centres: pd.DataFrame) -> int:
    """Places of filed centres (every centre of the gathered district is filed:
    :func:`healthbridge.district.reports.coverage_inputs`)."""
    if centres.empty or "places" not in centres.columns:
        return 0
    return int(pd.to_numeric(centres["places"], errors="coerce").fillna(0).sum())


def _row(area: str, places: int, population: int | None) -> dict[str, Any]:
    zh, en = LABELS[PLACES_FIGURE]
    return {
        "area": area,
        "figure": PLACES_FIGURE,
        "label_zh": zh,
        "label_en": en,
        "numerator": places,
        "denominator": population,
        "rate": None if population is None else places / (population / 1000),
        "ci_lower": None,
        "ci_upper": None,
        "suppressed": False,
        "note": NOT_CONFIGURED if population is None else None,
    }


def comparison_rows(
    frames: DistrictFrames,
    tree: AreaTree,
    area: str | None,
    *,
    configured: int | None = None,
    whole: str = "all",
) -> pd.DataFrame:
    """Places per 1,000 of ``area`` (row ``whole``; ``frames`` already narrowed to it) and of
    each of its sub-areas that is an area (centres have no population: a district's
    comparison rows are centres, which get no such row). ``denominator`` and ``rate`` are
    empty and ``note`` is :data:`NOT_CONFIGURED` for an area without a population."""
    rows = [_row(whole, _places(frames.centres), population_of(tree, area, configured))]
    subs = [s for s in tree.sub_areas(area) if tree.is_area(s.id)]
    if subs:
        centres = frames.centres
        owner = centres["centre"].map(lambda c: tree.sub_area(area, str(c)))
        for sub in subs:
            rows.append(
                _row(sub.id, _places(centres.loc[owner == sub.id]), population_of(tree, sub.id))
            )
    return pd.DataFrame(rows).astype(
        {"rate": "float64", "ci_lower": "float64", "ci_upper": "float64"}
    )
