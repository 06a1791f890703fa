"""Read throughput with concurrent clients on loopback (requests/s).

Reads random ``Patient/[id]`` and ``Observation/[id]`` with ``--clients`` threads for
``--requests`` requests in total against a database populated by bench/ingest.py.

    .venv/bin/python -m bench.read --clients 8 --requests 5000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from pathlib import Path

import httpx

from bench._common import auth_headers, backend_name, server, server_cpu_seconds, write_result

DATA = Path(__file__).resolve().parent / ".data"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=f"sqlite:///{DATA / 'bench.sqlite3'}")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    with (
        server(args.database_url, DATA, workers=args.workers) as base,
        httpx.Client(timeout=60, headers=auth_headers()) as c,
    ):
        refs = [
            f"Patient/{e['resource']['id']}"
            for e in c.get(f"{base}/Patient?_count=500&_elements=id").json().get("entry", [])
        ] + [
            f"Observation/{e['resource']['id']}"
            for e in c.get(f"{base}/Observation?_count=500&_elements=id").json().get("entry", [])
        ]
        if not refs:
            raise SystemExit("database is empty: run bench.ingest first")
        per_client = args.requests // args.clients
        errors: list[int] = []

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(timeout=60, headers=auth_headers()) as client:
                for _ in range(per_client):
                    r = client.get(f"{base}/{rng.choice(refs)}")
                    if r.status_code != 200:
                        errors.append(r.status_code)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
        load_before = os.getloadavg()
        cpu0 = server_cpu_seconds(base)
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        cpu = server_cpu_seconds(base) - cpu0
    total = per_client * args.clients
    result = {
        "backend": backend_name(args.database_url),
        "clients": args.clients,
        "workers": args.workers,
        "requests": total,
        "errors": len(errors),
        "requests_per_s": round(total / elapsed, 1),
        "server_cpu_ms_per_request": round(1000 * cpu / total, 3),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(
        f"{result['backend']}: {total} reads, {args.clients} clients, "
        f"{args.workers} worker(s): {result['requests_per_s']} requests/s, server CPU "
        f"{result['server_cpu_ms_per_request']} ms per request, {len(errors)} errors"
    )
    print("wrote", write_result("read", args.label, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
