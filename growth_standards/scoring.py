"""Score a frame of measurements against the WHO growth references, vectorised.

Input columns are WHO Anthro's (:data:`growth_standards._inputs.INPUT_COLUMNS`); only
``sex`` is required, every other column may be absent (treated as missing). Output is the
input plus WHO's cleaned columns ``clenhei``, ``cmeasure``, ``c9mo_flag``, ``cbmi``, plus
``cage_days`` (the age in days used, corrected when asked) and ``reference`` (the reference
of the age-based indicators), then per indicator the full-precision z-score and percentile,
then the implausibility flags (:data:`OUTPUT_COLUMNS`; names in
:mod:`growth_standards.indicators`).

The rules are WHO's, as in the R packages ``anthro`` (``R/z-score.R`` and
``R/z-score-helper.R``) and ``anthroplus`` (``R/zscores.R``):

* age in days rounded (half up) before look-up; 2006 standards while the unrounded age is
  below 60 months, the 2007 reference (interpolated by month) from 60 months;
* length/height: a standing height before 731 days gets +0.7 cm, a recumbent length from
  731 days and below 60 months -0.7 cm; a standing height before 9 months is ignored as a
  position (``cmeasure`` missing, ``c9mo_flag`` = 1) and the value is used as a length;
* weight-for-length before 731 days, weight-for-height from 731 days; without an age, by the
  measure given, else length below 87 cm; the 45-110 / 65-120 cm limits apply to the
  converted value;
* oedema blanks weight-for-age, weight-for-length/height and BMI-for-age;
* measurements <= 0 score as missing.

**Flags as WHO decides them**: ``anthro`` and ``anthroplus`` round each z-score to 2 decimals
and flag the rounded value (``anthroplus`` ``R/zscores.R``: ``round(z, digits = 2L)`` then
``abs(z) > 5``), so a z of 5.004 ("5.00") is not flagged. The flags here are decided on the
z rounded to 2 decimals the same way; the z columns keep full precision (round them to 2
decimals for display and rules, as :func:`round_z` does, so that what is shown and what is
flagged agree).

**From 60 months** the ``anthroplus`` rules apply: height is used as measured (no 0.7 cm
length/height conversion, which belongs to the 2006 standards).

**Corrected age** (``corrected_age=True``, our addition, not WHO's): for a child born before
37 weeks (``gestational_age_weeks``), while the *corrected* age is below 24 months (731 days,
the same limit as the warning-signs screening), the age used is the chronological age minus
``(40 - gestational_age_weeks) * 7`` days. It is used for growth
scoring only. A corrected age below 0 (before term) has no WHO reference: age-based scores
are missing and weight-for-length is used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from growth_standards import lms
from growth_standards._inputs import Inputs, prepare
from growth_standards._reference import (
    DAYS_PER_MONTH,
    WHO2007_FROM_MONTHS,
    AgeIndex,
    age_lms,
    lenhei_lms,
    round_half_up,
)
from growth_standards.indicators import SPECS, Indicator, IndicatorSpec
from growth_standards.tables import load

T = TypeVar("T")
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Length/height conversion between recumbent length and standing height (WHO 2006
#: standards, Methods and development, p. 10; ``anthro``'s ``adjust_lenhei``).
LENHEI_ADJUST_CM = 0.7
#: Length (recumbent) is the reference below 731 days (24 months), height from 731 days.
HEIGHT_FROM_DAYS = 731
#: A standing height before 9 months is implausible as a position (``anthro`` ``c9mo_flag``).
STANDING_FROM_MONTHS = 9.0
#: Without an age, weight-for-length below 87 cm, weight-for-height from 87 cm (``anthro``).
WFH_FROM_CM_WITHOUT_AGE = 87.0
#: Weight-for-length/height are scored only up to this rounded age in days (``anthro``).
WFL_LAST_DAY = 1856
#: Frames with at least this many rows are scored on two threads (NumPy releases the GIL).
PARALLEL_FROM_ROWS = 50_000
_SCORED = (
    Indicator.WFA,
    Indicator.LHFA,
    Indicator.WFL,
    Indicator.BFA,
    Indicator.HCFA,
    Indicator.ACFA,
    Indicator.TSFA,
    Indicator.SSFA,
)
_AGE_INPUT = {
    Indicator.WFA: "weight_kg",
    Indicator.LHFA: "clenhei",
    Indicator.BFA: "cbmi",
    Indicator.HCFA: "headc_cm",
    Indicator.ACFA: "armc_cm",
    Indicator.TSFA: "triskin_mm",
    Indicator.SSFA: "subskin_mm",
}

#: Output columns added to the input, in order: WHO's cleaned values, then z-score and
#: percentile per indicator, then the flags.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "cage_days",
    "reference",
    "clenhei",
    "cmeasure",
    "c9mo_flag",
    "cbmi",
    *(
        column
        for indicator in _SCORED
        for column in (SPECS[indicator].score_column, SPECS[indicator].percentile_column)
    ),
    *(SPECS[indicator].flag_column for indicator in _SCORED),
)


#: WHO's ``anthro``/``anthroplus`` round z-scores to this many decimals before flagging.
Z_DECIMALS = 2


def round_z(z: Any) -> Any:
    """z rounded to 2 decimals as ``anthro`` and ``anthroplus`` report and flag it."""
    return np.round(z, Z_DECIMALS)


def _flags(z: FloatArray, spec: IndicatorSpec) -> pd.arrays.IntegerArray:
    z = round_z(z)
    with np.errstate(invalid="ignore"):
        if spec.flag_low == -spec.flag_high:
            flagged = np.abs(z) > spec.flag_high
        else:
            flagged = (z < spec.flag_low) | (z > spec.flag_high)
    return pd.arrays.IntegerArray(flagged.astype(np.int8), np.isnan(z))


def _zscores(
    spec: IndicatorSpec,
    y: FloatArray,
    l: FloatArray,
    m: FloatArray,
    s: FloatArray,
    out: FloatArray | None = None,
) -> FloatArray:
    """``((y/M)**L - 1) / (S*L)`` (restricted where WHO restricts), evaluated in place in
    ``out`` in the same order as ``anthro`` so that the result is bit for bit the same."""
    z = np.empty_like(y) if out is None else out
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        np.divide(y, m, out=z)
        if _linear(spec):
            z -= 1.0  # L = 1: the power is the identity
            z /= s
        else:
            np.power(z, l, out=z)
            z -= 1.0
            z /= s * l
    if spec.restricted:
        lms.restrict(z, y, l, m, s)
    return z


@functools.cache
def _linear(spec: IndicatorSpec) -> bool:
    return all(load(name).l_is_one for name in spec.reference_tables)


def score(frame: pd.DataFrame, *, corrected_age: bool = False) -> pd.DataFrame:
    """Score every row of ``frame`` on every WHO indicator it has measurements for.

    Returns a new frame: the input columns (any previous output columns are replaced) followed
    by :data:`OUTPUT_COLUMNS`. Scores are ``float64`` (NaN when not computable), flags nullable
    ``Int8`` (1 = biologically implausible, missing when the score is), percentiles
    ``100 * Φ(z)``. Raises :class:`~growth_standards.errors.InvalidFrameError` (or its subclass
    :class:`~growth_standards.errors.MissingColumnsError`) for a frame that cannot be scored at
    all; invalid values only blank the scores they feed (see :func:`row_problems`).
    """
    parallel = isinstance(frame, pd.DataFrame) and len(frame) >= PARALLEL_FROM_ROWS
    with ThreadPoolExecutor(max_workers=2) if parallel else _Serial() as pool:
        return _score(frame, corrected_age=corrected_age, pool=pool)


class _Serial(Executor):
    """Runs submitted work at once in the calling thread (small frames)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


#: Indicators in decreasing order of work, so that two threads finish together.
_BY_COST = (
    Indicator.WFL,
    Indicator.WFA,
    Indicator.BFA,
    Indicator.ACFA,
    Indicator.TSFA,
    Indicator.SSFA,
    Indicator.LHFA,
    Indicator.HCFA,
)


def _score(frame: pd.DataFrame, *, corrected_age: bool, pool: Executor) -> pd.DataFrame:
    inputs = prepare(
        frame,
        corrected_age=corrected_age,
        pool=pool if isinstance(pool, ThreadPoolExecutor) else None,
    )
    n, sex, age = inputs.n, inputs.sex, inputs.age
    weight = inputs.numbers["weight_kg"]
    lenhei = inputs.numbers["lenhei_cm"]

    with np.errstate(invalid="ignore"):
        months = age / DAYS_PER_MONTH
        has_age = ~np.isnan(age)
        day = round_half_up(age)
        # A standing height before 9 months is not used as a position (anthro c9mo_flag).
        standing_too_young = (inputs.measure == 2) & (months < STANDING_FROM_MONTHS)
        measure = np.where(standing_too_young, 0, inputs.measure).astype(np.int8)
        clenhei = lenhei.copy()
        clenhei[has_age & (day < HEIGHT_FROM_DAYS) & (measure == 2)] += LENHEI_ADJUST_CM
        # anthroplus (60 months on) uses the height as measured: no conversion there
        under_60 = months < WHO2007_FROM_MONTHS
        clenhei[has_age & (day >= HEIGHT_FROM_DAYS) & under_60 & (measure == 1)] -= LENHEI_ADJUST_CM
        cbmi = weight / (clenhei / 100.0) ** 2

    values = {**inputs.numbers, "clenhei": clenhei, "cbmi": cbmi}
    index = AgeIndex.build(sex, age, months, day)
    # One float block, filled in place, becomes the frame's float columns without a copy.
    block = np.empty((2 * len(_SCORED), n), dtype=np.float64)
    flags: dict[str, pd.arrays.IntegerArray] = {}

    def run(position: int, indicator: Indicator) -> None:
        spec = SPECS[indicator]
        z = block[2 * position]
        if indicator is Indicator.WFL:
            z[:] = _weight_for_lenhei(inputs, clenhei, measure, has_age, day, months)
        else:
            l, m, s = age_lms(spec, index)
            _zscores(spec, values[_AGE_INPUT[indicator]], l, m, s, out=z)
            if spec.weight_based:
                z[inputs.oedema] = np.nan
        special.ndtr(z, out=block[2 * position + 1])
        block[2 * position + 1] *= 100.0
        flags[spec.flag_column] = _flags(z, spec)

    for column in {table for i in _SCORED for table in SPECS[i].reference_tables}:
        load(column)  # parse tables before threads share them
    index.positions(SPECS[Indicator.WFA], load("who2006_wfa"))
    index.positions(SPECS[Indicator.ACFA], load("who2006_acfa"))
    for done in [pool.submit(run, _SCORED.index(i), i) for i in _BY_COST]:
        done.result()

    # Build around the float block without copying it (pd.concat would copy every block).
    result = pd.DataFrame(
        block.T,
        index=frame.index,
        columns=[
            name for i in _SCORED for name in (SPECS[i].score_column, SPECS[i].percentile_column)
        ],
        copy=False,
    )
    reference = np.full(n, -1, dtype=np.int8)
    reference[index.day >= 0] = 0
    reference[index.rows2007] = 1
    cleaned: dict[str, Any] = {
        "cage_days": age,
        "reference": pd.Categorical.from_codes(
            reference, categories=pd.Index(["WHO2006", "WHO2007"])
        ),
        "clenhei": clenhei,
        "cmeasure": pd.Categorical.from_codes(measure - 1, categories=pd.Index(["l", "h"])),
        "c9mo_flag": standing_too_young.astype(np.int8),
        "cbmi": cbmi,
    }
    kept = [c for c in frame.columns if c not in OUTPUT_COLUMNS]
    flag_frame = pd.DataFrame(
        {SPECS[i].flag_column: flags[SPECS[i].flag_column] for i in _SCORED}, index=frame.index
    )
    if int(pd.__version__.split(".")[0]) >= 3:
        # Copy-on-write: concat shares the input's and the block's data lazily, no copy.
        pieces = [frame[kept], pd.DataFrame(cleaned, index=frame.index), result, flag_frame]
        return pd.concat(pieces, axis=1)
    # pandas 2: concat would deep-copy every block; inserting copies only what it adds.
    for position, column in enumerate(kept):
        result.insert(position, column, frame[column])
    for position, (column, data) in enumerate(cleaned.items(), start=len(kept)):
        result.insert(position, column, data)
    for column in flag_frame.columns:
        result.insert(len(result.columns), column, flag_frame[column])
    return result


def _weight_for_lenhei(
    inputs: Inputs,
    clenhei: FloatArray,
    measure: npt.NDArray[np.int8],
    has_age: BoolArray,
    day: FloatArray,
    months: FloatArray,
) -> FloatArray:
    """Weight-for-length below 731 days, weight-for-height from 731 days; without an age by
    the measure, else by 87 cm (``anthro``, ``R/z-score-weight-for-lenhei.R``)."""
    no_age = ~has_age
    with np.errstate(invalid="ignore"):
        use_height = (has_age & (day >= HEIGHT_FROM_DAYS)) | (
            no_age & ((measure == 2) | ((measure == 0) & (clenhei >= WFH_FROM_CM_WITHOUT_AGE)))
        )
        age_ok = no_age | ((day <= WFL_LAST_DAY) & (months < WHO2007_FROM_MONTHS))
    usable = age_ok & ~inputs.oedema
    weight = inputs.numbers["weight_kg"]
    z = np.full(inputs.n, np.nan)
    for indicator, rows in ((Indicator.WFL, ~use_height), (Indicator.WFH, use_height)):
        spec = SPECS[indicator]
        sel = np.flatnonzero(rows & usable)
        l, m, s = lenhei_lms(spec, inputs.sex[sel], clenhei[sel])
        z[sel] = _zscores(spec, weight[sel], l, m, s)
    return z
