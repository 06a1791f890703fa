"""Throughput of the Python profile validator over the packaged valid examples.

    .venv/bin/python bench/profile_validation.py [--rounds N]

Prints resources per second and writes bench/results/profile_validation.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from fhir_profiles import loader
from healthbridge.fhir.profile_validation import validate_against_profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
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
    out = Path(__file__).parent / "results" / "profile_validation.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
