"""Build a large seeded district on PostgreSQL: the issue-19 "PostgreSQL at 100,000 children".

bench/district_db.py's SQL growth (:func:`bench.district_db.replicate`) is SQLite-only (it
``ATTACH``es the base file) and copies only the ``resource`` and ``rule_input`` rows, which is
what the batch evaluator reads. The benchmarks measured here also search and ingest, so this
builder copies **every** row a child owns — resource, version, all search-index tables,
compartment, access links and rule inputs — and, after a first ``healthbridge evaluate`` of the
base, the child's alerts (Flags and review Tasks):

1. :func:`bench.district_db.fast_load` of ``--children`` seeded children (default 1,000) into an
   empty migrated PostgreSQL database, then :func:`thin` (the issue's size: about 21
   Observations per child, as ``bench/evaluate_district.py --thin``);
2. one ``healthbridge evaluate`` of the base (:func:`bench.evaluate_district.run`): its alerts
   are written through the write path;
3. the base's child-owned rows are staged once into ``bench_base_*`` tables (unlogged), and
   each copy ``k`` is one ``INSERT … SELECT`` per table with the ids renamed as
   :func:`bench.district_db.replicate` does (``child-00`` → ``child-R{k:02d}``, ``rp-00`` →
   ``rp-R{k:02d}``, identifiers ``HB330108…`` → ``HB33R{k:02d}…``; every alert id in an
   alert's rows gets ``-r{k:02d}``: the Flag's and Task's own ids and the Task's ``focus``, in
   the JSON, the version rows and the search index). Every copy is one transaction, so
   ``--from-copy`` grows an existing district further (e.g. measure at 30,000, then grow to
   100,000).

``fast_load`` writes no compartment or access-link rows (neither does the SQLite benchmark);
the benchmarks here search as the system role, which the compartment does not filter.

Centres, classes and staff are shared by the copies (classes grow ``copies`` times larger), as
in the SQLite benchmark. Copied rows are what the write path would have stored for those
resources, so a re-run of ``healthbridge evaluate`` on the copied district plans for the
copies what it plans for the base (tests/bench/test_district_pg.py; the centres' own
alerts aside, as their classes grow; before 2026-12-07 the
Task's ``focus`` kept the base's Flag id, and a re-run rewrote every copied alert).

    python -m bench.district_pg --url postgresql+psycopg://postgres@127.0.0.1:55433/district \\
        --children 1000 --copies 100
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, String, Text, bindparam, text
from sqlmodel.sql.sqltypes import AutoString

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.district_db import THIN_WHERE, database
from healthbridge.store.db import make_engine
from healthbridge.store.models import INDEX_TABLES
from healthbridge.store.repository import RES

#: tables keyed by (res_type, res_id) whose child-owned rows are copied
KEYED = (
    "resource",
    "resource_version",
    *(table.name for table in INDEX_TABLES.values()),
    "compartment",
    "rule_input",
)
#: text columns whose values may name a child or guardian (renamed in every copy)
RENAMED = {
    "res_id",
    "code",
    "value",
    "target_id",
    "url",
    "patient_id",
    "src_id",
    "party",
    "child_id",
    "encounter_id",
    "extra",
    "content",
}
#: a child's own rows (never the shared centres/staff), and its alerts
OWN = "((res_id LIKE '%child-00%' OR res_id LIKE 'rp-00%') AND res_type NOT IN ('Flag', 'Task'))"
ALERT = "res_type IN ('Flag', 'Task')"
#: a UUID (an alert Flag's id) as a POSIX regular expression
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def thin(engine: Engine) -> int:
    """:func:`bench.district_db.thin` for any backend (expanding bind parameters)."""
    tables = [*KEYED]
    with engine.begin() as conn:
        ids = [
            str(r)
            for r in conn.execute(text(f"SELECT res_id FROM rule_input WHERE {THIN_WHERE}"))
            .scalars()
            .all()
        ]
        for start in range(0, len(ids), 2000):
            chunk = ids[start : start + 2000]
            for table in tables:
                conn.execute(
                    text(
                        f"DELETE FROM {table} WHERE res_type = 'Observation' AND res_id IN :ids"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": chunk},
                )
    return len(ids)


def stage(engine: Engine) -> None:
    """Copy the base's child-owned rows (and the child alerts) into ``bench_base_*``."""
    with engine.begin() as conn:
        for table in (*KEYED, "patient_link"):
            conn.execute(text(f"DROP TABLE IF EXISTS bench_base_{table}"))
        for table in KEYED:
            alert = f"{ALERT} AND res_id IN (SELECT res_id FROM resource WHERE {ALERT}"
            alert += " AND content LIKE '%Patient/child-00%')"
            conn.execute(
                text(
                    f"CREATE UNLOGGED TABLE bench_base_{table} AS SELECT * FROM {table}"
                    f" WHERE {OWN} OR ({alert})"
                )
            )
        conn.execute(
            text(
                "CREATE UNLOGGED TABLE bench_base_patient_link AS SELECT * FROM patient_link"
                " WHERE patient_id LIKE 'child-00%'"
            )
        )
        _check_alert_ids(conn)


def _check_alert_ids(conn: Connection) -> None:
    """Fail unless every UUID in the staged alerts' rows is a staged Flag's id (what
    :func:`_rename_alerts` assumes: no record of the child is named by a UUID)."""
    flags = set(
        conn.execute(text("SELECT res_id FROM bench_base_resource WHERE res_type = 'Flag'"))
        .scalars()
        .all()
    )
    for table in KEYED:
        cols = [
            c.name
            for c in RES.metadata.tables[table].columns
            if c.name in RENAMED and isinstance(c.type, String | Text | AutoString)
        ]
        for col in cols:
            found = conn.execute(
                text(
                    f"SELECT DISTINCT (regexp_matches(\"{col}\", '{UUID}', 'g'))[1]"
                    f" FROM bench_base_{table} WHERE {ALERT}"
                )
            ).scalars()
            strangers = set(found) - flags
            if strangers:
                raise RuntimeError(f"{table}.{col}: UUIDs not of an alert: {sorted(strangers)[:5]}")


def _rename(column: str, k: int) -> str:
    """Children, guardians and the children's identifiers (``HB330108…``) of copy ``k``."""
    renamed = f"replace(replace({column}, 'child-00', 'child-R{k:02d}'), 'rp-00', 'rp-R{k:02d}')"
    return f"replace({renamed}, 'HB330108', 'HB33R{k:02d}')"


def _rename_alerts(expr: str, k: int) -> str:
    """Every alert id in an alert's row of copy ``k``: ``{uuid}`` → ``{uuid}-r{k:02d}``.

    A Flag's id is a UUID (:func:`healthbridge.pipeline.alerts.write`) and its review Task's is
    ``review-{flag id}``, pointing back with ``focus`` ``Flag/{flag id}``; so renaming every
    UUID in the row renames the alert's own id, the Task's focus (JSON, ``url`` and
    ``target_id`` of the reference index) and the ``_id`` rows alike. :func:`stage` checks that
    the only UUIDs in the staged alerts are the base's Flag ids.
    """
    return f"regexp_replace({expr}, '({UUID})', '\\1-r{k:02d}', 'g')"


def copy(engine: Engine, k: int) -> None:
    """Add copy ``k`` of the staged base (one transaction)."""
    with engine.begin() as conn:
        for table in (*KEYED, "patient_link"):
            cols = [c for c in RES.metadata.tables[table].columns if c.name != "pk"]
            keyed = table != "patient_link"  # patient_link has no res_type: never an alert
            exprs = []
            for c in cols:
                if c.name in RENAMED and isinstance(c.type, String | Text | AutoString):
                    renamed = _rename(f'"{c.name}"', k)
                    if keyed:
                        alert = _rename_alerts(renamed, k)
                        renamed = f"CASE WHEN {ALERT} THEN {alert} ELSE {renamed} END"
                    exprs.append(renamed)
                else:
                    exprs.append(f'"{c.name}"')
            names = ", ".join(f'"{c.name}"' for c in cols)
            conn.execute(
                text(
                    f"INSERT INTO {table} ({names}) SELECT {', '.join(exprs)}"
                    f" FROM bench_base_{table}"
                )
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=100, help="copies in all (1 = the base)")
    parser.add_argument("--from-copy", type=int, default=0, help="grow an existing district")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.from_copy == 0:
        repo, counts, seconds = database(args.url, args.children)
        print(f"base: {sum(counts.values()):,} resources in {seconds:.0f} s {counts}", flush=True)
        removed = thin(repo.engine)
        print(f"thinned: {removed:,} Observations removed", flush=True)
        from bench.evaluate_district import run

        run(repo, "base: first evaluate (creates alerts)", 1, "table")
        stage(repo.engine)
        repo.engine.dispose()
    engine = make_engine(args.url)
    for k in range(max(1, args.from_copy), args.copies):
        t = time.perf_counter()
        copy(engine, k)
        load = os.getloadavg()[0]
        print(
            f"copy {k}: {(k + 1) * args.children:,} children, {time.perf_counter() - t:.1f} s"
            f" (load {load:.1f}; {time.perf_counter() - start:.0f} s in all)",
            flush=True,
        )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        total = conn.execute(text("SELECT count(*) FROM resource")).scalar_one()
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    print(
        f"{args.copies * args.children:,} children: {total:,} resources, {size / 2**30:.1f} GiB,"
        f" {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
