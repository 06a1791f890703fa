"""Anaemia by haemoglobin (``anaemia`` table; DOMAIN.md §4.2, 儿童营养性疾病管理技术规范 2012).

The latest Hb result is graded in the age band of the child's age at the test (6 m–6 y:
< 110 g/L; mild 90–109, moderate 60–89, severe < 60). Referral (item ``refer``) when the grade
is a referral grade, or when Hb has not risen since an anaemic result at least
``no_improvement_days`` earlier (no improvement after a month of iron treatment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from healthbridge.clinical.ages import add_age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.tables_care import AnaemiaTable, HbBand, HbGrade
from healthbridge.clinical.vocab import AlertKind

REFER = "refer"


@dataclass(frozen=True, slots=True)
class HbResult:
    observation_id: str
    on: date
    hb_g_l: float


def band_for(birth_date: date, on: date, table: AnaemiaTable) -> HbBand | None:
    for band in table.bands:
        if add_age(birth_date, band.from_age) <= on < add_age(birth_date, band.to_age):
            return band
    return None


def grade_hb(hb_g_l: float, band: HbBand) -> HbGrade | None:
    """The anaemia grade of a value in a band, or ``None`` when not anaemic."""
    if hb_g_l >= band.anaemia_below:
        return None
    return next(g for g in band.grades if hb_g_l < g.below)


def anaemia_findings(
    child_id: str, birth_date: date, results: Sequence[HbResult], table: AnaemiaTable, as_of: date
) -> tuple[Finding, ...]:
    """Current anaemia finding of one child (latest result on or before ``as_of``)."""
    ordered = sorted((r for r in results if r.on <= as_of), key=lambda r: (r.on, r.observation_id))
    if not ordered:
        return ()
    latest = ordered[-1]
    band = band_for(birth_date, latest.on, table)
    if band is None:
        return ()
    grade = grade_hb(latest.hb_g_l, band)
    if grade is None:
        return ()
    evidence = [latest.observation_id]
    refer = grade.grade in table.refer_grades
    for earlier in reversed(ordered[:-1]):
        if (latest.on - earlier.on).days < table.no_improvement_days:
            continue
        earlier_band = band_for(birth_date, earlier.on, table)
        if earlier_band is not None and grade_hb(earlier.hb_g_l, earlier_band) is not None:
            if latest.hb_g_l <= earlier.hb_g_l:
                refer = True
                evidence.append(earlier.observation_id)
            break
    return (
        Finding(
            child_id,
            AlertKind.ANAEMIA,
            grade.severity,
            grade.grade,
            tuple(evidence),
            (grade.grade, REFER) if refer else (grade.grade,),
            f"hb={latest.hb_g_l:g} g/L",
            table.meta.id,
            table.meta.version,
            latest.on,
        ),
    )
