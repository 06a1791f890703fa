"""Developmental warning signs (预警征象) screening (``warning-signs`` table; DOMAIN.md §4.3).

A child is assessed against the items of the latest age point reached (earlier points' items
still count). Age is corrected for preterm birth (< ``preterm_below_weeks``) until the
corrected age reaches ``corrected_age_until`` (DOMAIN.md §4.1). Any positive item, or any
regression, is a positive screen → ``warning-sign-positive`` (refer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from healthbridge.clinical._cache import per_table
from healthbridge.clinical.ages import add_age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.clinical.tables_care import AgePoint, ScreeningTable, WarningItem
from healthbridge.clinical.vocab import AlertKind

REGRESSION = "regression"


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    screening_id: str
    on: date
    positive_items: tuple[str, ...] = ()
    regression: bool = False


def assessment_birth_date(
    birth_date: date, on: date, table: ScreeningTable, gestational_weeks: float | None
) -> date:
    """Birth date shifted by prematurity (corrected age) while corrected age is under the limit."""
    if gestational_weeks is None or gestational_weeks >= table.preterm_below_weeks:
        return birth_date
    corrected = birth_date + timedelta(days=round((table.term_weeks - gestational_weeks) * 7))
    return corrected if on < add_age(corrected, table.corrected_age_until) else birth_date


def age_point(
    birth_date: date, on: date, table: ScreeningTable, gestational_weeks: float | None = None
) -> AgePoint | None:
    """The latest age point reached on ``on`` (``None`` before the first one)."""
    born = assessment_birth_date(birth_date, on, table, gestational_weeks)
    reached = [p for p in table.age_points if add_age(born, p.age) <= on]
    return reached[-1] if reached else None


def applicable_items(
    birth_date: date, on: date, table: ScreeningTable, gestational_weeks: float | None = None
) -> tuple[WarningItem, ...]:
    """Items to ask on ``on``: the current age point's and every earlier point's."""
    point = age_point(birth_date, on, table, gestational_weeks)
    if point is None:
        return ()
    out: list[WarningItem] = []
    for p in table.age_points:
        out.extend(p.items)
        if p is point:
            break
    return tuple(out)


def screening_findings(
    child_id: str, records: Sequence[ScreeningRecord], table: ScreeningTable, as_of: date
) -> tuple[Finding, ...]:
    """``warning-sign-positive`` from the latest screening on or before ``as_of``."""
    ordered = sorted((r for r in records if r.on <= as_of), key=lambda r: (r.on, r.screening_id))
    if not ordered:
        return ()
    latest = ordered[-1]
    unknown = set(latest.positive_items) - per_table(table, "item_ids", table.item_ids)
    if unknown:
        raise ClinicalInputError(
            f"screening {latest.screening_id}: unknown warning-sign items {sorted(unknown)}"
        )
    items = tuple(sorted(latest.positive_items)) if table.positive_if_any_item else ()
    if latest.regression and table.positive_if_regression:
        items = (*items, REGRESSION)
    if not items:
        return ()
    return (
        Finding(
            child_id,
            AlertKind.WARNING_SIGN_POSITIVE,
            table.severity,
            "",
            (latest.screening_id,),
            items,
            "positive: " + ",".join(items),
            table.meta.id,
            table.meta.version,
            latest.on,
        ),
    )
