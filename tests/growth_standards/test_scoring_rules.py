"""Every WHO rule at its boundary (anthro ``R/z-score*.R``, anthroplus ``R/zscores.R``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import growth_standards as gs
from growth_standards.errors import InvalidFrameError, MissingColumnsError
from growth_standards.scoring import OUTPUT_COLUMNS

MONTH = 30.4375


def scored(**columns: object) -> pd.DataFrame:
    lengths = [len(v) for v in columns.values() if isinstance(v, list)]
    n = max(lengths, default=1)
    frame = pd.DataFrame({k: v if isinstance(v, list) else [v] * n for k, v in columns.items()})
    return gs.score(frame)


# --- age in days rounded before look-up; length/height adjustment around 731 days ---------


@pytest.mark.parametrize(
    ("age", "measure", "expected"),
    [
        (730, "h", 80.7),  # standing before 731 days: +0.7 cm
        (730.49, "h", 80.7),  # rounds to 730
        (730.5, "h", 80.0),  # rounds (half up) to 731: height expected, no change
        (731, "h", 80.0),
        (730, "l", 80.0),
        (731, "l", 79.3),  # recumbent from 731 days: -0.7 cm
        (731, None, 80.0),  # no measure: no adjustment
    ],
)
def test_lenhei_adjustment_at_731_days(age: float, measure: str | None, expected: float) -> None:
    row = scored(sex=1, age_days=age, lenhei_cm=80.0, measure=measure).iloc[0]
    assert row.clenhei == pytest.approx(expected, abs=1e-12)


def test_length_table_before_731_days_height_table_from_731() -> None:
    rows = scored(sex=2, age_days=[730, 731], lenhei_cm=85.0, measure="h")
    # 730: 85 + 0.7 against the length reference at day 730; 731: 85 against height, day 731
    assert rows.zlen[0] == pytest.approx(gs.zscore("lhfa", 2, 730, 85.7), abs=1e-12)
    assert rows.zlen[1] == pytest.approx(gs.zscore("lhfa", 2, 731, 85.0), abs=1e-12)
    assert gs.value_at_z("lhfa", 2, 731, 0.0) < gs.value_at_z("lhfa", 2, 730, 0.0)


def test_standing_height_before_nine_months_is_not_adjusted() -> None:
    nine = 9 * MONTH
    rows = scored(sex=1, age_days=[nine - 0.01, nine], lenhei_cm=68.0, measure="h")
    assert rows.c9mo_flag.tolist() == [1, 0]
    assert rows.clenhei.tolist() == pytest.approx([68.0, 68.7])
    assert rows.cmeasure.isna().tolist() == [True, False]


# --- weight-for-length vs weight-for-height; table limits after adjustment ----------------


@pytest.mark.parametrize(
    ("age", "lenhei", "measure", "table", "scored_"),
    [
        (300, 44.99, "l", "wfl", False),
        (300, 45.0, "l", "wfl", True),
        (300, 110.0, "l", "wfl", True),
        (300, 110.01, "l", "wfl", False),
        (300, 44.4, "h", "wfl", True),  # 44.4 + 0.7 = 45.1 cm is inside
        (300, 109.5, "h", "wfl", False),  # 110.2 cm after +0.7 is outside
        (800, 64.99, "h", "wfh", False),
        (800, 65.0, "h", "wfh", True),
        (800, 120.0, "h", "wfh", True),
        (800, 120.01, "h", "wfh", False),
        (800, 65.5, "l", "wfh", False),  # 64.8 cm after -0.7 is outside
        (800, 65.7, "l", "wfh", True),  # 65.0 cm after -0.7
        (800, 120.6, "l", "wfh", True),  # 119.9 cm after -0.7
    ],
)
def test_weight_for_lenhei_table_and_limits(age, lenhei, measure, table, scored_) -> None:
    row = scored(sex=1, age_days=age, weight_kg=9.0, lenhei_cm=lenhei, measure=measure).iloc[0]
    assert bool(np.isnan(row.zwfl)) is not scored_
    if scored_:
        assert row.zwfl == pytest.approx(gs.zscore(table, 1, row.clenhei, 9.0), abs=1e-12)


@pytest.mark.parametrize(
    ("lenhei", "measure", "table"),
    [
        (86.99, None, "wfl"),  # no age, no measure: length below 87 cm
        (87.0, None, "wfh"),
        (100.0, "l", "wfl"),  # no age: the measure decides
        (80.0, "h", "wfh"),
    ],
)
def test_weight_for_lenhei_without_age(lenhei: float, measure: str | None, table: str) -> None:
    row = scored(sex=2, weight_kg=11.0, lenhei_cm=lenhei, measure=measure).iloc[0]
    assert row.clenhei == lenhei  # no adjustment without an age
    assert row.zwfl == pytest.approx(gs.zscore(table, 2, lenhei, 11.0), abs=1e-12)
    assert np.isnan(row.zwei)
    assert np.isnan(row.zlen)
    assert np.isnan(row.zbmi)


def test_weight_for_length_interpolates_between_tenths() -> None:
    low = gs.value_at_z("wfl", 1, 60.1, 0.0)
    high = gs.value_at_z("wfl", 1, 60.2, 0.0)
    middle = scored(sex=1, age_days=200, lenhei_cm=60.15, weight_kg=(low + high) / 2)
    assert middle.zwfl[0] == pytest.approx(0.0, abs=2e-3)


# --- 2006 standards below 60 months, 2007 reference from 60 months ------------------------


def test_day_1826_uses_2006_and_day_1827_uses_2007() -> None:
    rows = scored(
        sex=1,
        age_days=[1826, 1827],
        weight_kg=18.0,
        lenhei_cm=110.0,
        headc_cm=50.0,
        armc_cm=16.0,
        triskin_mm=7.0,
        subskin_mm=5.0,
        measure="h",
    )
    assert rows.reference.tolist() == ["WHO2006", "WHO2007"]
    first, second = rows.iloc[0], rows.iloc[1]
    for column in ("zwei", "zlen", "zbmi", "zwfl", "zhc", "zac", "zts", "zss"):
        assert not np.isnan(first[column]), column
    for column in ("zwei", "zlen", "zbmi"):
        assert not np.isnan(second[column]), column
    for column in ("zwfl", "zhc", "zac", "zts", "zss"):
        assert np.isnan(second[column]), column


def test_2007_reference_interpolates_by_month() -> None:
    months = 61.25
    row = scored(sex=1, age_days=months * MONTH, weight_kg=19.0).iloc[0]
    from growth_standards.tables import load

    table = load("who2007_wfa")
    l, m, s = (np.interp(months, table.x, column[0]) for column in (table.l, table.m, table.s))
    assert row.zwei == pytest.approx(((19.0 / m) ** l - 1) / (l * s), abs=1e-12)


def test_exactly_60_months_is_2007() -> None:
    rows = scored(sex=2, age_days=[60 * MONTH - 1e-9, 60 * MONTH], weight_kg=18.0)
    assert rows.reference.tolist() == ["WHO2006", "WHO2007"]


@pytest.mark.parametrize(
    ("months", "wfa", "hfa"),
    [
        (120.0, True, True),
        (120.99, True, True),
        (121.0, False, True),
        (228.5, False, True),
        (229.0, False, False),
    ],
)
def test_2007_upper_age_bounds_are_exclusive(months: float, wfa: bool, hfa: bool) -> None:
    row = scored(sex=1, age_days=months * MONTH, weight_kg=30.0, lenhei_cm=140.0).iloc[0]
    assert (not np.isnan(row.zwei)) is wfa
    assert (not np.isnan(row.zlen)) is hfa
    assert (not np.isnan(row.zbmi)) is hfa


# --- arm circumference and skinfolds from 3 months (day 91) ------------------------------


@pytest.mark.parametrize(
    ("age", "expected"), [(90, False), (90.49, False), (90.5, True), (91, True)]
)
def test_arm_circumference_and_skinfolds_from_day_91(age: float, expected: bool) -> None:
    row = scored(sex=2, age_days=age, armc_cm=13.0, triskin_mm=9.0, subskin_mm=7.0).iloc[0]
    for column in ("zac", "zts", "zss"):
        assert (not np.isnan(row[column])) is expected, column


# --- oedema --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oedema", "blanked"),
    [("y", True), ("Y", True), ("1", True), ("n", False), ("2", False), (None, False)],
)
def test_oedema_blanks_weight_based_scores(oedema: str | None, blanked: bool) -> None:
    row = scored(
        sex=1, age_days=400, weight_kg=9.5, lenhei_cm=75.0, headc_cm=46.0, oedema=oedema
    ).iloc[0]
    for column in ("zwei", "zwfl", "zbmi"):
        assert bool(np.isnan(row[column])) is blanked, column
        assert bool(pd.isna(row["f" + column[1:]])) is blanked
    assert not np.isnan(row.zlen)
    assert not np.isnan(row.zhc)


def test_oedema_blanks_2007_weight_and_bmi() -> None:
    row = scored(sex=1, age_days=100 * MONTH, weight_kg=30.0, lenhei_cm=130.0, oedema="y").iloc[0]
    assert np.isnan(row.zwei)
    assert np.isnan(row.zbmi)
    assert not np.isnan(row.zlen)


# --- flags ---------------------------------------------------------------------------------


# WHO's anthro/anthroplus round z to 2 decimals and flag the rounded value (anthroplus
# R/zscores.R: ``zwfa <- round(zwfa, digits = 2L)``; ``fwfa``: ``zwfa > 5 | zwfa < -6``): a z of
# 5.004 shows as "5.00" and is not flagged, 5.006 ("5.01") is.
@pytest.mark.parametrize(
    ("indicator", "column", "z", "flag"),
    [
        ("wfa", "fwei", 4.999, 0),
        ("wfa", "fwei", 5.004, 0),
        ("wfa", "fwei", 5.006, 1),
        ("wfa", "fwei", -6.004, 0),
        ("wfa", "fwei", -6.006, 1),
        ("lhfa", "flen", 6.004, 0),
        ("lhfa", "flen", 6.006, 1),
        ("lhfa", "flen", -6.006, 1),
        ("hcfa", "fhc", 5.004, 0),
        ("hcfa", "fhc", 5.006, 1),
        ("hcfa", "fhc", -5.006, 1),
    ],
)
def test_flag_cut_offs_on_the_z_rounded_to_2_decimals(
    indicator: str, column: str, z: float, flag: int
) -> None:
    age = 500.0
    value = float(gs.value_at_z(indicator, 1, age, z))
    name = {"wfa": "weight_kg", "lhfa": "lenhei_cm", "hcfa": "headc_cm"}[indicator]
    row = scored(sex=1, age_days=age, measure="l", **{name: value}).iloc[0]
    assert row["z" + column[1:]] == pytest.approx(z, abs=1e-9)
    assert row[column] == flag


def test_2007_flags_on_the_z_rounded_to_2_decimals() -> None:
    # anthroplus: fbfa is abs(round(zbfa, 2)) > 5
    age = 80 * 30.4375
    for z, flag in ((5.004, 0), (5.006, 1)):
        bmi = float(gs.value_at_z("bfa", 2, age, z))
        row = scored(sex=2, age_days=age, weight_kg=bmi, lenhei_cm=100.0, measure="h").iloc[0]
        assert row.zbmi == pytest.approx(z, abs=1e-9)
        assert row.fbmi == flag


def test_no_length_height_conversion_from_60_months() -> None:
    # anthroplus scores height as measured; the 0.7 cm conversion is the 2006 standards'
    rows = scored(sex=1, age_days=[1826, 1827, 2500], lenhei_cm=110.0, measure="l")
    assert rows.clenhei.tolist() == [109.3, 110.0, 110.0]


def test_scores_are_not_rounded() -> None:
    row = scored(sex=2, age_days=1522, weight_kg=17).iloc[0]
    assert row.zwei != round(row.zwei, 6)
    assert row.pwei == pytest.approx(100 * 0.5 * (1 + math.erf(row.zwei / math.sqrt(2))))


# --- missing and invalid values ------------------------------------------------------------


def test_missing_measure_with_age_is_taken_as_expected_position() -> None:
    rows = scored(sex=1, age_days=[500, 900], lenhei_cm=80.0, weight_kg=10.0)
    assert rows.clenhei.tolist() == [80.0, 80.0]
    assert rows.zwfl[0] == pytest.approx(gs.zscore("wfl", 1, 80.0, 10.0), abs=1e-12)
    assert rows.zwfl[1] == pytest.approx(gs.zscore("wfh", 1, 80.0, 10.0), abs=1e-12)


def test_invalid_values_become_missing_and_are_reported() -> None:
    frame = pd.DataFrame(
        {
            "sex": ["m", "F", "x", None, "2"],
            "age_days": ["100", "-3", "100", "100", "abc"],
            "weight_kg": ["6", "6", "6", "6", "0"],
            "measure": ["l", "L", "q", None, None],
            "oedema": [None, "n", "maybe", "y", "N"],
        }
    )
    result = gs.score(frame)
    problems = gs.row_problems(frame, language="en")
    assert not np.isnan(result.zwei[0])
    assert problems[0] is None
    assert np.isnan(result.zwei[1])
    assert "age_days cannot be negative" in problems[1]
    assert np.isnan(result.zwei[2])
    assert "sex must be" in problems[2]
    assert "measure must be" in problems[2]
    assert "oedema must be" in problems[2]
    assert "sex is missing" in problems[3]
    assert "age_days is not a number" in problems[4]
    assert "weight_kg must be greater than 0" in problems[4]
    assert "性别" in gs.row_problems(frame)[2]


def test_sex_codes() -> None:
    rows = scored(sex=[1, 2, "m", "f", "M", "F"], age_days=100, weight_kg=6.0)
    assert rows.zwei[0] == rows.zwei[2] == rows.zwei[4]
    assert rows.zwei[1] == rows.zwei[3] == rows.zwei[5]
    assert rows.zwei[0] != rows.zwei[1]


def test_structural_errors_raise() -> None:
    with pytest.raises(MissingColumnsError) as caught:
        gs.score(pd.DataFrame({"age_days": [1]}))
    assert caught.value.columns == ("sex",)
    with pytest.raises(InvalidFrameError):
        gs.score([{"sex": 1}])  # type: ignore[arg-type]


def test_output_keeps_input_and_index_and_is_idempotent() -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b"], "sex": [1, 2], "age_days": [10, 20], "weight_kg": [3.5, 3.9]},
        index=[7, 3],
    )
    once = gs.score(frame)
    assert list(once.columns) == ["id", "sex", "age_days", "weight_kg", *OUTPUT_COLUMNS]
    assert list(once.index) == [7, 3]
    twice = gs.score(once)
    pd.testing.assert_frame_equal(once, twice)


def test_empty_frame() -> None:
    result = gs.score(pd.DataFrame({"sex": pd.Series([], dtype=int)}))
    assert len(result) == 0
    assert "zwei" in result.columns


# --- corrected age for preterm children ----------------------------------------------------


def test_corrected_age_for_preterm_children() -> None:
    frame = pd.DataFrame(
        {
            "sex": 1,
            "age_days": [100, 100, 100, 731 + 56, 730 + 56],
            "weight_kg": 5.0,
            "lenhei_cm": 60.0,
            "gestational_age_weeks": [32, 37, None, 32, 32],
        }
    )
    plain = gs.score(frame)
    corrected = gs.score(frame, corrected_age=True)
    assert corrected.cage_days.tolist()[:3] == [100 - 8 * 7, 100, 100]
    assert corrected.zwei[0] == pytest.approx(gs.zscore("wfa", 1, 44, 5.0), abs=1e-12)
    assert corrected.zwei[0] > plain.zwei[0]
    assert corrected.zwei[1:4].tolist() == pytest.approx(plain.zwei[1:4].tolist())
    # corrected until the corrected age reaches 24 months (731 days), as the warning signs
    assert corrected.cage_days[3] == 731 + 56
    assert corrected.cage_days[4] == 730


def test_corrected_age_before_term_has_no_age_based_reference() -> None:
    row = gs.score(
        pd.DataFrame(
            {
                "sex": [2],
                "age_days": [14],
                "weight_kg": [1.9],
                "lenhei_cm": [45.5],
                "gestational_age_weeks": [28],
            }
        ),
        corrected_age=True,
    ).iloc[0]
    assert row.cage_days == 14 - 12 * 7
    assert np.isnan(row.zwei)
    assert np.isnan(row.zlen)
    assert not np.isnan(row.zwfl)


def test_parallel_and_serial_scoring_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from growth_standards import scoring

    assert sorted(scoring._BY_COST) == sorted(scoring._SCORED)
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "sex": rng.integers(1, 3, n),
            "age_days": rng.uniform(0, 2500, n),
            "weight_kg": rng.uniform(2, 30, n),
            "lenhei_cm": rng.uniform(45, 130, n),
            "measure": rng.choice(["l", "h", None], n),
            "headc_cm": rng.uniform(30, 55, n),
            "armc_cm": rng.uniform(9, 20, n),
            "oedema": rng.choice(["n", "y", "x"], n),
        }
    )
    serial = gs.score(frame)
    monkeypatch.setattr(scoring, "PARALLEL_FROM_ROWS", 1)
    parallel = gs.score(frame)
    pd.testing.assert_frame_equal(serial, parallel)
