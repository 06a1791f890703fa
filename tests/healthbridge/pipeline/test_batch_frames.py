"""The frames of the district read (:mod:`healthbridge.pipeline.batch_frames`): the
integer-coded sort orders rows as ``sort_values`` does. (That both readers give the frames the
per-resource functions give is tested in test_dbframes.py and test_rule_inputs.py.)"""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from healthbridge.pipeline import batch_frames

_IDS = st.sampled_from(["child-2", "child-10", "child-1", "c", "é", "Z"])
_DAYS = st.sampled_from(["2026-01-01", "2025-12-31", "2026-03-01"])


@given(
    st.lists(
        st.tuples(_IDS, _DAYS, st.sampled_from(["BCG", "HepB", "DTaP"]), st.text(max_size=4)),
        max_size=40,
    ),
    st.booleans(),
)
def test_sorted_orders_rows_as_sort_values(rows: list[tuple[str, ...]], text_dtype: bool) -> None:
    """The integer-coded sort gives sort_values' rows and order (ties in the leading columns
    ordered by the last one; rows equal in every column keep their order)."""
    dtype = "str" if text_dtype else object
    frame = pd.DataFrame(
        {
            "child_id": pd.Series([r[0] for r in rows], dtype=dtype),
            "date": pd.to_datetime(pd.Series([r[1] for r in rows], dtype=object)),
            "vaccine": pd.Series([r[2] for r in rows], dtype=dtype),
            "id": pd.Series([r[3] for r in rows], dtype=dtype),
        },
        index=pd.RangeIndex(len(rows))[::-1],
    )
    for columns in (["child_id", "date", "vaccine", "id"], ["child_id", "id"], ["id"]):
        pd.testing.assert_frame_equal(
            batch_frames.sorted_rows(frame, columns), frame.sort_values(columns, kind="stable")
        )


def test_sorted_falls_back_with_missing_keys() -> None:
    frame = pd.DataFrame({"a": ["x", None, "a"], "b": ["3", "2", "1"]})
    pd.testing.assert_frame_equal(
        batch_frames.sorted_rows(frame, ["a", "b"]), frame.sort_values(["a", "b"])
    )
