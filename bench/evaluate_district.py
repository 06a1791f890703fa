"""Benchmark ``healthbridge evaluate``: batch re-evaluation of a whole district database.

    .venv/bin/python bench/evaluate_district.py --children 100000 --write

Generates the seeded demo district (healthbridge.demo.population) and its FHIR resources
(healthbridge.demo.bundles), stores them as current rows of the ``resource`` table of a fresh
SQLite database (the batch reader reads only that table; loading through the API would take
hours and is what bench/ingest.py measures), then times
:func:`healthbridge.pipeline.batch.evaluate_database` twice: the first run creates every alert
(Flag + Task writes), the second finds nothing to change (a re-run after an unchanged rule set).
Prints children/s and the time per phase; ``--write`` records bench/results/evaluate_district.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import write_result

DATA = Path(__file__).resolve().parent / ".data" / "evaluate_district"


def load(database_url: str, children: int, seed: int) -> dict[str, int]:
    from healthbridge.demo.bundles import bundles
    from healthbridge.demo.population import generate
    from healthbridge.fhir.values import format_instant, index_instant, instant_now
    from healthbridge.pipeline.engine import today_in_china
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import RES

    engine = make_engine(database_url)
    upgrade(engine)
    district = generate(children=children, seed=seed, as_of=today_in_china())
    now = instant_now()
    counts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for bundle in bundles(district):
            for entry in bundle["entry"]:
                resource = entry["resource"]
                resource["meta"] = {
                    **resource.get("meta", {}),
                    "versionId": "1",
                    "lastUpdated": format_instant(now),
                }
                rtype = resource["resourceType"]
                counts[rtype] = counts.get(rtype, 0) + 1
                rows.append(
                    {
                        "res_type": rtype,
                        "res_id": resource["id"],
                        "version_id": 1,
                        "last_updated": index_instant(now),
                        "deleted": False,
                        "content": json.dumps(resource, ensure_ascii=False, separators=(",", ":")),
                    }
                )
                if len(rows) >= 20_000:
                    conn.execute(insert(RES), rows)
                    rows = []
        if rows:
            conn.execute(insert(RES), rows)
    engine.dispose()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--workers", type=int, default=2, help="processes for the rules")
    parser.add_argument("--write", action="store_true", help="write bench/results/")
    args = parser.parse_args(argv)

    from healthbridge.pipeline import parse_ruleset_key
    from healthbridge.pipeline.batch import evaluate_database
    from healthbridge.pipeline.engine import today_in_china
    from healthbridge.store.db import make_engine
    from healthbridge.store.repository import Repository

    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    url = f"sqlite:///{DATA / 'district.sqlite3'}"
    t0 = time.perf_counter()
    counts = load(url, args.children, args.seed)
    load_s = time.perf_counter() - t0
    print(f"loaded {sum(counts.values()):,} resources in {load_s:.1f} s: {counts}")
    rules = parse_ruleset_key("cn-child-health@2026.1/CN")
    engine = make_engine(url)
    repo = Repository(engine)
    as_of = today_in_china()  # one date for both runs
    runs = []
    for label in ("first (creates alerts)", "second (nothing changes)"):
        report = evaluate_database(repo, rules, as_of, workers=args.workers)
        total = report.seconds["total"]
        rate = report.children / total
        print(
            f"{label}: {report.children:,} children, {report.observations:,} observations, "
            f"{report.findings:,} findings, actions {dict(report.actions)}: {total:.1f} s, "
            f"{rate:,.0f} children/s; phases {report.seconds}"
        )
        runs.append(
            {
                "run": label,
                "children": report.children,
                "observations": report.observations,
                "findings": report.findings,
                "actions": dict(report.actions),
                "seconds": report.seconds,
                "children_per_s": round(rate, 1),
            }
        )
    engine.dispose()
    if args.write:
        path = write_result(
            "evaluate_district",
            {
                "resources": counts,
                "load_seconds": round(load_s, 1),
                "workers": args.workers,
                "runs": runs,
            },
        )
        print(f"wrote {path}")
    shutil.rmtree(DATA, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
