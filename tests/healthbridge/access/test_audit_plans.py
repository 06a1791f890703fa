"""The audit's lookup of the children of audited records seeks by id (SQLite's query plan).

``auditing.patients_of`` runs on every audited read, search and write. Written with
``DISTINCT``, SQLite answered it by walking ``ix_compartment_patient`` over every compartment
row of the type (80 ms a search at 500,000 Observations, bench/results/ingest.md "Session
close"); it must seek ``ix_compartment_owner`` by ``(res_type, res_id)``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from healthbridge.access.auditing import patients_of


def test_children_of_audited_records_are_found_by_id(repository: Any) -> None:
    engine = repository.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plans")
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, params = args[2], args[3]  # (conn, cursor, statement, parameters, …)
        if "FROM compartment" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            assert patients_of(conn, ["Observation/o1", "Observation/o2"]) == []
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    statement, params = seen[0]
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
    lines = [str(row[3]) for row in plan]
    assert any("ix_compartment_owner" in line and "res_id=?" in line for line in lines), lines
