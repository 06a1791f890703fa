"""Database-backed district benchmarks: load a generated district fast, then time the served
reports (``bench/reports.py --database``) and the HTTP session import
(``bench/import.py --http``).

The fast loader writes what the server would store — the resource row, its first version and
every search-index row from :func:`healthbridge.fhir.searchparams.extract` — with bulk inserts,
skipping per-resource model validation (which dominates a normal load and is not what is
measured here). The data is :mod:`healthbridge.demo`'s seeded district.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from healthbridge.demo.bundles import bundles
from healthbridge.demo.population import generate
from healthbridge.fhir.searchparams import extract
from healthbridge.fhir.values import format_instant, index_instant, instant_now
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
        for name in ["resource", "resource_version", *[k for k in pending if k.startswith("idx_")]]:
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
                pending.setdefault("resource_version", []).append({**row, "method": "PUT"})
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
