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


def test_probes_stay_bound_when_postgresql_statistics_see_no_rows(repository: Any) -> None:
    """A district's first morning: PostgreSQL's statistics say there are no Observations yet.
    Planned as semi-joins, the ``code``/``date`` probes then ran their index scans unbound,
    once per candidate (7.9 s per centre for 2,500 checks, bench/results/burst.md); fenced,
    each stays a correlated probe that binds the resource's ``res_id`` in the owner index."""
    engine = repository.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL query plans")
    params = [
        ("code", "http://loinc.org|8310-5,http://loinc.org|75325-1"),
        ("date", "ge2026-12-05"),
        ("subject:Patient.enrollment-centre", "Organization/c1"),
    ]
    query = parse_search("Observation", params, default_count=50, max_count=1000)
    stmt = select(R.c.res_id).where(where_clause(query, "")).order_by(R.c.res_id).limit(50)
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE resource, idx_token, idx_date, idx_reference")
        plan = [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql).all()]
    text = "\n".join(plan)
    # each probe's scan (index or, on these empty tables, sequential) is followed by its
    # condition, which must bind the candidate resource's id
    probes = [at for at, line in enumerate(plan) if re.search(r"Scan.* on idx_(token|date)", line)]
    assert len(probes) == 3, text
    assert all("= (resource.res_id)" in plan[at + 1] for at in probes), text
    assert "Semi Join" not in "\n".join(plan[at - 1] for at in probes), text
