"""Benchmark ``healthbridge evaluate``: batch re-evaluation of a whole district database.

    .venv/bin/python bench/evaluate_district.py --children 5000 --write
    .venv/bin/python bench/evaluate_district.py --children 1000 --copies 100 --write

Loads the seeded demo district (``--children`` children, healthbridge.demo) with
bench/district_db.py's fast loader (resource rows, versions and search index written in bulk;
loading through the API would take hours and is what bench/ingest.py measures) and times
:func:`healthbridge.pipeline.batch.evaluate_database` twice: the first run creates every alert
(Flag + Task writes through the write path), the second finds nothing to change (a re-run
after an unchanged rule set: it must write nothing).

With ``--copies K`` the evaluated district is then copied K times in SQL
(:func:`bench.district_db.replicate` and :func:`~bench.district_db.copy_alerts`: children,
their records and their alerts, ids renamed) and the re-run is timed on the grown district:
what a nightly ``healthbridge evaluate`` of a K-times larger district does when little has
changed. ``--reuse FILE`` times re-runs on a database built before. Prints children/s, CPU
seconds and the time per phase; ``--write`` records bench/results/evaluate_district.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import write_result

DATA = Path(__file__).resolve().parent / ".data" / "evaluate_district"


def run(repo: Any, label: str, workers: int) -> dict[str, Any]:
    from bench.district_db import AS_OF
    from healthbridge.pipeline import parse_ruleset_key
    from healthbridge.pipeline.batch import evaluate_database

    rules = parse_ruleset_key("cn-child-health@2026.1/CN")
    cpu = time.process_time()
    report = evaluate_database(repo, rules, AS_OF, workers=workers)
    cpu = time.process_time() - cpu
    total = report.seconds["total"]
    rate = report.children / total
    print(
        f"{label}: {report.children:,} children, {report.observations:,} observations, "
        f"{report.findings:,} findings, {report.open_alerts:,} open alerts before, actions "
        f"{dict(report.actions)}: {total:.1f} s, {rate:,.0f} children/s (main-process CPU "
        f"{cpu:.1f} s); phases {report.seconds}; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return {
        "run": label,
        "children": report.children,
        "observations": report.observations,
        "findings": report.findings,
        "open_alerts_before": report.open_alerts,
        "actions": dict(report.actions),
        "seconds": report.seconds,
        "main_process_cpu_seconds": round(cpu, 1),
        "children_per_s": round(rate, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=5_000)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="processes for the rules")
    parser.add_argument("--reuse", type=Path, default=None, help="an existing database file")
    parser.add_argument("--runs", type=int, default=1, help="re-runs with --reuse")
    parser.add_argument("--write", action="store_true", help="write bench/results/")
    args = parser.parse_args(argv)

    from bench.district_db import copy_alerts, database, replicate
    from healthbridge.store.db import make_engine
    from healthbridge.store.repository import Repository

    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {"workers": args.workers}
    if args.reuse is not None:
        repo = Repository(make_engine(f"sqlite:///{args.reuse}"))
        for k in range(args.runs):
            runs.append(run(repo, f"re-run {k + 1} on {args.reuse.name}", args.workers))
        repo.engine.dispose()
    else:
        shutil.rmtree(DATA, ignore_errors=True)
        DATA.mkdir(parents=True)
        base = DATA / "base.sqlite3"
        repo, counts, load_s = database(f"sqlite:///{base}", args.children)
        print(f"loaded {sum(counts.values()):,} resources in {load_s:.1f} s: {counts}")
        result |= {"base_resources": counts, "load_seconds": round(load_s, 1)}
        grown = DATA / "grown.sqlite3"
        if args.copies > 1:
            shutil.copy(base, grown)  # before any alert exists
        runs.append(run(repo, "first (creates alerts)", args.workers))
        runs.append(run(repo, "second (nothing changes)", args.workers))
        repo.engine.dispose()
        if args.copies > 1:
            engine = make_engine(f"sqlite:///{grown}")
            start = time.perf_counter()
            total = replicate(engine, args.copies)
            alerts = copy_alerts(engine, base, args.copies)
            grow_s = time.perf_counter() - start
            print(
                f"grown x{args.copies}: {total:,} resources, {alerts:,} Flags/Tasks, {grow_s:.0f} s"
            )
            result |= {
                "copies": args.copies,
                "grown_resources": total,
                "grow_seconds": round(grow_s),
            }
            runs.append(run(Repository(engine), f"re-run x{args.copies}", args.workers))
            engine.dispose()
        shutil.rmtree(DATA, ignore_errors=True)
    if args.write:
        print(f"wrote {write_result('evaluate_district', {**result, 'runs': runs})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
