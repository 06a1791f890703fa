"""Reference curves as data and the array functions behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import growth_standards as gs
from growth_standards.errors import InvalidArgumentError


def test_centile_curves_on_the_table_grid() -> None:
    curves = gs.centile_curves("wfa", gs.Sex.MALE)
    assert list(curves.columns) == ["age_days", "P3", "P15", "P50", "P85", "P97"]
    assert curves.age_days.iloc[0] == 0
    assert curves.age_days.is_monotonic_increasing
    # WHO weight-for-age boys at birth: median 3.3464 kg; P3 2.5 kg (WHO percentile tables)
    assert curves.P50.iloc[0] == 3.3464
    assert curves.P3.iloc[0] == pytest.approx(2.5, abs=0.01)
    # the grid continues with the 2007 reference (monthly, to 120 months for weight)
    assert curves.age_days.iloc[-1] == pytest.approx(120 * 30.4375)
    assert curves.notna().all().all()
    values = curves[["P3", "P15", "P50", "P85", "P97"]].to_numpy()
    assert (np.diff(values, axis=1) > 0).all()


def test_z_curves_named_like_who_tables() -> None:
    curves = gs.z_curves("wfl", "f")
    assert list(curves.columns) == [
        "length_cm",
        "SD3neg",
        "SD2neg",
        "SD1neg",
        "SD0",
        "SD1",
        "SD2",
        "SD3",
    ]
    assert curves.length_cm.iloc[0] == 45.0
    assert curves.length_cm.iloc[-1] == 110.0
    # WHO weight-for-length girls at 45 cm: median 2.4607 kg
    assert curves.SD0.iloc[0] == pytest.approx(2.4607, abs=1e-12)


def test_curves_at_given_x_and_fractional_z() -> None:
    curves = gs.z_curves("hcfa", 2, zs=(-1.5, 2.5), x=[0, 365, 2000])
    assert list(curves.columns) == ["age_days", "SD1.5neg", "SD2.5"]
    assert np.isnan(curves.iloc[2, 1])  # no head circumference reference after 60 months


def test_array_functions_broadcast_and_validate() -> None:
    ages = np.array([[100, 200], [300, 400]])
    values = gs.value_at_z("lhfa", [1, 2], ages, 0.0)
    assert values.shape == (2, 2)
    assert gs.zscore("lhfa", [1, 2], ages, values) == pytest.approx(np.zeros((2, 2)), abs=1e-12)
    with pytest.raises(InvalidArgumentError):
        gs.zscore("weight", 1, 100, 5.0)
    with pytest.raises(InvalidArgumentError):
        gs.zscore("wfa", 3, 100, 5.0)
    with pytest.raises(InvalidArgumentError):
        gs.zscore("wfa", 1, [1, 2, 3], [1.0, 2.0])
    with pytest.raises(InvalidArgumentError):
        gs.centile_curves("wfa", 1, centiles=(0, 50))


def test_zscore_matches_score() -> None:
    frame = pd.DataFrame({"sex": [1, 2], "age_days": [250, 1500], "armc_cm": [14.0, 16.5]})
    result = gs.score(frame)
    expected = gs.zscore(gs.Indicator.ACFA, frame.sex, frame.age_days, frame.armc_cm)
    np.testing.assert_array_equal(result.zac.to_numpy(), expected)


def test_spec_lookup() -> None:
    info = gs.spec("wfa")
    assert info.score_column == "zwei"
    assert info.restricted
    assert (info.flag_low, info.flag_high) == (-6.0, 5.0)
    assert gs.spec(gs.Indicator.LHFA).restricted is False
