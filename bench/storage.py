"""Storage benchmark: bytes on disk per resource, per table and index (SQLite and PostgreSQL).

Measures a database as it is (``--database-url``, default the demo's SQLite file under
``--data-dir``), or loads the demo district into it first (``--load-demo``; the database must
be empty). Sizes come from the database itself: SQLite's ``dbstat`` virtual table
(https://www.sqlite.org/dbstat.html, pages per table and index, after a WAL checkpoint) and
PostgreSQL's ``pg_table_size`` (heap + TOAST + maps) and ``pg_relation_size`` per index
(https://www.postgresql.org/docs/15/functions-admin.html#FUNCTIONS-ADMIN-DBSIZE).
``--vacuum`` first rebuilds the file (SQLite ``VACUUM``, PostgreSQL ``VACUUM FULL``) so that a
database converted in place by a migration is compared with the same packing as a fresh one.

It also reports what compressing the stored JSON would save (zlib and, when installed, zstd on
a sample of current rows) and what decompressing costs per resource, which is how the choice
not to compress was made (bench/results/storage.md).

    python -m bench.storage --data-dir /tmp/demo --load-demo --label NAME
    python -m bench.storage --database-url postgresql+psycopg://…/demo --vacuum --label NAME
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from bench._common import backend_name
from bench._results import record

#: Tables grouped as the results file reports them.
GROUPS = {
    "resource": "current",
    "resource_version": "versions",
    "compartment": "access",
    "patient_link": "access",
    "rule_input": "rule_input",
    "rule_input_state": "rule_input",
}


def group_of(table: str) -> str:
    """The reported group of ``table`` (``search`` for the ``idx_*`` index tables)."""
    if table.startswith("idx_"):
        return "search"
    return GROUPS.get(table, "other")


def sqlite_sizes(conn: Connection) -> list[tuple[str, str, bool, int]]:
    """``(object, table, is_index, bytes)`` for every table and index (``dbstat``)."""
    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    owner = {
        name: (tbl, kind == "index")
        for kind, name, tbl in conn.exec_driver_sql(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"
        )
    }
    rows = conn.exec_driver_sql("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").all()
    out = []
    for name, size in rows:
        table, is_index = owner.get(name, (name, False))
        out.append((name, table, is_index, int(size)))
    return out


def postgres_sizes(conn: Connection) -> list[tuple[str, str, bool, int]]:
    """``(object, table, is_index, bytes)``: heap with TOAST and maps, and each index."""
    tables = conn.exec_driver_sql(
        "SELECT c.relname, pg_table_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r'"
    ).all()
    indexes = conn.exec_driver_sql(
        "SELECT i.relname, t.relname, pg_relation_size(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = 'public'"
    ).all()
    out = [(name, name, False, int(size)) for name, size in tables]
    out += [(name, table, True, int(size)) for name, table, size in indexes]
    return out


def content_sample(conn: Connection, limit: int) -> dict[str, Any]:
    """Stored JSON of up to ``limit`` current rows: raw and compressed bytes, decode cost."""
    contents = [
        str(c).encode()
        for (c,) in conn.execute(
            text("SELECT content FROM resource WHERE NOT deleted LIMIT :n"), {"n": limit}
        )
    ]
    if not contents:
        return {}
    raw = sum(len(c) for c in contents)
    packed = [zlib.compress(c, 6) for c in contents]
    start = time.perf_counter()
    for p in packed:
        zlib.decompress(p)
    zlib_us = (time.perf_counter() - start) / len(packed) * 1e6
    out: dict[str, Any] = {
        "sampled": len(contents),
        "json_bytes_per_resource": raw / len(contents),
        "zlib_bytes_per_resource": sum(len(p) for p in packed) / len(contents),
        "zlib_decompress_us": zlib_us,
    }
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return out
    zpacked = [zstandard.ZstdCompressor(level=3).compress(c) for c in contents]
    unpack = zstandard.ZstdDecompressor()
    start = time.perf_counter()
    for p in zpacked:
        unpack.decompress(p)
    out["zstd_bytes_per_resource"] = sum(len(p) for p in zpacked) / len(contents)
    out["zstd_decompress_us"] = (time.perf_counter() - start) / len(zpacked) * 1e6
    return out


def type_counts(conn: Connection, tables: set[str]) -> dict[str, dict[str, int]]:
    """Rows per resource type of every table keyed by ``res_type`` (``src_type`` for links)."""
    out: dict[str, dict[str, int]] = {}
    for table in sorted(tables):
        column = {"patient_link": "src_type"}.get(table, "res_type")
        if (table not in GROUPS and not table.startswith("idx_")) or table == "rule_input_state":
            continue
        rows = conn.exec_driver_sql(
            f'SELECT "{column}", count(*) FROM "{table}" GROUP BY "{column}"'  # our own names
        ).all()
        out[table] = {str(t): int(n) for t, n in rows}
    return out


def type_estimates(
    sizes: list[tuple[str, str, bool, int]], counts: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """Per resource type: count and estimated bytes per resource — each table's bytes (with
    its indexes) shared out by rows, so a type pays for the rows it has. An estimate: rows
    of one table differ in width (an AuditEvent's JSON is larger than a Patient's)."""
    per_row: dict[str, float] = {}
    for table, by_type in counts.items():
        rows = sum(by_type.values())
        if rows:
            per_row[table] = sum(s for _n, t, _i, s in sizes if t == table) / rows
    current = counts.get("resource", {})
    out: dict[str, dict[str, float]] = {}
    for rtype, n in sorted(current.items(), key=lambda kv: -kv[1]):
        spent = sum(per_row[t] * counts[t].get(rtype, 0) for t in per_row)
        rows = {t: counts[t].get(rtype, 0) / n for t in per_row if t.startswith("idx_")}
        out[rtype] = {
            "resources": n,
            "bytes_per_resource": spent / n,
            "index_rows_per_resource": sum(rows.values()),
        }
    return out


def measure(database_url: str, *, vacuum: bool = False, sample: int = 5000) -> dict[str, Any]:
    """Sizes and per-resource figures of the database at ``database_url``."""
    from healthbridge.store.db import make_engine

    engine = make_engine(database_url)
    try:
        if vacuum and engine.dialect.name == "sqlite":
            # outside any transaction: the store's engine begins every connection's work
            with sqlite3.connect(str(engine.url.database), isolation_level=None) as raw:
                raw.execute("VACUUM")
        elif vacuum:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM FULL")
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                sizes = sqlite_sizes(conn)
            else:
                conn.exec_driver_sql("ANALYZE")
                sizes = postgres_sizes(conn)
            resources = conn.exec_driver_sql(
                "SELECT count(*) FROM resource WHERE NOT deleted"
            ).scalar_one()
            versions = conn.exec_driver_sql("SELECT count(*) FROM resource_version").scalar_one()
            content = content_sample(conn, sample)
            counts = type_counts(conn, {table for _n, table, _i, _s in sizes})
    finally:
        engine.dispose()
    per = max(int(resources), 1)
    groups: dict[str, dict[str, int]] = defaultdict(lambda: {"data": 0, "indexes": 0})
    objects = []
    for name, table, is_index, size in sizes:
        groups[group_of(table)]["indexes" if is_index else "data"] += size
        objects.append({"name": name, "table": table, "index": is_index, "bytes": size})
    total = sum(s for *_rest, s in sizes)
    per_type = type_estimates(sizes, counts)
    return {
        "backend": backend_name(database_url),
        "resources": int(resources),
        "versions": int(versions),
        "total_bytes": total,
        "total_mb": total / 1e6,
        "bytes_per_resource": total / per,
        "groups": {
            name: {**g, "per_resource": (g["data"] + g["indexes"]) / per}
            for name, g in sorted(groups.items())
        },
        "objects": sorted(objects, key=lambda o: -o["bytes"]),
        "content": content,
        "per_type": per_type,
    }


def load_demo(database_url: str, data_dir: Path, children: int, seed: int, as_of: str) -> float:
    """Run ``healthbridge demo`` into ``database_url``; returns the seconds it took."""
    env = {
        **os.environ,
        "HEALTHBRIDGE_DATABASE_URL": database_url,
        "HEALTHBRIDGE_DATA_DIR": str(data_dir),
    }
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "healthbridge.cli",
            "demo",
            "--children",
            str(children),
            "--seed",
            str(seed),
            "--as-of",
            as_of,
        ],
        env=env,
        check=True,
    )
    return time.perf_counter() - start


def report(figures: dict[str, Any]) -> str:
    """The printed table: each table and index, largest first, and the per-resource groups."""
    per = max(figures["resources"], 1)
    lines = [
        f"{figures['backend']}: {figures['resources']:,} resources, "
        f"{figures['versions']:,} versions, {figures['total_mb']:.1f} MB, "
        f"{figures['bytes_per_resource']:,.0f} bytes/resource",
        f"{'object':<34} {'table':<18} {'MB':>8} {'B/res':>7}",
    ]
    for o in figures["objects"]:
        name = ("  " if o["index"] else "") + o["name"]
        lines.append(
            f"{name:<34} {o['table']:<18} {o['bytes'] / 1e6:>8.1f} {o['bytes'] / per:>7.0f}"
        )
    for name, g in figures["groups"].items():
        lines.append(
            f"group {name:<12} data {g['data'] / 1e6:8.1f} MB  indexes {g['indexes'] / 1e6:8.1f} MB"
            f"  {g['per_resource']:6.0f} B/res"
        )
    for rtype, t in figures["per_type"].items():
        lines.append(
            f"type {rtype:<28} {t['resources']:>9,.0f} resources  ~{t['bytes_per_resource']:6,.0f}"
            f" B/res  {t['index_rows_per_resource']:5.1f} index rows/res"
        )
    if figures["content"]:
        lines.append(f"stored JSON sample: {figures['content']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--load-demo", action="store_true", help="load the demo district first")
    parser.add_argument("--children", type=int, default=600)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--as-of", default="2026-12-01")
    parser.add_argument("--vacuum", action="store_true", help="VACUUM (FULL) before measuring")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{args.data_dir / 'healthbridge.sqlite3'}"
    figures: dict[str, Any] = {"load_average_before": os.getloadavg()}
    if args.load_demo:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        figures["load_seconds"] = load_demo(
            url, args.data_dir, args.children, args.seed, args.as_of
        )
    figures.update(measure(url, vacuum=args.vacuum))
    print(report(figures))
    if args.label:
        path = record("storage", args.label, figures)
        print(f"recorded in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
