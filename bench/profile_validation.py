"""Throughput of the Python profile validator over the packaged valid examples.

    .venv/bin/python -m bench.profile_validation [--rounds N] [--label NAME]

Prints resources per second and appends a row to bench/results/profile_validation.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from bench._results import record
from fhir_profiles import loader
from healthbridge.fhir.profile_validation import validate_against_profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--label", default="", help="the history row's label (round of work)")
    args = parser.parse_args()
    resources = [loader.example("valid", n) for n in loader.example_names("valid")]
    for r in resources:  # warm the caches (snapshots, expansions)
        validate_against_profiles(r)
    start = time.perf_counter()
    for _ in range(args.rounds):
        for r in resources:
            validate_against_profiles(r)
    elapsed = time.perf_counter() - start
    count = args.rounds * len(resources)
    result = {
        "resources": count,
        "seconds": round(elapsed, 4),
        "per_second": round(count / elapsed),
        "ms_per_resource": round(1000 * elapsed / count, 4),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    print("wrote", record("profile_validation", args.label, result))


if __name__ == "__main__":
    main()
