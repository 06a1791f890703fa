"""Anaemia by haemoglobin (``anaemia`` table; DOMAIN.md §4.2, 儿童营养性疾病管理技术规范 2012).

The latest Hb result, adjusted for the altitude where the child lives (WHO/NMH/NHD/MNM/11.1,
Table 2: the adjustment is subtracted from the measured Hb), is graded in the age band of the
child's age at the test (6 m–6 y: < 110 g/L; mild 90–109, moderate 60–89, severe < 60; under
6 months the Chinese infant criteria, unconfirmed). Referral (item ``refer``) when the grade is
a referral grade, or when Hb has not risen by the expected ``expected_rise_g_l`` (10 g/L) since
an anaemic result at least ``no_improvement_days`` (28) earlier: no response to a month of iron.
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


def hb_detail(hb_g_l: float, adjust: float, altitude_m: float | None) -> str:
    if not adjust or altitude_m is None:
        return f"hb={hb_g_l:g} g/L"
    return f"hb={hb_g_l:g} g/L, altitude {altitude_m:g} m: -{adjust:g} -> {hb_g_l - adjust:g} g/L"


def anaemia_findings(
    child_id: str,
    birth_date: date,
    results: Sequence[HbResult],
    table: AnaemiaTable,
    as_of: date,
    altitude_m: float | None = None,
) -> tuple[Finding, ...]:
    """Current anaemia finding of one child (latest result on or before ``as_of``) living at
    ``altitude_m`` metres (unknown: no adjustment)."""
    ordered = sorted((r for r in results if r.on <= as_of), key=lambda r: (r.on, r.observation_id))
    if not ordered:
        return ()
    adjust = table.altitude_adjustment(altitude_m)
    latest = ordered[-1]
    band = band_for(birth_date, latest.on, table)
    if band is None:
        return ()
    grade = grade_hb(latest.hb_g_l - adjust, band)
    if grade is None:
        return ()
    evidence = [latest.observation_id]
    refer = grade.grade in table.refer_grades
    for earlier in reversed(ordered[:-1]):
        if (latest.on - earlier.on).days < table.no_improvement_days:
            continue
        earlier_band = band_for(birth_date, earlier.on, table)
        if earlier_band is not None and grade_hb(earlier.hb_g_l - adjust, earlier_band) is not None:
            if round(latest.hb_g_l - earlier.hb_g_l, 9) < table.expected_rise_g_l:
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
            hb_detail(latest.hb_g_l, adjust, altitude_m),
            table.meta.id,
            table.meta.version,
            latest.on,
        ),
    )
