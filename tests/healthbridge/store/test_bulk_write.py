"""The write path's bulk machinery against its references (both backends where a database is
involved): per-structure extraction with value memos, the inline shape, tuple-queued inserts,
multi-row ``INSERT``\\ s, write-behind, version stamps and ids."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, text

from healthbridge.fhir import searchparams
from healthbridge.fhir.r4 import shape
from healthbridge.fhir.searchparams import extract, extract_interpreted
from healthbridge.fhir.values import format_instant, index_instant, instant_now
from healthbridge.store import runtime, sqlite, write_behind
from healthbridge.store.hooks import RequestContext
from healthbridge.store.ids import new_id
from healthbridge.store.inserts import insert_statements
from healthbridge.store.repository import Repository
from healthbridge.store.stored import stamps

SYSTEM = RequestContext(principal="test", roles=frozenset({"system"}))


def _observation(i: int) -> dict[str, Any]:
    """Observations of one structure whose values repeat (codes, subjects, days) or not."""
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:x", "value": f"obs-{i}"}],
        "status": "final" if i % 5 else "amended",
        "code": {"coding": [{"system": "http://loinc.org", "code": f"2946{i % 3}-7"}]},
        "subject": {"reference": f"Patient/p{i % 4}" if i % 7 else f"Group/g{i % 2}"},
        "encounter": {"reference": f"Encounter/e{i}"},
        "effectiveDateTime": f"2026-0{1 + i % 9}-1{i % 10}",
        "valueQuantity": {"value": 3.5 + i, "unit": "kg", "system": "http://u", "code": "kg"},
    }


def test_extraction_with_memos_equals_the_interpreter_across_many_resources() -> None:
    searchparams._BY_SHAPE.clear()
    for i in range(400):  # past the memo trial: the identifier's slot stops remembering
        resource = _observation(i)
        assert extract(resource) == extract_interpreted(resource), i
    located = next(iter(searchparams._BY_SHAPE.values()))
    slots = [s for _step, found in located if found for s in found]
    assert any(s.memo is None for s in slots)  # unique values: memo dropped
    assert any(s.memo and s.hits for s in slots)  # repeated values: served from the memo
    assert all(s.memo is None for s in slots if s.path == ("valueQuantity",))  # floats


def test_memo_rows_are_copies() -> None:
    searchparams._BY_SHAPE.clear()
    first = extract(_observation(1))
    first.token[0]["code"] = "changed by a caller"
    assert extract(_observation(1)) == extract_interpreted(_observation(1))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "resourceType", "c"]), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["x", "y", "resourceType", "z"]), _JSON, max_size=4))
def test_the_inline_shape_equals_r4_shape(value: dict[str, Any]) -> None:
    leaves_a: list[Any] = []
    leaves_b: list[Any] = []
    assert searchparams._shape(value, leaves_a) == shape(value, leaves_b)
    assert leaves_a == leaves_b


def test_the_shape_spans_cover_each_nodes_leaves() -> None:
    resource = _observation(3)
    leaves: list[Any] = []
    searchparams._shape(resource, leaves)
    spans: dict[tuple[Any, ...], tuple[int, int]] = {}
    searchparams._leaf_spans(resource, (), spans, 0)
    assert spans[()] == (0, len(leaves))
    start, stop = spans[("subject",)]
    assert leaves[start:stop] == ["Patient/p3"]
    start, stop = spans[("code", "coding", 0)]
    assert leaves[start:stop] == ["http://loinc.org", "29460-7"]


def test_stamps_and_ids_match_their_references() -> None:
    for _ in range(200):
        now = instant_now()
        assert stamps(now) == (format_instant(now), index_instant(now))
        value = new_id()
        assert str(uuid.UUID(value)) == value
        assert uuid.UUID(value).version == 7


@pytest.mark.parametrize("rows", [1, 5, 400, 1000])
def test_sqlite_statements_insert_every_row_in_order(rows: int, tmp_path: Path) -> None:
    import sqlite3

    columns = ("res_type", "res_id", "param", "system", "code")
    values = [("Observation", f"id{i:05d}", "code", None, str(i)) for i in range(rows)]
    for max_params in (0, 700):
        path = tmp_path / f"t{max_params}.sqlite3"
        conn = sqlite3.connect(path)
        conn.execute(
            'CREATE TABLE idx_token (pk INTEGER PRIMARY KEY, res_type, res_id, param, "system", '
            "code)"
        )
        for statement, params, many in insert_statements(
            "sqlite", [("idx_token", columns, values)], max_params
        ):
            (conn.executemany if many else conn.execute)(statement, params)
        got = conn.execute(
            'SELECT res_type, res_id, param, "system", code FROM idx_token ORDER BY pk'
        ).fetchall()
        conn.close()
        assert got == values


def _create_many(repo: Repository, count: int, *, behind: bool) -> list[str]:
    ids = []
    with repo.transaction(SYSTEM) as txn:
        before = txn.search_params("Observation", [("_summary", "count")]).total or 0
        block = txn.write_behind() if behind else txn.as_server()
        with block:
            for i in range(count):
                resource = copy.deepcopy(_observation(i))
                stored = txn.create(resource, prepared=extract(resource), trusted=True).stored
                ids.append(stored.id)
                if i == count // 2:  # a read in the middle sees everything written so far
                    found = txn.search_params("Observation", [("_summary", "count")])
                    assert found.total == before + i + 1
    return ids


def test_write_behind_stores_what_a_plain_transaction_stores(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_behind, "WRITE_BEHIND_ROWS", 50)
    monkeypatch.setattr(write_behind, "SQLITE_BEHIND_PARAMS", 300)  # rows kept back too
    plain = _create_many(repository, 120, behind=False)
    behind = _create_many(repository, 120, behind=True)
    with repository.engine.connect() as conn:

        def rows(ids: list[str]) -> list[Any]:
            out = []
            for table in ("idx_token", "idx_reference", "idx_date", "idx_quantity", "rule_input"):
                statement = text(f"SELECT * FROM {table} WHERE res_id IN :ids")
                found = conn.execute(
                    statement.bindparams(bindparam("ids", expanding=True)), {"ids": ids}
                ).mappings()
                position = {rid: n for n, rid in enumerate(ids)}
                for row in found:
                    item = {k: v for k, v in row.items() if k != "written"}
                    item["res_id"] = position[item["res_id"]]
                    if table == "rule_input" and item.get("encounter_id"):
                        item["encounter_id"] = str(item["encounter_id"])
                    out.append(json.dumps([table, item], sort_keys=True, default=str))
            return sorted(out)

        assert rows(plain) == rows(behind)
        assert len(rows(plain)) > 120 * 5


def test_row_keys_cover_every_index_kind_in_order() -> None:
    assert tuple(searchparams.ROW_KEYS) == searchparams.INDEXED_TYPES
    rows = extract_interpreted(_observation(2))
    for kind, found in rows.tables():
        for row in found:
            assert tuple(row) == ("param", *searchparams.ROW_KEYS[kind])


def test_a_bulk_write_empties_the_wal_after_the_response(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the runtime runs, the checkpointer thread empties the WAL a bulk write left
    (not the writer, whose response does not wait)."""
    wal = sqlite.wal_path(repository.engine)
    if wal is None:
        pytest.skip("SQLite file databases only")
    monkeypatch.setattr(write_behind, "WRITE_BEHIND_ROWS", 50)
    monkeypatch.setattr(sqlite, "WAL_LIMIT_BYTES", 1024)
    started = runtime.start(repository.engine, role="batch")
    try:
        assert started.sqlite is not None
        _create_many(repository, 60, behind=True)
        assert started.wait_idle(timeout=60)
        assert started.sqlite.restarts == 1  # by the thread: the writer left it
        assert wal.stat().st_size == 0  # emptied (TRUNCATE)
    finally:
        started.stop()
    with repository.transaction(SYSTEM, write=False) as txn:
        assert txn.search_params("Observation", [("_summary", "count")]).total == 60


def test_without_the_runtime_a_bulk_write_empties_the_wal_itself(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = sqlite.wal_path(repository.engine)
    if wal is None:
        pytest.skip("SQLite file databases only")
    monkeypatch.setattr(write_behind, "WRITE_BEHIND_ROWS", 50)
    monkeypatch.setattr(sqlite, "WAL_LIMIT_BYTES", 1024)
    _create_many(repository, 60, behind=True)
    assert wal.stat().st_size == 0  # in the transaction's own call: no thread runs
