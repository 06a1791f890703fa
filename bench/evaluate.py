"""Benchmark the clinical rules (``healthbridge.clinical.evaluate``) on a synthetic district.

    .venv/bin/python -m bench.evaluate --children 100000 --observations 2000000 --write

Generates a seeded synthetic population (healthbridge.clinical.synthetic), then times the
batch evaluation serially and with ``--workers`` processes, printing children/s, wall and CPU
seconds (this process and its worker processes) and the load average (the machine is shared).
A third, serial run times each rule family on its own (``--no-families`` skips it);
``--reference`` also times the per-child schedule path (the oracle the vectorised rules are
tested against). ``--write`` appends the figures to bench/results/evaluate.md. The population
is generated once and is not part of the timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from healthbridge.clinical import evaluate as ev
from healthbridge.clinical import schedule_arrays as sa
from healthbridge.clinical import schedule_care as sc
from healthbridge.clinical import schedule_vaccination as sv
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.nutrition import nutrition_frame, prepare_growth
from healthbridge.clinical.records import DistrictData, centre_daily_checks
from healthbridge.clinical.ruleset import RuleSet, load_ruleset
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district
from healthbridge.clinical.vaccination import DoseStatus
from healthbridge.clinical.velocity_batch import velocity_frame

RESULTS = Path(__file__).parent / "results" / "evaluate.md"
T = TypeVar("T")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def family_times(data: DistrictData, ruleset: RuleSet, as_of: date) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds of each rule family run on its own, in one process."""
    out: dict[str, dict[str, float]] = {}

    def timed(name: str, run: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        out[name] = {
            "wall_s": round(time.perf_counter() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
        }
        return result

    growth = ev._until(data.growth, "date", as_of)
    g = timed(
        "growth: preparation (sort once)",
        lambda: prepare_growth(growth.assign(child_id=growth["child_id"].astype(str))),
    )
    timed(
        "growth: nutrition",
        lambda: nutrition_frame(g, ruleset.nutrition, ruleset.nutrition_convention, prepared=True),
    )
    timed(
        "growth: velocity, faltering, gaps",
        lambda: velocity_frame(g, data.children, ruleset.velocity, as_of, prepared=True),
    )
    rows = sa.FindingRows()
    ch = sa.children_arrays(data.children)
    if ch is None:
        raise SystemExit("synthetic child ids repeat")
    timed(
        "checkups & 4:2:2",
        lambda: sc.checkup_frame(ch, data.checkups, ruleset.checkups, as_of, rows),
    )
    keep = (DoseStatus.DUE, DoseStatus.OVERDUE, *sc.incomplete_statuses(ruleset.vaccination))
    states = timed(
        "vaccination: schedule, catch-up, live rule",
        lambda: sv.vaccination_states(ch, data.doses, ruleset.vaccination, as_of, keep),
    )
    timed(
        "vaccination: findings",
        lambda: sv.vaccination_frame(ch, states, ruleset.vaccination, rows),
    )
    timed(
        "admission checks",
        lambda: sc.admission_frame(ch, data.enrolments, states, ruleset.vaccination, as_of, rows),
    )
    window = max(w.days for w in ruleset.daily_check.cluster_windows)
    recent = ev._until(data.daily_checks, "date", as_of, window)
    timed(
        "daily checks (fever, symptoms)",
        lambda: sc.daily_check_frame(ch, recent, ruleset.daily_check, as_of, rows),
    )
    timed("anaemia", lambda: sc.anaemia_frame(ch, data.haemoglobin, ruleset.anaemia, as_of, rows))
    timed(
        "warning-sign screenings",
        lambda: sc.screening_frame(ch, data.screenings, ruleset.screening, as_of, rows),
    )

    def clusters() -> int:
        cases = replace(data, daily_checks=sc.syndromic_checks(recent, ruleset.daily_check))
        return sum(
            len(ev.evaluate_centre(c, checks, ruleset, as_of))
            for c, checks in centre_daily_checks(cases)
        )

    timed("class clusters", clusters)
    timed("findings frame", rows.frame)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=200_000, help="target rows in total")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--no-families", action="store_true", help="skip the per-family run")
    parser.add_argument(
        "--reference", action="store_true", help="also time the per-child schedule path"
    )
    parser.add_argument("--write", action="store_true", help="append to bench/results/evaluate.md")
    args = parser.parse_args(argv)

    ruleset = load_ruleset("cn-child-health", "2026.1")
    # the generator gives about 9 non-growth observations per child (Hb, warning-sign
    # screenings, daily checks for centre children); growth measurements make up the rest
    per_child = max(1, round(args.observations / args.children) - 9)
    spec = SyntheticSpec(children=args.children, measurements_per_child=per_child, seed=args.seed)
    t0 = time.perf_counter()
    data = synthetic_district(spec, ruleset)
    generated = time.perf_counter() - t0
    counts = {
        "growth": len(data.growth),
        "haemoglobin": len(data.haemoglobin),
        "screenings": len(data.screenings),
        "daily_checks": len(data.daily_checks),
    }
    observations = sum(counts.values())
    print(
        f"population: {args.children} children, {observations} observations {counts}, "
        f"{len(data.doses)} doses, {len(data.checkups)} checkups (generated in {generated:.1f} s)"
    )

    load_start = os.getloadavg()
    runs: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    for workers in sorted({1, args.workers}):
        t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
        frame = ev.evaluate_district(data, ruleset, spec.as_of, workers=workers)
        seconds = time.perf_counter() - t0
        cpu, workers_cpu = time.process_time() - c0, _children_cpu() - k0
        frames.append(frame)
        runs.append(
            {
                "workers": workers,
                "wall_s": round(seconds, 2),
                "cpu_s": round(cpu, 2),
                "worker_cpu_s": round(workers_cpu, 2),
                "children_per_s": round(args.children / seconds),
                "findings": len(frame),
                "load_after": round(os.getloadavg()[0], 2),
            }
        )
        print(
            f"workers={workers}: {seconds:.1f} s wall, CPU {cpu:.1f} s + {workers_cpu:.1f} s in "
            f"workers, {args.children / seconds:,.0f} children/s, "
            f"{observations / seconds:,.0f} observations/s, {len(frame)} findings"
        )
    if len(frames) > 1:
        same = frame_to_findings(frames[0]) == frame_to_findings(frames[-1])
        print(f"parallel findings identical to serial: {same}")
    kinds = frames[0]["kind"].value_counts().to_dict()
    print("findings by kind:", kinds)

    families: dict[str, dict[str, float]] = {}
    if not args.no_families:
        families = family_times(data, ruleset, spec.as_of)
        for name, t in families.items():
            print(f"  {name:44s} {t['wall_s']:7.2f} s wall {t['cpu_s']:7.2f} s CPU")
    reference: dict[str, float] = {}
    if args.reference:
        recent = replace(
            data,
            daily_checks=ev._until(data.daily_checks, "date", spec.as_of, 3),
            children=data.children.assign(child_id=data.children["child_id"].astype(str)),
        )
        t0, c0 = time.perf_counter(), time.process_time()
        ev._reference_schedule_frame(recent, ruleset, spec.as_of)
        reference = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(time.process_time() - c0, 2),
        }
        print(f"per-child schedule path (reference): {reference}")
    load_end = os.getloadavg()

    if args.write:
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        cpu_name = platform.processor() or platform.machine()
        lines = [
            f"\n## {when}: {args.children:,} children, {observations:,} observations\n",
            f"- machine: {cpu_name}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
            f"load average at start {load_start[0]:.2f} / {load_start[1]:.2f}, at end "
            f"{load_end[0]:.2f} / {load_end[1]:.2f} (shared machine)",
            f"- population: {counts}, {len(data.doses):,} doses, {len(data.checkups):,} checkups "
            f"(seed {args.seed}; generated in {generated:.1f} s, not timed)",
        ]
        for run in runs:
            lines.append(
                f"- workers={run['workers']}: **{run['wall_s']:.1f} s**, "
                f"**{run['children_per_s']:,} children/s**, "
                f"{observations / run['wall_s']:,.0f} observations/s, "
                f"{run['findings']:,} findings; "
                f"CPU {run['cpu_s']:.1f} s + {run['worker_cpu_s']:.1f} s in worker processes"
            )
        lines.append(f"- findings by kind: {kinds}")
        if families:
            lines.append("- rule families, one process (wall / CPU seconds):")
            lines += [
                f"  - {name}: {t['wall_s']:.2f} / {t['cpu_s']:.2f}" for name, t in families.items()
            ]
        if reference:
            lines.append(
                f"- per-child schedule path (the former implementation, kept as the test "
                f"oracle): {reference['wall_s']:.1f} s wall / {reference['cpu_s']:.1f} s CPU"
            )
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
