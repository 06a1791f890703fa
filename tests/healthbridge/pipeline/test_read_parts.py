"""A district read in parts (children in id ranges, each part in its own process) is the
whole read: the same frames in the same order with the same dtypes, the same children,
alerts and counts, and so the same findings. The parts are compared with the read in one
piece on both backends (in one process: the range scans), and the forked read on the SQLite
file (``read_district(workers=…)``; PostgreSQL reads in one piece)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.clinical.evaluate import evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import DistrictData
from healthbridge.pipeline import batch, parse_ruleset_key
from healthbridge.pipeline import dbframes as dbf
from healthbridge.pipeline.batch import read_district
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import RULESET, child, measurement, put, today
from tests.healthbridge.pipeline.test_batch import load_demo
from tests.healthbridge.pipeline.test_dbframes import _edge_cases, assert_same_frames
from tests.healthbridge.pipeline.test_rule_inputs import _more_edge_cases

FRAMES = ("children", "growth", "checkups", "doses", "daily_checks", "haemoglobin")
FRAMES += ("screenings", "enrolments")


def _by_ids(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["child_id", "res_id"]
    return frame.sort_values(columns).reset_index(drop=True)


def assert_same_part(new: Any, whole: Any, *, ordered: bool) -> None:
    """Everything a read gives is the same (``ordered``: row for row, dtypes included)."""
    if ordered:
        for name in FRAMES:
            pd.testing.assert_frame_equal(
                getattr(new.data, name), getattr(whole.data, name), obj=name
            )
        assert list(new.patients) == list(whole.patients)
    else:
        assert_same_frames(new.data, whole.data)
    assert new.patients == whole.patients
    assert dict(new.flags) == dict(whole.flags)
    assert new.tasks == whole.tasks
    assert new.n_observations == whole.n_observations
    pd.testing.assert_frame_equal(_by_ids(new.encounters), _by_ids(whole.encounters))
    pd.testing.assert_frame_equal(_by_ids(new.evidence), _by_ids(whole.evidence))


def _findings(data: DistrictData) -> list[Any]:
    return frame_to_findings(evaluate_district(data, parse_ruleset_key(RULESET), today()))


@pytest.fixture
def district(pclient: TestClient) -> None:
    """The demo district with its alerts (Flags and review Tasks written by the pipeline)
    and the extraction edge cases."""
    load_demo(pclient, 24)
    _edge_cases(pclient)
    _more_edge_cases(pclient)


@pytest.mark.usefixtures("district")
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_parts_in_one_process_are_the_whole(repository: Repository, parts: int) -> None:
    sqlite = repository.engine.dialect.name == "sqlite"
    with repository.engine.connect() as conn:
        whole = batch._table_part(conn, batch._ALL)
        bounds = batch._split(conn, parts)
        pieces = [batch._table_part(conn, b) for b in bounds]
    assert len(bounds) == parts
    assert bounds[0][0] is None
    assert bounds[-1][1] is None
    assert all(bounds[k][1] == bounds[k + 1][0] for k in range(parts - 1))
    assert sum(len(p.patients) for p in pieces) == len(whole.patients)
    assert sum(1 for p in pieces if p.flags) > 1  # the alerts are spread over the parts
    assert len(whole.tasks) > 10
    merged = batch._merge(pieces)
    assert_same_part(merged, whole, ordered=sqlite)
    assert _findings(merged.data) == _findings(whole.data)


@pytest.mark.usefixtures("district")
def test_a_forked_read_is_the_whole_read(repository: Repository) -> None:
    whole = read_district(repository, source="table")
    forked = read_district(repository, source="table", workers=2)
    assert forked.source == "table"
    assert forked.managers == whole.managers
    assert_same_part(forked, whole, ordered=True)
    assert _findings(forked.data) == _findings(whole.data)
    documents = read_district(repository, source="documents", workers=2)
    assert_same_frames(forked.data, documents.data)


def test_one_child_in_many_parts(pclient: TestClient, repository: Repository) -> None:
    put(pclient, child("one-1", dt.date(2025, 1, 2)))
    put(pclient, measurement("one-wt", "one-1", t.LOINC_BODY_WEIGHT, 9.0, today()))
    with repository.engine.connect() as conn:
        bounds = batch._split(conn, 3)
        whole = batch._table_part(conn, batch._ALL)
        merged = batch._merge([batch._table_part(conn, b) for b in bounds])
    assert len(bounds) == 1  # one Patient: no cut
    assert_same_part(merged, whole, ordered=True)


def test_concatenated_columns_are_typed_as_one_frame() -> None:
    rows = [("a", None, "x"), ("b", 33.5, None)]
    whole = pd.DataFrame(rows, columns=["id", "weeks", "centre"])
    parts = [pd.DataFrame([r], columns=["id", "weeks", "centre"]) for r in rows]
    assert parts[0]["weeks"].dtype == object  # all missing in the first part
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in whole.columns})
    merged = batch._concat([empty, *parts, empty])
    pd.testing.assert_frame_equal(merged, whole)
    assert batch._concat([empty, empty]) is empty


def test_fields_path_range_partitions_the_rows(pclient: TestClient, repository: Repository) -> None:
    load_demo(pclient, 6)
    paths = {"subject": "$.subject.reference", "status": "$.status"}
    with repository.engine.connect() as conn:
        whole = dbf.fields(conn, "Flag", paths)
        subjects = sorted(str(s) for s in whole["subject"])
        cut = subjects[len(subjects) // 2]
        low = dbf.fields(conn, "Flag", paths, path_range=("$.subject.reference", None, cut))
        high = dbf.fields(conn, "Flag", paths, path_range=("$.subject.reference", cut, None))
        none = dbf.fields(conn, "Flag", paths, path_range=("$.subject.reference", cut, cut))
    assert len(whole) > 4
    assert len(low)
    assert len(high)
    assert none.empty
    assert all(str(s) < cut for s in low["subject"])
    assert all(str(s) >= cut for s in high["subject"])
    assert sorted(pd.concat([low, high])["res_id"]) == sorted(whole["res_id"])
