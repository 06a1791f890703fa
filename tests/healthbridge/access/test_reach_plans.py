"""A restricted caller's reach is looked up per child, not by scanning ``compartment``
(SQLite's query plans; issue 19, migration 0010).

The access rules select the members of the children in reach with ``patient_id IN (…)`` for
any type. With ``ix_compartment_patient`` on (res_type, patient_id, res_id) no index could
answer that and SQLite scanned the whole compartment table on every restricted read (76 ms
at the 600-child demo on a busy machine, growing with the database); led by ``patient_id``
it seeks each child's rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from healthbridge.store.db import make_engine
from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS


@pytest.mark.parametrize("name", ["parent", "centre-staff", "paediatrician-consent"])
def test_reach_seeks_the_children_in_reach(name: str, client_as: Any, settings: Any) -> None:
    url = settings.resolved_database_url()
    if not url.startswith("sqlite"):
        pytest.skip("SQLite query plans")
    world.load(client_as("system"))
    caller = CALLERS[name]
    client = client_as(caller.role, user=f"user-{name}", **caller.claims)
    seen: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, params = args[2], args[3]  # (conn, cursor, statement, parameters, …)
        if "FROM compartment AS" in statement and "patient_link" in statement:
            seen.append((statement, params))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert client.get("/fhir/Observation/obs-a").status_code == 200
        assert client.get("/fhir/Observation?subject=Patient/kid-a").status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert seen, "the reach was not checked in SQL"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for statement, params in seen:
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
                steps = [str(row[3]) for row in plan]
                assert not any(s.startswith("SCAN compartment") for s in steps), steps
                # the record's own compartment rows are sought by an index (by the child,
                # ix_compartment_patient, or by the record, ix_compartment_owner), never scanned
                assert any(s.startswith("SEARCH compartment") for s in steps), steps
    finally:
        engine.dispose()
