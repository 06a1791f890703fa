"""Confidence intervals for proportions and means, vectorised over groups.

Three methods, each chosen for a stated reason:

* :func:`logit_ci` reproduces what WHO's ``anthro`` R package reports for prevalences
  (``anthro_prevalence``): the ``survey`` package's ``svyciprop(method = "logit")`` for a
  design without clusters, strata or sampling weights. The interval is built on the logit
  scale with the design-based (sandwich) variance ``N/(N-1) / (n p (1-p))`` and Student's t
  with ``N - 1`` degrees of freedom, where ``N`` is the number of records in the analysed data
  set (not the group size: subgroups are survey *domains*). A proportion of exactly 0 or 1
  gets the degenerate interval [0, 0] or [1, 1], as in anthro's simple-design code
  (``R/prevalence-simple.R``).
* :func:`wilson_ci` is the Wilson score interval (Wilson 1927), used for coverage figures:
  it never collapses at 0 % or 100 %, which matters for small centres.
* :func:`clopper_pearson_ci` is the exact (Clopper–Pearson 1934) interval via the beta
  distribution, offered as the conservative alternative.

All functions take numpy arrays (or scalars) of counts and return arrays of the same shape;
groups with ``n == 0`` give NaN.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import stats

from healthbridge.reports.errors import ReportInputError

FloatArray = npt.NDArray[np.float64]

#: Two-sided significance level used by anthro (``prevalence_significance_level``).
ALPHA = 0.05


class CiMethod(StrEnum):
    """Interval methods for a binomial proportion."""

    WILSON = "wilson"
    CLOPPER_PEARSON = "clopper-pearson"
    LOGIT = "logit"


def _as_float(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def wilson_ci(
    successes: npt.ArrayLike, n: npt.ArrayLike, alpha: float = ALPHA
) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval (no continuity correction) for ``successes / n``.

    Same definition as ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``.
    """
    k = _as_float(successes)
    m = _as_float(n)
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
        lower = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        upper = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # Exact ends: the Wilson bound is 0 at k == 0 and 1 at k == n; avoid -1e-17 style noise.
    lower = np.where((k == 0) & (m > 0), 0.0, lower)
    upper = np.where((k == m) & (m > 0), 1.0, upper)
    return lower, upper


def clopper_pearson_ci(
    successes: npt.ArrayLike, n: npt.ArrayLike, alpha: float = ALPHA
) -> tuple[FloatArray, FloatArray]:
    """Exact Clopper–Pearson interval from beta quantiles."""
    k = _as_float(successes)
    m = _as_float(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(k > 0, stats.beta.ppf(alpha / 2, k, m - k + 1), 0.0)
        upper = np.where(k < m, stats.beta.ppf(1 - alpha / 2, k + 1, m - k), 1.0)
    lower = np.where(m > 0, lower, np.nan)
    upper = np.where(m > 0, upper, np.nan)
    return _as_float(lower), _as_float(upper)


def logit_ci(
    successes: npt.ArrayLike, n: npt.ArrayLike, total_records: int, alpha: float = ALPHA
) -> tuple[FloatArray, FloatArray]:
    """WHO anthro's prevalence interval for a design without clusters, strata or weights.

    ``total_records`` is ``N``, the number of records in the whole analysed data set; the
    variance of a subgroup (domain) proportion carries the factor ``N/(N-1)`` and the t
    quantile uses ``N - 1`` degrees of freedom, exactly as ``survey::svyciprop`` does for
    ``svydesign(ids = ~1)`` and as anthro's ``logit_rate_estimate`` approximates.
    """
    k = _as_float(successes)
    m = _as_float(n)
    big_n = float(total_records)
    if big_n < 2:
        nan = np.full(np.shape(m), np.nan)
        return nan, nan.copy()
    t = float(stats.t.ppf(1 - alpha / 2, df=big_n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        interior = (p > 0) & (p < 1)
        logit = np.log(p / (1 - p))
        se_logit = np.sqrt(big_n / (big_n - 1) / (m * p * (1 - p)))
        lower = np.where(interior, 1 / (1 + np.exp(-(logit - t * se_logit))), p)
        upper = np.where(interior, 1 / (1 + np.exp(-(logit + t * se_logit))), p)
    lower = np.where(m > 0, lower, np.nan)
    upper = np.where(m > 0, upper, np.nan)
    return _as_float(lower), _as_float(upper)


def proportion_se(successes: npt.ArrayLike, n: npt.ArrayLike, total_records: int) -> FloatArray:
    """Design-based standard error of a domain proportion, as anthro's ``sample_se``.

    ``sqrt(N/(N-1)) * sqrt(p (1-p) / n)``: the linearised variance of a domain mean in a
    with-replacement design of ``N`` single-record PSUs.
    """
    k = _as_float(successes)
    m = _as_float(n)
    big_n = float(total_records)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        # one record in all (a small area's quarter): no design variance, and no 1/0 in
        # Python floats (which raises rather than giving inf)
        factor = big_n / (big_n - 1) if big_n > 1 else np.nan
        se = np.sqrt(factor) * np.sqrt(p * (1 - p) / m)
    return _as_float(np.where((m > 0) & (big_n > 1), se, np.nan))


def proportion_ci(
    successes: npt.ArrayLike,
    n: npt.ArrayLike,
    method: CiMethod = CiMethod.WILSON,
    *,
    total_records: int | None = None,
    alpha: float = ALPHA,
) -> tuple[FloatArray, FloatArray]:
    """Dispatch to one of the interval methods; ``LOGIT`` needs ``total_records``."""
    if method is CiMethod.WILSON:
        return wilson_ci(successes, n, alpha)
    if method is CiMethod.CLOPPER_PEARSON:
        return clopper_pearson_ci(successes, n, alpha)
    if total_records is None:
        raise ReportInputError(
            "the logit interval needs total_records (N of the analysed data set)"
        )
    return logit_ci(successes, n, total_records, alpha)
