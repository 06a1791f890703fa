"""The district read with the Observations read in a second process
(``read_district(workers=2)``) is the read in one process: the same frames row for row with
the same dtypes, the same children, alerts, encounters and evidence, and so the same
findings (both backends). The frames cross between the processes packed
(:class:`healthbridge.pipeline.batch._PackedFrame`); packing gives back the same frame."""

from __future__ import annotations

import gc
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from healthbridge.clinical.evaluate import evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import DistrictData
from healthbridge.pipeline import batch, parse_ruleset_key
from healthbridge.pipeline.batch import DistrictRead, read_district
from healthbridge.store import gc_policy
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import RULESET, today
from tests.healthbridge.pipeline.test_batch import load_demo
from tests.healthbridge.pipeline.test_dbframes import _edge_cases, assert_same_frames
from tests.healthbridge.pipeline.test_rule_inputs import _more_edge_cases


def assert_identical(new: DistrictRead, old: DistrictRead) -> None:
    """Everything a read gives is the same, in the same order, with the same dtypes."""
    for f in fields(DistrictData):
        pd.testing.assert_frame_equal(getattr(new.data, f.name), getattr(old.data, f.name))
    assert list(new.patients.items()) == list(old.patients.items())
    assert new.flags == old.flags
    assert new.tasks == old.tasks
    assert new.managers == old.managers
    assert new.n_observations == old.n_observations
    pd.testing.assert_frame_equal(new.encounters, old.encounters)
    pd.testing.assert_frame_equal(new.evidence, old.evidence)
    assert new.source == old.source


def _findings(data: DistrictData) -> tuple[Any, ...]:
    return frame_to_findings(evaluate_district(data, parse_ruleset_key(RULESET), today()))


def test_a_read_with_a_second_process_is_the_same_read(
    pclient: TestClient, repository: Repository
) -> None:
    load_demo(pclient, 12)  # with its alerts (Flags and review Tasks)
    _edge_cases(pclient)
    _more_edge_cases(pclient)
    whole = read_district(repository, source="table")
    apart = read_district(repository, source="table", workers=2)
    assert whole.source == "table"
    assert len(whole.tasks) > 5
    assert len(whole.data.growth) > 50
    assert len(whole.data.daily_checks) > 0
    assert len(whole.data.haemoglobin) > 0
    assert_identical(apart, whole)
    assert _findings(apart.data) == _findings(whole.data)
    documents = read_district(repository, source="documents", workers=2)
    assert_same_frames(apart.data, documents.data)


def test_an_empty_district_read_apart(repository: Repository) -> None:
    assert_identical(
        read_district(repository, source="table", workers=2),
        read_district(repository, source="table"),
    )


def _round_trip(frame: pd.DataFrame) -> None:
    packed = batch._pack(frame)
    pd.testing.assert_frame_equal(batch._unpack(packed), frame)


def test_packed_frames_come_back_the_same() -> None:
    objects = pd.Series(["a", None, "ccc", ""], dtype=object)
    frame = pd.DataFrame(
        {
            "ids": objects,
            "texts": pd.Series(["x", None, "z", "w"], dtype="str"),
            "mixed": pd.Series(["a", float("nan"), None, ("t",)], dtype=object),
            "tuples": pd.Series([(), ("a", "b"), (), ()], dtype=object),
            "none": pd.Series([None] * 4, dtype=object),
            "day": pd.to_datetime(pd.Series(["2026-01-01", None, "2026-01-03", "2026-01-04"])),
            "value": [1.0, np.nan, 3.0, 4.0],
            "flag": [True, False, True, False],
            "n": np.arange(4, dtype="int64"),
            "held": pd.Series(["a\x00b", "c", None, "d"], dtype=object),  # the separator
        }
    )
    assert isinstance(batch._pack(frame), batch._PackedFrame)
    _round_trip(frame)
    _round_trip(frame.iloc[:0].reset_index(drop=True))
    shifted = frame.set_index(pd.RangeIndex(5, 9))
    assert batch._pack(shifted) is shifted  # not a plain range index: as it is
    _round_trip(shifted)


@given(st.lists(st.none() | st.text()))
def test_packed_text_columns_come_back_the_same(values: list[str | None]) -> None:
    _round_trip(pd.DataFrame({"v": pd.Series(values, dtype=object)}))
    _round_trip(pd.DataFrame({"v": pd.Series(values, dtype="str")}))


@pytest.mark.parametrize("workers", [1, 2])
def test_evaluate_database_reads_with_read_workers(
    pclient: TestClient, repository: Repository, workers: int
) -> None:
    load_demo(pclient, 6)
    report = batch.evaluate_database(
        repository, parse_ruleset_key(RULESET), today(), dry_run=True, read_workers=workers
    )
    assert report.children == 6
    assert report.source == "table"
    assert sum(report.actions.values()) == 0


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
            batch._sorted(frame, columns), frame.sort_values(columns, kind="stable")
        )


def test_sorted_falls_back_with_missing_keys() -> None:
    frame = pd.DataFrame({"a": ["x", None, "a"], "b": ["3", "2", "1"]})
    pd.testing.assert_frame_equal(batch._sorted(frame, ["a", "b"]), frame.sort_values(["a", "b"]))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_state_is_restored(repository: Repository, enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    gc_policy.declare("batch")  # the CLI's process: the read pauses the collector
    try:
        read_district(repository, source="table")
        assert gc.isenabled() is enabled
        seen: list[bool] = []

        def fail() -> None:
            with gc_policy.bulk_pause():
                seen.append(gc.isenabled())
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail()
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        gc_policy.declare(None)
        (gc.enable if was else gc.disable)()
