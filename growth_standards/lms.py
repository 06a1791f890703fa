"""LMS arithmetic, vectorised: z-scores, WHO's restricted z-score, values at a z, centiles.

The LMS method (Cole & Green 1992) describes a measurement ``y`` at a given age or length by
a Box-Cox power ``L``, median ``M`` and coefficient of variation ``S``:
``z = ((y / M) ** L - 1) / (L * S)``.

WHO restricts the z-score of skewed indicators beyond ±3 SD, because the fitted LMS curves
are not supported by data out there (WHO Multicentre Growth Reference Study Group, *WHO Child
Growth Standards: Methods and development*, 2006, chapter 7, "Computation of centiles and
z-scores"): beyond +3 the distance between the +2 and +3 SD values is used as the unit,
``z = 3 + (y - SD3pos) / (SD3pos - SD2pos)``, and likewise below -3. The formulas are written
exactly as WHO's R package ``anthro`` writes them (``compute_zscore``,
``compute_zscore_adjusted`` in ``R/z-score-helper.R``) so that results agree to the last bit;
as there, ``L = 0`` is not special-cased because no WHO table has it.

All functions take array-likes, broadcast them, never round, and return ``float64`` arrays
with NaN where an input is NaN. Floating-point warnings are silenced inside: NaN is the
documented result.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

__all__ = ["centile", "sd_value", "value_at_z", "z_at_centile", "zscore", "zscore_restricted"]


def _f(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def sd_value(z: ArrayLike, l: ArrayLike, m: ArrayLike, s: ArrayLike) -> FloatArray:
    """The measurement whose plain LMS z-score is ``z``: ``M * (1 + L*S*z) ** (1/L)``."""
    zf, lf, mf, sf = _f(z), _f(l), _f(m), _f(s)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return mf * (1.0 + lf * sf * zf) ** (1.0 / lf)


def zscore(y: ArrayLike, l: ArrayLike, m: ArrayLike, s: ArrayLike) -> FloatArray:
    """Plain LMS z-score ``((y/M)**L - 1) / (L*S)`` (``anthro``'s ``compute_zscore``)."""
    yf, lf, mf, sf = _f(y), _f(l), _f(m), _f(s)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return ((yf / mf) ** lf - 1.0) / (sf * lf)


def restrict(z: FloatArray, y: FloatArray, l: FloatArray, m: FloatArray, s: FloatArray) -> None:
    """Replace, in place, plain z-scores beyond ±3 by WHO's restricted z-score.

    Only the rows beyond ±3 SD (usually few) pay for the four extra powers. All arrays must
    have the same shape.
    """
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for sign in (1.0, -1.0):
            rows = np.flatnonzero(z > 3.0) if sign > 0 else np.flatnonzero(z < -3.0)
            if rows.size == 0:
                continue
            lr, mr, sr = l[rows], m[rows], s[rows]
            sd3 = mr * (1.0 + lr * sr * (3.0 * sign)) ** (1.0 / lr)
            sd2 = mr * (1.0 + lr * sr * (2.0 * sign)) ** (1.0 / lr)
            # SD23pos = SD3pos - SD2pos; SD23neg = SD2neg - SD3neg (both positive)
            unit = (sd3 - sd2) * sign
            z[rows] = 3.0 * sign + (y[rows] - sd3) / unit


def zscore_restricted(
    y: ArrayLike,
    l: ArrayLike,
    m: ArrayLike,
    s: ArrayLike,
) -> FloatArray:
    """WHO's restricted z-score (``anthro``'s ``compute_zscore_adjusted``)."""
    yf, lf, mf, sf = np.broadcast_arrays(_f(y), _f(l), _f(m), _f(s))
    z = np.array(zscore(yf, lf, mf, sf), dtype=np.float64, copy=True)
    restrict(z.reshape(-1), yf.reshape(-1), lf.reshape(-1), mf.reshape(-1), sf.reshape(-1))
    return z


def value_at_z(
    z: ArrayLike,
    l: ArrayLike,
    m: ArrayLike,
    s: ArrayLike,
    *,
    restricted: bool,
) -> FloatArray:
    """The measurement with z-score ``z``; the exact inverse of :func:`zscore` or, when
    ``restricted``, of :func:`zscore_restricted` (linear beyond ±3 SD)."""
    zf, lf, mf, sf = np.broadcast_arrays(_f(z), _f(l), _f(m), _f(s))
    inner = np.clip(zf, -3.0, 3.0) if restricted else zf
    y = np.array(sd_value(inner, lf, mf, sf), dtype=np.float64, copy=True)
    if restricted:
        with np.errstate(invalid="ignore"):
            for sign in (1.0, -1.0):
                rows = zf > 3.0 if sign > 0 else zf < -3.0
                if not rows.any():
                    continue
                sd3 = sd_value(3.0 * sign, lf[rows], mf[rows], sf[rows])
                sd2 = sd_value(2.0 * sign, lf[rows], mf[rows], sf[rows])
                # SD23pos = SD3pos - SD2pos; SD23neg = SD2neg - SD3neg (both positive)
                y[rows] = sd3 + (zf[rows] - 3.0 * sign) * ((sd3 - sd2) * sign)
    return y


def centile(z: ArrayLike) -> FloatArray:
    """Percentile of a z-score, ``100 * Φ(z)`` (standard normal CDF), unrounded."""
    return np.asarray(special.ndtr(_f(z)) * 100.0, dtype=np.float64)


def z_at_centile(p: ArrayLike) -> FloatArray:
    """The z-score of percentile ``p`` (0 < p < 100), ``Φ⁻¹(p / 100)``."""
    return np.asarray(special.ndtri(_f(p) / 100.0), dtype=np.float64)
