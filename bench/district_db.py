"""Database-backed district benchmarks: load a generated district fast, then time the served
reports (``bench/reports.py --database``) and the HTTP session import
(``bench/import.py --http``).

The fast loader writes what the server would store — the resource row, its first version,
every search-index row from :func:`healthbridge.fhir.searchparams.extract` and the rule-input
row (:mod:`healthbridge.store.rule_inputs`) — with bulk inserts,
skipping per-resource model validation (which dominates a normal load and is not what is
measured here). The data is :mod:`healthbridge.demo`'s seeded district.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from healthbridge.demo.bundles import bundles
from healthbridge.demo.population import generate
from healthbridge.fhir.searchparams import extract
from healthbridge.fhir.values import format_instant, index_instant, instant_now
from healthbridge.store import rule_inputs as ri
from healthbridge.store import search as sql
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.repository import RES, Repository

AS_OF = dt.date(2026, 11, 1)


def fast_load(engine: Engine, children: int, seed: int = 20261122) -> dict[str, int]:
    """Generate the demo district and bulk-insert it; returns counts per resource type."""
    district = generate(children=children, seed=seed, as_of=AS_OF)
    counts: dict[str, int] = {}
    pending: dict[str, list[dict[str, Any]]] = {}

    def flush(conn: Any) -> None:
        extra = [k for k in pending if k.startswith("idx_")] + [ri.TABLE]
        for name in ["resource", "resource_version", *extra]:
            rows = pending.pop(name, [])
            if rows:
                table = RES.metadata.tables[name]
                conn.execute(insert(table), rows)

    with engine.begin() as conn:
        for bundle in bundles(district):
            for entry in bundle["entry"]:
                resource = entry["resource"]
                rtype, rid = resource["resourceType"], resource["id"]
                now = instant_now()
                resource["meta"] = {
                    **resource.get("meta", {}),
                    "versionId": "1",
                    "lastUpdated": format_instant(now),
                }
                row = {
                    "res_type": rtype,
                    "res_id": rid,
                    "version_id": 1,
                    "last_updated": index_instant(now),
                    "deleted": False,
                    "content": json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
                }
                pending.setdefault("resource", []).append(row)
                facts = ri.rows(rtype, rid, resource, row["content"])
                pending.setdefault(ri.TABLE, []).extend(facts)
                # the current JSON is stored once, in ``resource`` (models.ResourceVersionRow)
                pending.setdefault("resource_version", []).append(
                    {**row, "content": None, "method": "PUT"}
                )
                for kind, rows in extract(resource).tables():
                    table = sql.index_table(kind).name
                    pending.setdefault(table, []).extend(
                        {"res_type": rtype, "res_id": rid, **r} for r in rows
                    )
                counts[rtype] = counts.get(rtype, 0) + 1
            if len(pending.get("resource", [])) > 20_000:
                flush(conn)
        flush(conn)
    return counts


def database(
    url: str | None, children: int, *, load: bool = True
) -> tuple[Repository, dict[str, int], float]:
    """A migrated database (a temporary SQLite file by default) holding the district
    (``load=False``: the database at ``url`` already holds it)."""
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'district.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    start = time.perf_counter()
    if not load:
        with engine.connect() as conn:
            rows = conn.execute(select(RES.c.res_type, func.count()).group_by(RES.c.res_type)).all()
        return Repository(engine), {str(t): int(n) for t, n in rows}, 0.0
    counts = fast_load(engine, children)
    return Repository(engine), counts, time.perf_counter() - start


def replicate(
    engine: Engine, copies: int, *, token_index: bool = False, source: Path | None = None
) -> int:
    """Grow a fast-loaded district ``copies`` times by copying its children in SQL.

    Every resource that names a demo child (``child-00…``: the Patient, its encounters,
    observations, immunizations and consents; its guardians ``rp-00…``) is copied with the ids
    rewritten (``child-00`` → ``child-R{k:02d}``, ``rp-00`` → ``rp-R{k:02d}``), and so are their
    rule-input rows (:mod:`healthbridge.store.rule_inputs`: ids, child, encounter and the
    Patient's elements renamed alike). Centres, classes and staff are shared, so classes grow
    ``copies`` times larger. Only ``resource`` and ``rule_input`` rows are copied (with
    ``token_index``, the ``idx_token`` rows too): the batch evaluator and the district reports
    read those, not the history or the search index. Far faster than generating a
    100,000-child district (about 90 minutes with :func:`fast_load` on this machine). With
    ``source`` (an SQLite file holding the original rows, e.g. the base the database was copied
    from) the originals are read from there: every copy then scans the small base instead of
    the growing database (quadratic otherwise: the 100-copy build took over 30 minutes).
    Returns the resource count.
    """

    def rename(column: str, k: int) -> str:
        return f"replace(replace({column}, 'child-00', 'child-R{k:02d}'), 'rp-00', 'rp-R{k:02d}')"

    own = "(res_id LIKE '%child-00%' OR res_id LIKE 'rp-00%')"
    # Flags and Tasks (alerts) are copied by copy_alerts, never from here
    own += " AND res_type NOT IN ('Flag', 'Task')"
    db = "main" if source is None else "base"
    with engine.begin() as conn:
        if source is not None:
            conn.exec_driver_sql(f"ATTACH DATABASE '{source}' AS base")
        for k in range(1, copies):
            conn.exec_driver_sql(
                "INSERT INTO resource"
                " (res_type, res_id, version_id, last_updated, deleted, content)"
                f" SELECT res_type, {rename('res_id', k)}, version_id, last_updated, deleted,"
                f" {rename('content', k)} FROM {db}.resource WHERE {own}"
            )
            renamed = ", ".join(
                rename(c, k) if c in ("res_id", "child_id", "encounter_id", "extra") else c
                for c in ri.COLUMNS
            )
            conn.exec_driver_sql(
                f"INSERT INTO rule_input ({', '.join(ri.COLUMNS)})"
                f" SELECT {renamed} FROM {db}.rule_input WHERE {own}"
            )
            if token_index:
                conn.exec_driver_sql(
                    "INSERT INTO idx_token (res_type, res_id, param, system, code)"
                    f" SELECT res_type, {rename('res_id', k)}, param, system, {rename('code', k)}"
                    f" FROM {db}.idx_token WHERE {own}"
                )
        total = conn.exec_driver_sql("SELECT count(*) FROM resource").scalar_one()
    if source is not None:
        with engine.connect() as conn:
            conn.exec_driver_sql("DETACH DATABASE base")
    return int(total)


#: Observations :func:`thin` removes: head circumference, and the morning checks
#: (temperature, symptoms) of every school day but the last one before the as-of date.
THIN_WHERE = (
    "res_type = 'Observation' AND (code = '9843-4'"
    " OR (code IN ('8310-5', '75325-1') AND day < '2026-10-30'))"
)


def thin(engine: Engine) -> int:
    """Remove the :data:`THIN_WHERE` Observations of a fast-loaded base (resource, version,
    search-index and rule-input rows): the issue-5 size variant, ~20.9 observations per child
    instead of ~33.8 (100 copies: ~2.09 million). Returns the number removed."""
    with engine.begin() as conn:
        ids = [
            str(r)
            for r in conn.exec_driver_sql(f"SELECT res_id FROM rule_input WHERE {THIN_WHERE}")
            .scalars()
            .all()
        ]
        tables = ["resource", "resource_version", ri.TABLE]
        tables += [sql.index_table(k).name for k in ("token", "string", "date", "reference")]
        tables += [sql.index_table(k).name for k in ("quantity", "number", "uri")]
        tables += ["compartment"]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for table in tables:
                conn.exec_driver_sql(
                    f"DELETE FROM {table} WHERE res_type = 'Observation' AND res_id IN ({marks})",
                    tuple(chunk),
                )
    return len(ids)


def copy_alerts(engine: Engine, source: Path, copies: int) -> int:
    """Copy the Flags and review Tasks of an evaluated base district (SQLite file ``source``,
    the database :func:`replicate` started from) into each of the ``copies`` (ids suffixed
    ``-rKK``, children renamed as :func:`replicate` does): the state after a first
    ``healthbridge evaluate`` of the grown district, without writing ~250,000 resources
    through the write path. Centre alerts are copied once. SQLite only. Returns the count."""

    def rename(column: str, k: int) -> str:
        uuid = "CASE res_type WHEN 'Task' THEN substr(res_id, 8) ELSE res_id END"
        text = f"replace({column}, {uuid}, {uuid} || '-r{k:02d}')"
        return f"replace(replace({text}, 'child-00', 'child-R{k:02d}'), 'rp-00', 'rp-R{k:02d}')"

    with engine.begin() as conn:
        conn.exec_driver_sql(f"ATTACH DATABASE '{source}' AS base")
        conn.exec_driver_sql(
            "INSERT INTO resource SELECT * FROM base.resource WHERE res_type IN ('Flag', 'Task')"
        )
        for k in range(1, copies):
            conn.exec_driver_sql(
                "INSERT INTO resource"
                " (res_type, res_id, version_id, last_updated, deleted, content)"
                f" SELECT res_type, res_id || '-r{k:02d}', version_id, last_updated, deleted,"
                f" {rename('content', k)} FROM base.resource"
                " WHERE res_type IN ('Flag', 'Task') AND instr(content, 'Patient/child-00') > 0"
            )
        total = conn.exec_driver_sql(
            "SELECT count(*) FROM resource WHERE res_type IN ('Flag', 'Task')"
        ).scalar_one()
    with engine.connect() as conn:
        conn.exec_driver_sql("DETACH DATABASE base")
    return int(total)


def main(argv: list[str] | None = None) -> int:
    """Build a district database: ``--children`` generated, then ``--copies`` times copied."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    repo, counts, seconds = database(args.url, args.children)
    total = replicate(repo.engine, args.copies) if args.copies > 1 else sum(counts.values())
    repo.engine.dispose()
    sys.stdout.write(
        f"{args.children:,} children x {args.copies}: {total:,} resources "
        f"({time.perf_counter() - start:.0f} s; base {counts}, loaded in {seconds:.0f} s)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
