"""Search probes bind the whole index key (SQLite's query plans).

A correlated probe that binds only (res_type, param) of an index scans every index row of the
parameter for each candidate resource: invisible in small tests, seconds at 500,000
Observations. These tests read SQLite's plan for the probes of token searches, the shape the
growth charts and most clients use (``subject=…&code=a,b``, ``code`` with or without system).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from healthbridge.fhir.query import parse_search
from healthbridge.store.search import R, where_clause

SUBJECT = ("subject", "Patient/p1")


def _token_probes(repository: Any, params: list[tuple[str, str]]) -> list[str]:
    if repository.engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plans")
    query = parse_search("Observation", params, default_count=50, max_count=1000)
    stmt = select(R.c.res_id).where(where_clause(query, ""))
    compiled = stmt.compile(dialect=repository.engine.dialect)
    sql = str(compiled)
    args = [compiled.params[name] for name in compiled.positiontup or ()]
    with repository.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(args)).fetchall()
    return [str(row[3]) for row in plan if "idx_token" in str(row[3])]


@pytest.mark.parametrize(
    "code",
    [
        "http://loinc.org|29463-7",
        "29463-7",
        "http://loinc.org|29463-7,http://loinc.org|8302-2",
        "29463-7,8302-2,8306-3",
    ],
)
def test_token_probes_seek_the_resource(repository: Any, code: str) -> None:
    probes = _token_probes(repository, [SUBJECT, ("code", code)])
    assert probes, "the code filter is not answered from idx_token"
    for line in probes:
        bound = re.search(r"\((.*)\)", line)
        assert bound is not None, line
        assert "res_id=?" in bound.group(1), line  # one resource's rows, not the parameter's


def test_several_references_seek_the_lookup_index(repository: Any) -> None:
    """``subject=Patient/a,Patient/b,…`` seeks (res_type, param, target_id) per id instead of
    scanning every reference of the parameter (seconds for 100 children at 10,000)."""
    if repository.engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plans")
    refs = ",".join(f"Patient/p{i}" for i in range(5))
    query = parse_search("Observation", [("subject", refs)], default_count=50, max_count=1000)
    stmt = select(R.c.res_id).where(where_clause(query, ""))
    sql = str(
        stmt.compile(dialect=repository.engine.dialect, compile_kwargs={"literal_binds": True})
    )
    with repository.engine.connect() as conn:
        plan = [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()]
    probes = [p for p in plan if "idx_reference" in p]
    assert probes, plan
    assert all("target_id=?" in p for p in probes), plan
