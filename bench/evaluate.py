"""Benchmark ``evaluate_district``: all clinical rules for a synthetic district.

    .venv/bin/python bench/evaluate.py --children 100000 --observations 2000000 --write

Generates a seeded synthetic population (healthbridge.clinical.synthetic), then times the
batch evaluation serially and with ``--workers`` processes, printing children/s. ``--write``
records the figures in bench/results/evaluate.md. The population is generated once and is
not part of the timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from healthbridge.clinical.evaluate import evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.ruleset import load_ruleset
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district

RESULTS = Path(__file__).parent / "results" / "evaluate.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=200_000, help="target rows in total")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--seed", type=int, default=20261120)
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

    runs = []
    for workers in sorted({1, args.workers}):
        t0 = time.perf_counter()
        frame = evaluate_district(data, ruleset, spec.as_of, workers=workers)
        seconds = time.perf_counter() - t0
        runs.append((workers, seconds, frame))
        print(
            f"workers={workers}: {seconds:.1f} s, {args.children / seconds:,.0f} children/s, "
            f"{observations / seconds:,.0f} observations/s, {len(frame)} findings"
        )
    if len(runs) > 1:
        same = frame_to_findings(runs[0][2]) == frame_to_findings(runs[-1][2])
        print(f"parallel findings identical to serial: {same}")
    kinds = runs[0][2]["kind"].value_counts().to_dict()
    print("findings by kind:", kinds)

    if args.write:
        load = os.getloadavg()
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        cpu = platform.processor() or platform.machine()
        lines = [
            f"\n## {when}: {args.children:,} children, {observations:,} observations\n",
            f"- machine: {cpu}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
            f"load average at end {load[0]:.2f} / {load[1]:.2f} (shared machine)",
            f"- population: {counts}, {len(data.doses):,} doses, {len(data.checkups):,} checkups "
            f"(seed {args.seed}; generated in {generated:.1f} s, not timed)",
        ]
        for workers, seconds, frame in runs:
            rate = args.children / seconds
            lines.append(
                f"- workers={workers}: **{seconds:.1f} s**, **{rate:,.0f} children/s**, "
                f"{observations / seconds:,.0f} observations/s, {len(frame):,} findings"
            )
        lines.append(f"- findings by kind: {kinds}")
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
