"""Growth over time: faltering, flat weight curve, rapid weight gain, measurement overdue.

Rules (``velocity`` table; DOMAIN.md §2.2 last paragraph, §3.4):

* **faltering** (NICE NG75 §1.2, thresholds for concern) — the latest plausible weight-for-age
  z has fallen from the highest earlier value (at least ``min_interval_days`` before, same age
  basis) across 1, 2 or 3 centile spaces (2/3 SD each) for a birth weight below the 9th,
  between the 9th and 91st, or above the 91st centile; or it is below the 2nd centile.
  Length-for-age: a fall across 2 spaces over at least 2 months (no NG75 threshold; ``?``);
* **flat** — weight did not rise (gain ≤ ``max_gain_kg``) from the latest measurement at least
  ``min_interval_days`` before the latest one (儿童健康检查服务技术规范: 曲线低平);
* **rapid gain** (Ong et al., BMJ 2000) — weight-for-age z rose by MORE than ``min_rise``
  from birth to the latest measurement, taken at most ``max_age_days`` after birth; not for a
  child with wasting after birth (recovery is not rapid gain);
* **measurement overdue** — days since the last plausible measurement exceed the age band's
  ``max_days`` (the centre frequency when the child is enrolled, if shorter) plus ``grace_days``.

*Like with like*: z-scores of a preterm child scored at the corrected age are never compared
with z-scores scored at the chronological age (``GrowthPoint.corrected``), so the switch at 24
months corrected age cannot look like faltering or rapid gain.

Differences are rounded to 9 decimals before comparing, so that a change of exactly 0.67 in
decimal input is "not more than 0.67" despite binary floating point.
Flagged (implausible) values are ignored here; they raise a re-measure alert in nutrition.

This module evaluates one child; :mod:`healthbridge.clinical.velocity_batch` is the same rules
vectorised over a district (``velocity_frame``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from healthbridge.clinical.ages import add_age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.nutrition import GrowthPoint
from healthbridge.clinical.tables import (
    FalteringIndicator,
    FalteringRule,
    MeasurementGapRule,
    RapidGainRule,
    VelocityTable,
)
from healthbridge.clinical.vocab import AlertKind

_DECIMALS = 9


def _delta(a: float, b: float) -> float:
    return float(np.round(b - a, _DECIMALS))


def _plausible(points: Sequence[GrowthPoint], column: str) -> list[GrowthPoint]:
    return [p for p in points if p.z(column) is not None and not p.flagged(column)]


def _sorted(history: Sequence[GrowthPoint]) -> list[GrowthPoint]:
    return sorted(history, key=lambda p: (p.on, p.observation_id))


def change_detail(column: str, before: float, after: float) -> str:
    return f"{column} {before:.2f}->{after:.2f}"


def birth_point(points: Sequence[GrowthPoint], rule: FalteringRule) -> GrowthPoint | None:
    """The birth measurement: the first plausible weight, if within ``birth_max_age_days``."""
    pts = _plausible(points, "zwei")
    if pts and pts[0].age_days <= rule.birth_max_age_days:
        return pts[0]
    return None


def fall_detail(column: str, before: float, after: float, spaces: int) -> str:
    return f"{change_detail(column, before, after)} ({spaces} centile spaces)"


def below_detail(column: str, value: float) -> str:
    return f"{column} {value:.2f} < P2"


def _faltering_item(
    pts: list[GrowthPoint], ind: FalteringIndicator, rule: FalteringRule, birth_z: float | None
) -> tuple[list[str], list[str]] | None:
    """(evidence, details) of one indicator's faltering, or ``None``."""
    last = pts[-1]
    after = last.z(ind.column)
    assert after is not None
    evidence: list[str] = []
    details: list[str] = []
    earlier = [
        p
        for p in pts[:-1]
        if p.corrected == last.corrected and (last.on - p.on).days >= ind.min_interval_days
    ]
    if earlier:
        # the highest earlier value; of equal values the latest
        ref = max(reversed(earlier), key=lambda p: p.z(ind.column) or 0.0)
        before = ref.z(ind.column)
        assert before is not None
        spaces = ind.spaces if ind.spaces is not None else rule.spaces_for_birth(birth_z)
        if _delta(after, before) >= rule.min_fall(spaces):
            evidence.append(ref.observation_id)
            details.append(fall_detail(ind.column, before, after, spaces))
    if ind.column == rule.below_column and after < rule.below_z:
        details.append(below_detail(ind.column, after))
    if not details:
        return None
    evidence.append(last.observation_id)
    return evidence, details


def faltering_finding(
    child_id: str, points: Sequence[GrowthPoint], table: VelocityTable
) -> Finding | None:
    """NICE NG75 faltering of one child (``points`` sorted, up to the evaluation date)."""
    f = table.faltering
    birth = birth_point(points, f)
    birth_z = birth.z("zwei") if birth is not None else None
    items, evidence, details, last_on = [], [], [], None
    for ind in f.indicators:
        pts = _plausible(points, ind.column)
        if not pts:
            continue
        found = _faltering_item(pts, ind, f, birth_z)
        if found is None:
            continue
        items.append(ind.column)
        evidence += found[0]
        details += found[1]
        last_on = pts[-1].on if last_on is None else max(last_on, pts[-1].on)
    if not items:
        return None
    return Finding(
        child_id,
        AlertKind.GROWTH_FALTERING,
        f.severity,
        "",
        tuple(evidence),
        tuple(items),
        "; ".join(details),
        table.meta.id,
        table.meta.version,
        last_on,
    )


def wasted(p: GrowthPoint, rule: RapidGainRule) -> bool:
    """Wasting at a measurement: weight-for-length/height, else BMI-for-age, plausible and
    below ``wasted_below_z``."""
    for column in ("zwfl", "zbmi"):
        value = p.z(column)
        if value is not None:
            return not p.flagged(column) and value < rule.wasted_below_z
    return False


def rapid_gain_finding(
    child_id: str, points: Sequence[GrowthPoint], table: VelocityTable
) -> Finding | None:
    """Ong 2000 rapid weight gain, birth to a measurement up to 2 years (``points`` sorted)."""
    rg = table.rapid_gain
    birth = birth_point(points, table.faltering)
    pts = _plausible(points, rg.column)
    if birth is None or not pts or pts[-1] is birth:
        return None
    last = pts[-1]
    before, after = birth.z(rg.column), last.z(rg.column)
    assert before is not None
    assert after is not None
    if (
        last.age_days > rg.max_age_days
        or last.corrected != birth.corrected
        or not _delta(before, after) > rg.min_rise
    ):
        return None
    at_birth = next(i for i, p in enumerate(points) if p is birth)
    at_last = next(i for i, p in enumerate(points) if p is last)
    if any(wasted(p, rg) for p in points[at_birth + 1 : at_last + 1]):
        return None
    return Finding(
        child_id,
        AlertKind.RAPID_WEIGHT_GAIN,
        rg.severity,
        "",
        (birth.observation_id, last.observation_id),
        (rg.column,),
        change_detail(rg.column, before, after),
        table.meta.id,
        table.meta.version,
        last.on,
    )


def velocity_findings(
    child_id: str,
    birth_date: date,
    history: Sequence[GrowthPoint],
    table: VelocityTable,
    as_of: date,
    *,
    enrolled_in_centre: bool = False,
) -> tuple[Finding, ...]:
    """Velocity and measurement-gap findings of one child (history in any order)."""
    points = _sorted([p for p in history if p.on <= as_of])
    out: list[Finding] = []
    meta = table.meta
    falter = faltering_finding(child_id, points, table)
    if falter is not None:
        out.append(falter)
    fl = table.flat
    weighed = [
        p
        for p in points
        if p.weight is not None and not np.isnan(p.weight) and not p.flagged("zwei")
    ]
    if weighed:
        last = weighed[-1]
        earlier = [p for p in weighed if (last.on - p.on).days >= fl.min_interval_days]
        if earlier:
            prev = earlier[-1]
            assert prev.weight is not None
            assert last.weight is not None
            if _delta(prev.weight, last.weight) <= fl.max_gain_kg:
                out.append(
                    Finding(
                        child_id,
                        AlertKind.FLAT_GROWTH,
                        fl.severity,
                        "",
                        (prev.observation_id, last.observation_id),
                        (fl.weight_column,),
                        f"weight {prev.weight:.3f}->{last.weight:.3f} kg",
                        meta.id,
                        meta.version,
                        last.on,
                    )
                )
    rapid = rapid_gain_finding(child_id, points, table)
    if rapid is not None:
        out.append(rapid)
    measured = [p for p in points if _is_measurement(p)]
    gap = measurement_gap_finding(
        child_id,
        birth_date,
        measured[-1] if measured else None,
        table,
        as_of,
        enrolled_in_centre=enrolled_in_centre,
    )
    if gap is not None:
        out.append(gap)
    return tuple(out)


def _is_measurement(p: GrowthPoint) -> bool:
    return any(p.z(c) is not None and not p.flagged(c) for c in ("zwei", "zlen"))


def allowed_gap_days(
    birth_date: date, as_of: date, rule: MeasurementGapRule, *, enrolled_in_centre: bool
) -> int | None:
    """Longest allowed gap in days (grace included) at this age; ``None`` past the bands."""
    for band in rule.bands:
        if add_age(birth_date, band.from_age) <= as_of < add_age(birth_date, band.to_age):
            limit = (
                min(band.max_days, rule.centre_max_days) if enrolled_in_centre else band.max_days
            )
            return limit + rule.grace_days
    return None


def measurement_gap_finding(
    child_id: str,
    birth_date: date,
    last: GrowthPoint | None,
    table: VelocityTable,
    as_of: date,
    *,
    enrolled_in_centre: bool,
) -> Finding | None:
    """``measurement-overdue`` when the last plausible measurement (or birth) is too long ago."""
    rule = table.measurement_gap
    allowed = allowed_gap_days(birth_date, as_of, rule, enrolled_in_centre=enrolled_in_centre)
    if allowed is None:
        return None
    since = last.on if last is not None else birth_date
    gap = (as_of - since).days
    if gap <= allowed:
        return None
    return Finding(
        child_id,
        AlertKind.MEASUREMENT_OVERDUE,
        rule.severity,
        "",
        (last.observation_id,) if last else (),
        (),
        f"{gap} days since {since.isoformat()} (allowed {allowed})",
        table.meta.id,
        table.meta.version,
        since,
    )
