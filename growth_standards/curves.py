"""Reference curves as data (for charts) and array-level z-score / value functions.

``x`` is the age in days for age-based indicators (rounded to the day before look-up in the
2006 standards; from 60 months the 2007 reference, interpolated by month) and the length or
height in cm for weight-for-length/height (interpolated between the 0.1 cm table points).
The measurement is taken as given: no 0.7 cm length/height conversion happens here, so
length/height-for-age expects a length before 731 days and a height from 731 days.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from growth_standards import lms
from growth_standards._reference import DAYS_PER_MONTH, lms_at
from growth_standards.errors import InvalidArgumentError
from growth_standards.indicators import IndicatorSpec, Sex, XAxis, spec
from growth_standards.tables import load

FloatArray = npt.NDArray[np.float64]

_SEX_CODES = {"1": 0, "2": 1, "m": 0, "f": 1}


def _sex_index(sex: Sex | int | str | npt.ArrayLike) -> npt.NDArray[np.int8]:
    """0 (male) / 1 (female) for each element; raises on anything else."""
    numeric = np.asarray(sex)
    if numeric.dtype.kind in "iuf":
        if not np.isin(numeric, (1, 2)).all():
            raise InvalidArgumentError("sex must be 1 (male) or 2 (female)")
        return (numeric - 1).astype(np.int8)
    values = np.asarray(sex, dtype=object)
    codes = np.empty(values.shape, dtype=np.int8)
    for position, value in np.ndenumerate(values):
        key = str(int(value)) if isinstance(value, int | np.integer) else str(value).lower()
        if key not in _SEX_CODES:
            raise InvalidArgumentError(f"sex must be 1, 2, 'm' or 'f', not {value!r}")
        codes[position] = _SEX_CODES[key]
    return codes


def _lms(
    indicator: str, sex: npt.ArrayLike, x: npt.ArrayLike
) -> tuple[IndicatorSpec, FloatArray, FloatArray, FloatArray]:
    """L, M, S of ``indicator`` for ``sex`` and ``x`` of one shape, flattened."""
    info = spec(indicator)
    sex_index = np.broadcast_to(_sex_index(sex), np.shape(x))
    x_flat = np.asarray(x, dtype=np.float64).ravel().copy()
    l, m, s = lms_at(info, sex_index.ravel().astype(np.int8), x_flat)
    return info, l, m, s


def zscore(
    indicator: str, sex: Sex | int | str | npt.ArrayLike, x: npt.ArrayLike, value: npt.ArrayLike
) -> FloatArray:
    """Z-score of ``value`` for ``indicator`` at ``x`` (NaN outside the reference).

    Uses WHO's restricted z-score where the indicator has one. Arrays broadcast.
    """
    try:
        shape = np.broadcast_shapes(np.shape(sex), np.shape(x), np.shape(value))
    except ValueError as error:
        raise InvalidArgumentError(f"arguments cannot be broadcast together: {error}") from None
    info, l, m, s = _lms(indicator, np.broadcast_to(sex, shape), np.broadcast_to(x, shape))
    y = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).ravel().copy()
    with np.errstate(invalid="ignore"):
        y[y <= 0] = np.nan
    z = lms.zscore(y, l, m, s)
    if info.restricted:
        lms.restrict(z, y, l, m, s)
    return z.reshape(shape)


def value_at_z(
    indicator: str, sex: Sex | int | str | npt.ArrayLike, x: npt.ArrayLike, z: npt.ArrayLike
) -> FloatArray:
    """The measurement at z-score ``z`` for ``indicator`` at ``x``; inverse of :func:`zscore`
    (linear beyond ±3 SD for restricted indicators). Arrays broadcast. NaN outside the
    reference, and where no positive measurement has that z (extreme negative z)."""
    try:
        shape = np.broadcast_shapes(np.shape(sex), np.shape(x), np.shape(z))
    except ValueError as error:
        raise InvalidArgumentError(f"arguments cannot be broadcast together: {error}") from None
    info, l, m, s = _lms(indicator, np.broadcast_to(sex, shape), np.broadcast_to(x, shape))
    zf = np.broadcast_to(np.asarray(z, dtype=np.float64), shape).ravel()
    values = lms.value_at_z(zf, l, m, s, restricted=info.restricted)
    with np.errstate(invalid="ignore"):
        values[values <= 0] = np.nan  # far below -3 SD the linear extension passes zero
    return values.reshape(shape)


def default_x(indicator: str) -> FloatArray:
    """The reference grid of ``indicator``: table days (2006), then whole months converted to
    days (2007) where a 2007 table exists; or the 0.1 cm table points."""
    info = spec(indicator)
    table = load(info.who2006_table)
    if info.x_axis is not XAxis.AGE:
        return table.x.copy()
    grid = [table.x]
    if info.who2007_table is not None:
        months = load(info.who2007_table).x
        days = months[(months > 60) & (months < info.who2007_months_below)] * DAYS_PER_MONTH
        grid.append(days)
    return np.concatenate(grid)


def _frame(
    info: IndicatorSpec, x: FloatArray, columns: Sequence[str], values: FloatArray
) -> pd.DataFrame:
    data = {info.x_axis.value: x, **{c: values[i] for i, c in enumerate(columns)}}
    return pd.DataFrame(data)


def z_curves(
    indicator: str,
    sex: Sex | int | str,
    zs: Sequence[float] = (-3, -2, -1, 0, 1, 2, 3),
    x: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Reference lines at the given z-scores: a column ``age_days`` / ``length_cm`` /
    ``height_cm`` and one column per z, named as WHO's tables name them (``SD3neg`` … ``SD0``
    … ``SD3``; fractional z as e.g. ``SD1.5``)."""
    info = spec(indicator)
    grid = default_x(indicator) if x is None else np.asarray(x, dtype=np.float64).ravel()
    values = np.stack([value_at_z(indicator, sex, grid, float(z)) for z in zs])
    names = [_sd_name(float(z)) for z in zs]
    return _frame(info, grid, names, values)


def centile_curves(
    indicator: str,
    sex: Sex | int | str,
    centiles: Sequence[float] = (3, 15, 50, 85, 97),
    x: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Reference centile lines: an x column and one column per centile (``P3``, ``P15``…)."""
    info = spec(indicator)
    if any(not 0 < float(c) < 100 for c in centiles):
        raise InvalidArgumentError("centiles must lie strictly between 0 and 100")
    grid = default_x(indicator) if x is None else np.asarray(x, dtype=np.float64).ravel()
    zs = lms.z_at_centile(np.asarray(centiles, dtype=np.float64))
    values = np.stack([value_at_z(indicator, sex, grid, float(z)) for z in zs])
    names = [f"P{float(c):g}" for c in centiles]
    return _frame(info, grid, names, values)


def _sd_name(z: float) -> str:
    magnitude = f"{abs(z):g}"
    return f"SD{magnitude}neg" if z < 0 else f"SD{magnitude}"
