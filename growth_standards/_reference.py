"""Where an observation falls in WHO's reference tables: vectorised table look-up.

This is the one place that turns (indicator, sex, x) into L, M and S, shared by
:func:`growth_standards.score` and the array functions in :mod:`growth_standards.curves`, so
both follow the same rules:

* **Age in days is rounded before the look-up** (half up; ``anthro``'s ``round_up``), but the
  60-month limit compares the *unrounded* age in months (``age / 30.4375 < 60``), as in
  ``anthro`` >= 0.9.3 (``R/z-score-helper.R``, ``anthro_zscore_adjusted``).
* **WHO 2007 from 60 months**: the age in months is not rounded; L, M and S are interpolated
  linearly between the whole months around it (``anthroplus``, ``R/zscores.R``,
  ``zscore_indicator``). Past the last table month (228, or 120 for weight) the last row is
  used, which is what ``anthroplus``'s repeated last row (229/121) amounts to.
* **Weight-for-length/height** between table points 0.1 cm apart: L, M and S interpolated
  linearly from ``trunc(x * 10) / 10`` (``anthro``, ``R/z-score-weight-for-lenhei.R``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from growth_standards.indicators import IndicatorSpec, XAxis
from growth_standards.tables import LMSTable, load

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

#: Days per month used by WHO Anthro to convert ages (``ANTHRO_DAYS_OF_MONTH = 365.25 / 12``).
DAYS_PER_MONTH = 30.4375
#: The WHO 2006 standards are used while age < 60 months; the WHO 2007 reference from then on.
WHO2007_FROM_MONTHS = 60.0


def round_half_up(x: FloatArray) -> FloatArray:
    """Round non-negative numbers to integers, .5 upwards (``anthro``'s ``round_up``)."""
    whole = np.floor(x)
    with np.errstate(invalid="ignore"):
        return whole + (x - whole >= 0.5)


@dataclass(frozen=True, slots=True)
class AgeIndex:
    """Age-derived look-up positions, computed once and shared by every age indicator.

    ``sex`` is 0 (male), 1 (female) or -1 (unknown). ``day`` is the rounded age in days for
    rows scored against the 2006 standards (age < 60 months, sex known) and -1 elsewhere;
    ``rows2007`` are the rows from 60 months, with the whole month ``month_lo`` below the
    unrounded age and the fraction ``month_frac`` above it.
    """

    n: int
    sex: npt.NDArray[np.int8]
    day: IntArray
    rows2007: IntArray
    months2007: FloatArray
    month_lo: IntArray
    month_frac: FloatArray
    _positions: dict[tuple[float, float, int], IntArray] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        sex: npt.NDArray[np.int8],
        age_days: FloatArray,
        months: FloatArray | None = None,
        rounded_days: FloatArray | None = None,
    ) -> AgeIndex:
        """``months`` (age / 30.4375) and ``rounded_days`` may be passed when already known."""
        with np.errstate(invalid="ignore"):
            known = (sex >= 0) & (age_days >= 0)
            if months is None:
                months = age_days / DAYS_PER_MONTH
            if rounded_days is None:
                rounded_days = round_half_up(age_days)
            is2006 = known & (months < WHO2007_FROM_MONTHS)
            is2007 = known & (months >= WHO2007_FROM_MONTHS)
            day = np.where(is2006, rounded_days, -1.0).astype(np.intp)
        rows2007 = np.flatnonzero(is2007)
        months2007 = months[rows2007]
        month_lo = np.trunc(months2007)
        return cls(
            n=len(sex),
            sex=sex,
            day=day,
            rows2007=rows2007,
            months2007=months2007,
            month_lo=month_lo.astype(np.intp),
            month_frac=months2007 - month_lo,
        )

    def positions(self, spec: IndicatorSpec, table: LMSTable) -> IntArray:
        """Index into ``table.flat`` for every row (``table.missing`` where no 2006 value)."""
        key = (spec.x_min, spec.x_max, len(table.x))
        cached = self._positions.get(key)
        if cached is None:
            x0, size = int(table.x0), len(table.x)
            valid = (self.day >= spec.x_min) & (self.day <= spec.x_max)
            cached = np.where(
                valid, self.sex.astype(np.intp) * size + (self.day - x0), table.missing
            )
            self._positions[key] = cached
        return cached


def age_lms(spec: IndicatorSpec, index: AgeIndex) -> tuple[FloatArray, FloatArray, FloatArray]:
    """L, M, S for every row of an age-based indicator; NaN where no reference applies."""
    table = load(spec.who2006_table)
    position = index.positions(spec, table)
    l, m, s = (np.take(column, position) for column in table.flat)
    if spec.who2007_table is not None and index.rows2007.size:
        ref = load(spec.who2007_table)
        x0, size = int(ref.x0), len(ref.x)
        keep = index.months2007 < spec.who2007_months_below
        rows = index.rows2007[keep]
        base = index.sex[rows].astype(np.intp) * size
        lo = index.month_lo[keep] - x0
        up = np.minimum(lo + 1, size - 1)
        frac = index.month_frac[keep]
        for out, column in zip((l, m, s), ref.flat, strict=True):
            low = column[base + lo]
            out[rows] = low + frac * (column[base + up] - low)
    return l, m, s


def lenhei_lms(
    spec: IndicatorSpec, sex: npt.NDArray[np.int8], x: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """L, M, S for weight-for-length (or -height) at length/height ``x`` cm; NaN outside the
    table's range or where sex is unknown."""
    table = load(spec.who2006_table)
    size = len(table.x)
    with np.errstate(invalid="ignore"):
        valid = (sex >= 0) & (x >= spec.x_min) & (x <= spec.x_max)
        tenths = np.trunc(np.where(valid, x, spec.x_min) * 10.0)
        frac = (x - tenths / 10.0) / 0.1
    lo = tenths.astype(np.intp) - round(table.x0 * 10)
    base = sex.astype(np.intp) * size
    low_at = np.where(valid, base + lo, table.missing)
    up_at = np.where(valid, base + np.minimum(lo + 1, size - 1), table.missing)
    out = []
    for column in table.flat:
        low = column[low_at]
        out.append(low + frac * (column[up_at] - low))
    return out[0], out[1], out[2]


def lms_at(
    spec: IndicatorSpec, sex: npt.NDArray[np.int8], x: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """L, M, S of ``spec`` at ``x`` (age in days, or cm for weight-for-length/height)."""
    if spec.x_axis is XAxis.AGE:
        return age_lms(spec, AgeIndex.build(sex, x))
    return lenhei_lms(spec, sex, x)
