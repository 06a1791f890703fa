"""Interval properties, and agreement with scipy's reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from healthbridge.reports.ci import (
    CiMethod,
    clopper_pearson_ci,
    logit_ci,
    proportion_ci,
    wilson_ci,
)
from healthbridge.reports.errors import ReportInputError

counts = st.integers(min_value=1, max_value=5000).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 10), (3, 10), (10, 10), (57, 1000), (999, 1000)])
@pytest.mark.parametrize("method", ["wilson", "exact"])
def test_matches_scipy_binomtest(k: int, n: int, method: str) -> None:
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method=method)
    fn = wilson_ci if method == "wilson" else clopper_pearson_ci
    lo, hi = fn(k, n)
    assert float(lo) == pytest.approx(ref.low, abs=1e-12)
    assert float(hi) == pytest.approx(ref.high, abs=1e-12)


@given(counts)
@pytest.mark.parametrize("method", list(CiMethod))
def test_interval_contains_estimate_and_stays_in_unit_range(
    method: CiMethod, kn: tuple[int, int]
) -> None:
    k, n = kn
    lo, hi = proportion_ci(k, n, method, total_records=max(n, 2))
    p = k / n
    assert 0.0 <= float(lo) <= p + 1e-12
    assert p - 1e-12 <= float(hi) <= 1.0


@pytest.mark.parametrize("method", list(CiMethod))
def test_width_shrinks_with_n(method: CiMethod) -> None:
    widths = []
    for n in (10, 100, 1000, 10000):
        lo, hi = proportion_ci(n * 3 // 10, n, method, total_records=n)
        widths.append(float(hi - lo))
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < widths[0] / 10


def test_wilson_and_exact_do_not_collapse_at_zero_and_full() -> None:
    for fn in (wilson_ci, clopper_pearson_ci):
        lo0, hi0 = fn(0, 20)
        lo1, hi1 = fn(20, 20)
        assert float(lo0) == 0.0
        assert float(hi0) > 0.05
        assert float(hi1) == 1.0
        assert float(lo1) < 0.95


def test_logit_collapses_at_zero_and_full_as_who_does() -> None:
    lo, hi = logit_ci(np.array([0, 20]), np.array([20, 20]), 40)
    assert list(lo) == [0.0, 1.0]
    assert list(hi) == [0.0, 1.0]


def test_empty_groups_give_nan() -> None:
    for method in CiMethod:
        lo, hi = proportion_ci(np.array([0]), np.array([0]), method, total_records=10)
        assert np.isnan(lo).all()
        assert np.isnan(hi).all()


def test_logit_needs_total_records() -> None:
    with pytest.raises(ReportInputError):
        proportion_ci(1, 2, CiMethod.LOGIT)


def test_proportion_se_of_a_single_record_is_missing_not_an_error() -> None:
    """One child in all (a small area's quarter): no standard error, and no ZeroDivisionError
    (the area trend hit it)."""
    from healthbridge.reports.ci import proportion_se

    assert np.isnan(proportion_se([1], [1], 1)).all()
    assert np.isnan(proportion_se([0], [0], 0)).all()
