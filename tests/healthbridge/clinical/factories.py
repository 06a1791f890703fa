"""Builders for clinical test records."""

from __future__ import annotations

from datetime import date

from healthbridge.clinical.nutrition import GrowthPoint


def point(
    oid: str, on: date, birth: date = date(2025, 1, 1), **values: float | bool | None
) -> GrowthPoint:
    """A growth point with the given z-scores/flags/weight; age from ``birth``."""
    return GrowthPoint(observation_id=oid, on=on, age_days=(on - birth).days, **values)  # type: ignore[arg-type]
