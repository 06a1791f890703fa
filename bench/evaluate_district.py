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
changed. ``--reuse FILE`` (``--reuse-url URL`` for PostgreSQL: bench/district_pg.py builds
one) times
re-runs on a database built before (``--keep`` leaves the
grown database in bench/.data for that). Prints children/s, CPU seconds and the time per
phase; ``--write`` appends a row to the history in bench/results/evaluate_district.md
(``--label``: the round of work it belongs to).

``--source table|documents|auto`` (repeatable) chooses where the rule inputs are read from
(:func:`healthbridge.pipeline.batch.read_district`): the typed rule-input table kept at write
time, or the stored JSON documents (the reader before wave 4). ``--thin`` removes the
head-circumference and older morning-check Observations from the base before copying
(:func:`bench.district_db.thin`): the issue's size, ~2.1 million observations at 100,000
children, instead of ~3.4 million. ``--backfill`` times rebuilding the whole rule-input table
(``healthbridge db reindex --rule-inputs``) on the grown database before the re-runs.
The read is one process (a second read process, waves 5–7, was removed: see
bench/results/evaluate.md); ``--workers N`` runs the rules in N processes, whose CPU is printed
beside the main process's.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import write_result

DATA = Path(__file__).resolve().parent / ".data" / "evaluate_district"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    repo: Any, label: str, workers: int, source: str = "auto", *, dry_run: bool = False
) -> dict[str, Any]:
    from bench.district_db import AS_OF
    from healthbridge.pipeline import parse_ruleset_key
    from healthbridge.pipeline.batch import evaluate_database
    from healthbridge.store.runtime import running

    rules = parse_ruleset_key("cn-child-health@2026.1/CN")
    before = os.getloadavg()
    cpu, children_cpu = time.process_time(), _children_cpu()
    # as `healthbridge evaluate` runs it: a batch process (the collector paused around the
    # bulk work, healthbridge.store.gc_policy). Before 2026-12-07 the benchmark ran it as
    # library code, with the collector on: 29.5-31.5 s for the PostgreSQL district of
    # 10,000 children that the command evaluates in less (bench/results/evaluate_district.md)
    with running(repo.engine, role="batch", sqlite_thread=False):
        report = evaluate_database(
            repo,
            rules,
            AS_OF,
            workers=workers,
            source=source,  # type: ignore[arg-type]
            dry_run=dry_run,
        )
    cpu = time.process_time() - cpu
    children_cpu = _children_cpu() - children_cpu
    load = os.getloadavg()
    total = report.seconds["total"]
    rate = report.children / total
    print(
        f"{label}: {report.children:,} children, {report.observations:,} observations, "
        f"{report.findings:,} findings, {report.open_alerts:,} open alerts before, actions "
        f"{dict(report.actions)}: {total:.1f} s, {rate:,.0f} children/s (main-process CPU "
        f"{cpu:.1f} s + {children_cpu:.1f} s in worker processes); inputs from "
        f"{report.source}; phases {report.seconds}; load average before "
        f"{before[0]:.1f} {before[1]:.1f} {before[2]:.1f}, after "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        flush=True,
    )
    return {
        "run": label,
        "source": report.source,
        "children": report.children,
        "observations": report.observations,
        "findings": report.findings,
        "open_alerts_before": report.open_alerts,
        "actions": dict(report.actions),
        "seconds": report.seconds,
        "workers": workers,
        "read_workers": 1,  # one read process since issue 18
        "main_process_cpu_seconds": round(cpu, 1),
        "worker_processes_cpu_seconds": round(children_cpu, 1),
        "children_per_s": round(rate, 1),
        "load_average_1_5_15min": [round(v, 2) for v in load],
        "load_average_before_1_5_15min": [round(v, 2) for v in before],
    }


def backfill(engine: Any, rebuild: Any) -> dict[str, Any]:
    """Time ``rebuild_rule_inputs`` (the whole table, every type)."""
    start, cpu = time.perf_counter(), time.process_time()
    counts = {c.resource_type: c.resources for c in rebuild(engine)}
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    load = os.getloadavg()
    print(f"rule-input backfill: {counts}: {seconds:.0f} s (CPU {cpu:.0f} s), load {load[0]:.1f}")
    return {
        "resources": counts,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_1_5_15min": [round(v, 2) for v in load],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=5_000)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="processes for the rules")
    parser.add_argument("--reuse", type=Path, default=None, help="an existing database file")
    parser.add_argument(
        "--reuse-url", default=None, help="an existing database URL (e.g. bench/district_pg.py's)"
    )
    parser.add_argument("--runs", type=int, default=1, help="re-runs with --reuse")
    parser.add_argument("--write", action="store_true", help="write bench/results/")
    parser.add_argument("--label", default="", help="the history row's label (round of work)")
    parser.add_argument(
        "--source",
        action="append",
        choices=["auto", "table", "documents"],
        help="where the re-runs read the rule inputs (repeatable; default auto)",
    )
    parser.add_argument("--thin", action="store_true", help="the issue-size variant (~21/child)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --reuse-url: read, rules and the planned writes, none written",
    )
    parser.add_argument("--backfill", action="store_true", help="time the rule-input rebuild")
    parser.add_argument("--keep", action="store_true", help="keep the grown database")
    parser.add_argument("--data", type=Path, default=DATA, help="working directory")
    args = parser.parse_args(argv)
    sources = args.source or ["auto"]

    from bench.district_db import copy_alerts, database, replicate, thin
    from healthbridge.store.db import make_engine
    from healthbridge.store.reindex import rebuild_rule_inputs
    from healthbridge.store.repository import Repository

    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {"workers": args.workers}
    if args.reuse_url is not None:
        repo = Repository(make_engine(args.reuse_url))
        name = repo.engine.url.database
        result["backend"] = repo.engine.dialect.name
        for k in range(args.runs):
            for source in sources:
                label = f"re-run {k + 1} on {name} ({source}{', dry run' if args.dry_run else ''})"
                runs.append(run(repo, label, args.workers, source, dry_run=args.dry_run))
        repo.engine.dispose()
    elif args.reuse is not None:
        repo = Repository(make_engine(f"sqlite:///{args.reuse}"))
        if args.thin:
            start = time.perf_counter()
            removed = thin(repo.engine)
            print(
                f"thinned: {removed:,} Observations removed in {time.perf_counter() - start:.0f} s"
            )
            result["thinned_observations"] = removed
        if args.backfill:
            result["backfill"] = backfill(repo.engine, rebuild_rule_inputs)
        for k in range(args.runs):
            for source in sources:
                label = f"re-run {k + 1} on {args.reuse.name} ({source})"
                runs.append(run(repo, label, args.workers, source))
        repo.engine.dispose()
    else:
        shutil.rmtree(args.data, ignore_errors=True)
        args.data.mkdir(parents=True)
        base = args.data / "base.sqlite3"
        repo, counts, load_s = database(f"sqlite:///{base}", args.children)
        print(f"loaded {sum(counts.values()):,} resources in {load_s:.1f} s: {counts}")
        result |= {"base_resources": counts, "load_seconds": round(load_s, 1)}
        if args.thin:
            removed = thin(repo.engine)
            print(f"thinned: {removed:,} Observations removed")
            result["thinned_observations"] = removed
        grown = args.data / "grown.sqlite3"
        if args.copies > 1:
            shutil.copy(base, grown)  # before any alert exists
        runs.append(run(repo, "first (creates alerts)", args.workers))
        runs.append(run(repo, "second (nothing changes)", args.workers))
        repo.engine.dispose()
        if args.copies > 1:
            engine = make_engine(f"sqlite:///{grown}")
            start = time.perf_counter()
            total = replicate(engine, args.copies, source=base)
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
            if args.backfill:
                result["backfill"] = backfill(engine, rebuild_rule_inputs)
            for source in sources:
                label = f"re-run x{args.copies} ({source})"
                runs.append(run(Repository(engine), label, args.workers, source))
            engine.dispose()
        if args.keep:
            print(f"kept {grown}")
        else:
            shutil.rmtree(args.data, ignore_errors=True)
    if args.write:
        print(f"wrote {write_result('evaluate_district', args.label, {**result, 'runs': runs})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
