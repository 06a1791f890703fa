"""Invariants of the LMS maths and of the public array functions (Hypothesis).

z -> measurement -> z round trips, z is strictly increasing in the measurement, and WHO's
restricted z-score is continuous at ±3 SD (it joins the plain LMS z there).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import growth_standards as gs
from growth_standards import lms
from growth_standards.indicators import SPECS, Indicator, XAxis

zs = st.floats(min_value=-8.0, max_value=8.0, allow_nan=False)
sexes = st.sampled_from([gs.Sex.MALE, gs.Sex.FEMALE])
indicators = st.sampled_from(list(Indicator))


def x_for(indicator: Indicator, fraction: float) -> float:
    """A point inside the indicator's reference range (age in days, or cm)."""
    info = SPECS[indicator]
    if info.x_axis is XAxis.AGE:
        high = info.who2007_months_below * 30.4375 - 1 if info.who2007_table else info.x_max
        return info.x_min + fraction * (high - info.x_min)
    return info.x_min + fraction * (info.x_max - info.x_min)


@settings(max_examples=300, deadline=None)
@given(indicator=indicators, sex=sexes, fraction=st.floats(0, 1), z=zs)
def test_value_at_z_then_zscore_round_trips(indicator, sex, fraction, z) -> None:
    x = x_for(indicator, fraction)
    value = gs.value_at_z(indicator, sex, x, z)
    # far below the mean no positive measurement has that z: value_at_z says NaN
    assert z < -4.5 or not np.isnan(value)
    assume(not np.isnan(value))
    assert value > 0
    assert gs.zscore(indicator, sex, x, value) == pytest.approx(z, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(indicator=indicators, sex=sexes, fraction=st.floats(0, 1), z1=zs, z2=zs)
def test_zscore_is_strictly_increasing_in_the_measurement(indicator, sex, fraction, z1, z2):
    x = x_for(indicator, fraction)
    low, high = sorted((z1, z2))
    if high - low < 1e-6:
        return
    values = gs.value_at_z(indicator, sex, x, np.array([low, high]))
    assert low < -4.5 or not np.isnan(values).any()
    assume(not np.isnan(values).any())
    assert values[0] < values[1]
    z = gs.zscore(indicator, sex, x, values)
    assert z[0] < z[1]


@settings(max_examples=200, deadline=None)
@given(
    l=st.floats(-2.5, 2.5).filter(lambda v: abs(v) > 1e-3),
    m=st.floats(1.0, 200.0),
    s=st.floats(0.02, 0.25),
    sign=st.sampled_from([1.0, -1.0]),
)
def test_restricted_z_is_continuous_at_three_sd(l, m, s, sign) -> None:
    at3 = lms.sd_value(3.0 * sign, l, m, s)
    if not np.isfinite(at3) or at3 <= 0:
        return
    step = 1e-7 * at3
    below, above = at3 - step, at3 + step
    restricted = lms.zscore_restricted([below, at3, above], l, m, s)
    assert restricted[1] == pytest.approx(3.0 * sign, abs=1e-9)
    assert abs(restricted[2] - restricted[0]) < 1e-4
    assert restricted[0] < restricted[1] < restricted[2]


@settings(max_examples=200, deadline=None)
@given(
    l=st.floats(-2.5, 2.5).filter(lambda v: abs(v) > 1e-3),
    m=st.floats(1.0, 200.0),
    s=st.floats(0.02, 0.25),
    z=zs,
)
def test_value_at_z_inverts_restricted_zscore(l, m, s, z) -> None:
    value = lms.value_at_z(z, l, m, s, restricted=True)
    if not np.isfinite(value) or value <= 0:
        return
    assert lms.zscore_restricted(value, l, m, s) == pytest.approx(z, abs=1e-7)


def test_restricted_z_uses_the_sd2_to_sd3_distance_beyond_three() -> None:
    # WHO 2006 methods report, chapter 7: beyond +3, z = 3 + (y - SD3pos) / SD23pos.
    l, m, s = -0.3521, 2.441, 0.09182  # weight-for-length, boys, 45 cm
    sd2, sd3 = lms.sd_value([2.0, 3.0], l, m, s)
    y = sd3 + 0.5 * (sd3 - sd2)
    assert lms.zscore_restricted(y, l, m, s) == pytest.approx(3.5, abs=1e-12)
    assert lms.zscore(y, l, m, s) != pytest.approx(3.5, abs=1e-3)
    sd2n, sd3n = lms.sd_value([-2.0, -3.0], l, m, s)
    y = sd3n - 2.0 * (sd2n - sd3n)
    assert lms.zscore_restricted(y, l, m, s) == pytest.approx(-5.0, abs=1e-12)


def test_centile_and_its_inverse() -> None:
    assert lms.centile([0.0, -1.880793608151251, 1.880793608151251]) == pytest.approx(
        [50.0, 3.0, 97.0]
    )
    assert lms.z_at_centile([3, 50, 97]) == pytest.approx([-1.8807936, 0.0, 1.8807936])
