"""The pairing of growth measurements per encounter on integer keys equals the pandas pivot it
replaced (kept here as the reference), on arbitrary measurement sets: repeated measurements in
one encounter (the last recorded counts per field), lengths and heights mixed, several dates in
one encounter (the earliest kept counts), one encounter referenced by several children."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from healthbridge import terminology as t
from healthbridge.district.frames import GROWTH_CODES as _GROWTH_CODES
from healthbridge.district.frames import by_id as _by_id
from healthbridge.district.pairing import pair as _pair


def _recorded_order(observations: pd.DataFrame) -> pd.DataFrame:
    """The wave-4 order of the measurements before pairing: recorded, then id."""
    return observations.sort_values(["recorded", "res_id"], kind="stable", na_position="first")


def reference_pair(observations: pd.DataFrame) -> pd.DataFrame:
    """The wave-4 implementation (a pivot on the string keys, ``observations`` in
    :func:`_recorded_order`)."""
    columns = ["child_id", "encounter", "date", "weight_kg", "lenhei_cm", "measure", "headc_cm"]
    if observations.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    obs = observations.assign(
        field=observations["code"].map(_GROWTH_CODES),
        measure=observations["code"].map({t.LOINC_BODY_LENGTH: "l", t.LOINC_BODY_HEIGHT: "h"}),
    )
    keys = ["child_id", "encounter"]
    obs = obs.drop_duplicates(subset=[*keys, "field"], keep="last")
    wide = obs.pivot(index=keys, columns="field", values="value")
    dates = obs.sort_values("date", kind="stable").drop_duplicates(keys).set_index(keys)["date"]
    measure = obs.dropna(subset=["measure"]).drop_duplicates(keys, keep="last")
    out = wide.join(dates).join(measure.set_index(keys)["measure"]).reset_index()
    for col in columns:
        if col not in out.columns:
            out[col] = np.nan
    return out[columns]


CODES = list(_GROWTH_CODES)
row = st.tuples(
    st.sampled_from(["child-a", "child-b", "child-c", "孩子-1", "child-a1"]),
    st.sampled_from(["enc-1", "enc-2", "enc-10", "child-a@2026-01-02", "enc-ä"]),
    st.sampled_from(["2026-01-02", "2026-01-01", "2025-12-31", "2026-02-28"]),
    st.sampled_from(CODES),
    st.floats(min_value=0.5, max_value=150, allow_nan=False),
    st.sampled_from(["2026-01-02T08:00:00.000+08:00", "2026-01-02T08:00:00.001+08:00", ""]),
)


def _frame(rows: list[tuple[str, str, str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "res_id": pd.Series([f"obs-{k:03d}" for k in range(len(rows))], dtype=object),
            "recorded": pd.Series([r[5] for r in rows], dtype=object),
            "child_id": pd.Series([r[0] for r in rows], dtype=object),
            "encounter": pd.Series([r[1] for r in rows], dtype=object),
            "date": pd.Series([r[2] for r in rows], dtype=object),
            "code": pd.Series([r[3] for r in rows], dtype=object),
            "value": np.array([r[4] for r in rows], dtype="float64"),
        }
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(row, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_pair_equals_the_pivot(rows: list[tuple[str, str, str, str, float, str]], rng: Any) -> None:
    """In any input order (the new pairing orders repeated measurements itself)."""
    frame = _frame(rows)
    shuffled = frame.take(rng.sample(range(len(frame)), len(frame))).reset_index(drop=True)
    want = reference_pair(_recorded_order(frame))
    pd.testing.assert_frame_equal(_pair(shuffled), want, check_exact=True)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["b", "a", "ä", "a1", "孩子", "A"]), max_size=30),
    st.randoms(use_true_random=False),
)
def test_by_id_is_a_stable_sort(keys: list[str], rng: Any) -> None:
    frame = pd.DataFrame(
        {"child_id": pd.Series(keys, dtype=object), "n": np.arange(len(keys), dtype=np.int64)}
    )
    if rng.random() < 0.5:
        frame = frame.sort_values("child_id", kind="stable")
    want = frame.sort_values("child_id", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(_by_id(frame, "child_id"), want, check_exact=True)


def test_pair_of_nothing() -> None:
    empty = _frame([]).iloc[:0]
    pd.testing.assert_frame_equal(_pair(empty), reference_pair(empty), check_exact=True)


def test_the_last_recorded_counts() -> None:
    rows = [
        ("c", "e", "2026-01-02", t.LOINC_BODY_LENGTH, 80.0, "2026-01-02T08:00:00.000+08:00"),
        ("c", "e", "2026-01-01", t.LOINC_BODY_HEIGHT, 81.0, "2026-01-02T08:00:00.001+08:00"),
        ("c", "e", "2026-01-03", t.LOINC_BODY_WEIGHT, 11.0, "2026-01-02T08:00:00.000+08:00"),
    ]
    got = _pair(_frame(rows))
    assert got[["lenhei_cm", "measure", "weight_kg", "date"]].values.tolist() == [
        [81.0, "h", 11.0, "2026-01-01"]
    ]
