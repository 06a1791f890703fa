"""The rule-input table is kept by every write, migrated, and rebuilt by ``db reindex``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from healthbridge import terminology as t
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.store import rule_inputs as ri
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.reindex import rebuild_rule_inputs
from healthbridge.store.repository import Repository

Row = tuple[Any, ...]


def _table(engine: Engine) -> dict[tuple[str, str], Row]:
    with engine.connect() as conn:
        rows = conn.execute(select(ri.RULE_INPUT)).all()
    return {(r.res_type, r.res_id): tuple(r) for r in rows}


def _patient(pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "gender": "female",
        "birthDate": "2025-03-04",
        "name": [{"text": "小明"}],
        "extension": [
            {
                "url": f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age",
                "valueQuantity": {"value": 35, "system": t.UCUM, "code": "wk"},
            }
        ],
    }


def _weight(oid: str, value: float, *, status: str = "final", unit: str = "kg") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": {
            "coding": [
                {"system": "urn:local", "code": "wt"},
                {"system": t.LOINC, "code": t.LOINC_BODY_WEIGHT},
            ]
        },
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2026-03-01T23:30:00-05:00",
        "valueQuantity": {"value": value, "system": t.UCUM, "code": unit},
    }


def test_every_write_keeps_the_rows(repository: Repository) -> None:
    """Create, update, delete, create-on-update after a delete, a rolled-back transaction —
    on a repository without any hook (the table does not depend on the pipeline)."""
    engine = repository.engine
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", "p1", _patient("p1"))
        txn.update("Observation", "o1", _weight("o1", 9.5))
        txn.update("Observation", "o2", _weight("o2", 9500, unit="g"))
    rows = _table(engine)
    assert set(rows) == {("Patient", "p1"), ("Observation", "o1"), ("Observation", "o2")}
    o1 = rows[("Observation", "o1")]
    by_name = dict(zip(ri.COLUMNS, o1, strict=True))
    assert by_name["child_id"] == "p1"
    assert by_name["code"] == t.LOINC_BODY_WEIGHT
    assert by_name["day"] == "2026-03-01"  # as written, not UTC (2026-03-02)
    assert (by_name["value"], by_name["unit"], by_name["encounter_id"]) == (9.5, "kg", "e1")
    assert by_name["status"] == "final"
    assert by_name["written"]
    patient = dict(zip(ri.COLUMNS, rows[("Patient", "p1")], strict=True))
    assert json.loads(patient["extra"])["birthDate"] == "2025-03-04"
    assert "name" not in json.loads(patient["extra"])
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Observation", "o1", _weight("o1", 9.7, status="entered-in-error"))
        txn.delete("Observation", "o2")
    rows = _table(engine)
    assert ("Observation", "o2") not in rows
    voided = dict(zip(ri.COLUMNS, rows[("Observation", "o1")], strict=True))
    assert (voided["value"], voided["status"]) == (9.7, "entered-in-error")
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Observation", "o2", _weight("o2", 9.9))  # create-on-update after delete
    o2 = dict(zip(ri.COLUMNS, _table(engine)[("Observation", "o2")], strict=True))
    assert o2["value"] == 9.9
    before = _table(engine)

    def rolled_back() -> None:
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            txn.update("Observation", "o3", _weight("o3", 1.0))
            txn.delete("Observation", "o1")
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        rolled_back()
    assert _table(engine) == before


def test_derived_scores_and_other_types_get_no_row(repository: Repository) -> None:
    score = _weight("z1", 0.5)
    score["code"] = {"coding": [{"system": t.CS_GROWTH_INDICATOR, "code": "wfa"}]}
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Observation", "z1", score)
        txn.update("Organization", "org1", {"resourceType": "Organization", "id": "org1"})
    assert _table(repository.engine) == {}


def test_fresh_databases_are_current(repository: Repository) -> None:
    with repository.engine.connect() as conn:
        assert ri.is_current(conn)


def test_upgrade_then_reindex_rebuilds_the_rows(tmp_path: Path, repository: Repository) -> None:
    """A database holding resources before migration 0005 is stale (until migration 0008, or
    ``db reindex --rule-inputs`` — :func:`rebuild_rule_inputs` — fills the table with the rows
    the writes would have made)."""
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", "p1", _patient("p1"))
        for n in range(7):
            txn.update("Observation", f"o{n}", _weight(f"o{n}", 9.0 + n))
        txn.delete("Observation", "o3")
    expected = _table(repository.engine)
    assert len(expected) == 7
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0004")
    with repository.engine.connect() as src, engine.begin() as dst:
        res = src.exec_driver_sql(
            "SELECT res_type, res_id, version_id, last_updated, deleted, content FROM resource"
        ).all()
        dst.exec_driver_sql(
            "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted, content)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [tuple(r) for r in res],
        )
    upgrade(engine, "0007")  # 0008 fills the table (test_rule_input_backfill.py)
    with engine.connect() as conn:
        assert not ri.is_current(conn)
    counts = {c.resource_type: c.resources for c in rebuild_rule_inputs(engine, batch_size=3)}
    assert counts["Observation"] == 6
    assert counts["Patient"] == 1
    with engine.connect() as conn:
        assert ri.is_current(conn)
    assert _table(engine) == expected
    # idempotent, and rows of resources deleted meanwhile go away
    with engine.begin() as conn:
        conn.execute(delete(ri.RULE_INPUT).where(ri.RULE_INPUT.c.res_id == "o1"))
        conn.exec_driver_sql("UPDATE resource SET deleted = 1 WHERE res_id = 'o2'")
    list(rebuild_rule_inputs(engine))
    assert set(_table(engine)) == set(expected) - {("Observation", "o2")}
    engine.dispose()


def test_reindex_on_the_configured_database(repository: Repository) -> None:
    """Both backends: a rebuild gives back the rows the write path wrote."""
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", "p1", _patient("p1"))
        txn.update("Observation", "o1", _weight("o1", 9.0))
    expected = _table(repository.engine)
    with repository.engine.begin() as conn:
        conn.execute(delete(ri.RULE_INPUT))
    assert [c.rows for c in rebuild_rule_inputs(repository.engine)] == [1, 1, 0, 0, 0]
    assert _table(repository.engine) == expected


references = st.one_of(
    st.none(),
    st.integers(),
    st.from_regex(r"\A(https?://h/fhir/)?(Patient|Group|Encounter)?/?[a-z0-9/.-]{0,6}/?\Z"),
)


@given(references)
def test_reference_rule_matches_the_reader(ref: Any) -> None:
    assert ri.ref_id(ref, "Patient") == dbf.ref_ids([ref], "Patient")[0]
    assert ri._subject_ref({"reference": ref}) == x.ref_id({"reference": ref}, "Patient")


codings = st.lists(
    st.one_of(
        st.none(),
        st.text(max_size=2),
        st.fixed_dictionaries(
            {},
            optional={
                "system": st.sampled_from([t.LOINC, t.CS_NIP_VACCINE, "urn:x"]),
                "code": st.one_of(st.none(), st.text(max_size=3), st.integers(0, 9)),
            },
        ),
    ),
    max_size=4,
)


@given(codings)
def test_coding_rules_match_the_reader(array: list[Any]) -> None:
    for system in (t.LOINC, t.CS_NIP_VACCINE):
        assert ri.first_code(array, system) == dbf.coded([array], system)[0]
        assert ri.last_code(array, system) == dbf.coded([array], system, last=True)[0]


def test_true_answers_follow_the_screening_walk() -> None:
    items = [
        {"linkId": "a", "answer": [{"valueBoolean": True}], "item": [{"linkId": "b"}]},
        {"linkId": "g", "item": [{"linkId": "c", "answer": [{"valueBoolean": True}]}]},
        {"linkId": "d", "answer": [{"valueBoolean": False}, {"valueBoolean": True}]},
        {"linkId": "e", "answer": [{"valueString": "true"}]},
    ]
    walked = [link for link, value in x._answers(items) if value is True]
    assert ri.true_answers(items) == walked == ["a", "c", "d"]


def test_dates_are_kept_as_written() -> None:
    obs = _weight("o", 1.0)
    obs["effectiveDateTime"] = ""
    obs["effectivePeriod"] = {"start": "2026-01-31T23:59:59+08:00"}
    (row,) = ri.rows("Observation", "o", obs, json.dumps(obs))
    assert row["day"] == "2026-01-31"
    obs["effectivePeriod"] = {"start": "2026-01"}
    (row,) = ri.rows("Observation", "o", obs, json.dumps(obs))
    assert row["day"] is None


def test_reindex_command_rebuilds_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from healthbridge.cli import main
    from healthbridge.config import get_settings

    url = f"sqlite:///{tmp_path / 'hb.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with Repository(engine).transaction(SYSTEM_CONTEXT) as txn:
        txn.update("Patient", "p1", _patient("p1"))
        txn.update("Observation", "o1", _weight("o1", 9.0))
    expected = _table(engine)
    with engine.begin() as conn:
        ri.mark_built(conn, None)
        conn.execute(delete(ri.RULE_INPUT))
    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["db", "reindex", "--rule-inputs"]) == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "Observation: 1 resources, 1 rule-input rows" in out
    assert "index rows" not in out  # only the rule-input table
    assert _table(engine) == expected
    with engine.connect() as conn:
        assert ri.is_current(conn)
    engine.dispose()
