"""Ingest benchmark: transaction Bundles of growth Observations through the HTTP API.

Creates ``--children`` Patients (in transaction Bundles), then ``--obs-per-child``
Observations per child in transaction Bundles of ``--bundle-size`` entries, against
``healthbridge serve`` on a loopback port, and prints resources/s. The database is left in
place for bench/search.py and bench/read.py (``--database-url``; default: a fresh SQLite file
under bench/.data).

    .venv/bin/python -m bench.ingest --children 10000 --obs-per-child 50
    .venv/bin/python -m bench.ingest --database-url postgresql+psycopg://... --children 1000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench._common import (
    add_worker_thread_option,
    auth_headers,
    backend_name,
    child,
    observations,
    pipeline_workers,
    server,
    server_cpu_seconds,
    transaction,
    worker_thread_env,
    write_result,
)

DATA = Path(__file__).resolve().parent / ".data"


def post_bundle(client: httpx.Client, base: str, resources: list[dict[str, Any]]) -> list[str]:
    r = client.post(
        base,
        json=transaction(resources),
        headers={"Content-Type": "application/fhir+json", "Prefer": "return=minimal"},
    )
    r.raise_for_status()
    return [e["response"]["location"].split("/_history")[0] for e in r.json()["entry"]]


def populate(
    base: str,
    *,
    children: int,
    obs_per_child: int,
    bundle_size: int,
    concurrency: int = 1,
    seed: int = 1,
) -> dict[str, Any]:
    rng = random.Random(seed)
    with httpx.Client(timeout=600, headers=auth_headers()) as client:
        t0 = time.perf_counter()
        patients: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, children, bundle_size):
            batch = [child(i, rng) for i in range(start, min(children, start + bundle_size))]
            refs = post_bundle(client, base, batch)
            patients += [(ref, p) for ref, p in zip(refs, batch, strict=True)]
        t_patients = time.perf_counter() - t0
        total_obs = children * obs_per_child
        sessions = -(-obs_per_child // 3)

        def bundles() -> Iterator[list[dict[str, Any]]]:
            pending: list[dict[str, Any]] = []
            for n in range(obs_per_child):
                for measured in observations(patients, n, rng, sessions):
                    pending.append(measured)
                    if len(pending) == bundle_size:
                        yield pending
                        pending = []
            if pending:
                yield pending

        t1 = time.perf_counter()
        cpu0 = server_cpu_seconds(base)
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            # at most 2 * concurrency bundles in flight (bounded memory)
            in_flight: list[Future[list[str]]] = []
            for chunk in bundles():
                in_flight.append(pool.submit(post_bundle, client, base, chunk))
                if len(in_flight) >= 2 * concurrency:
                    in_flight.pop(0).result()
            for fut in in_flight:
                fut.result()
        t_obs = time.perf_counter() - t1
        cpu_obs = server_cpu_seconds(base) - cpu0
        t_drain, peak = wait_drained(client, base)
        cpu_all = server_cpu_seconds(base) - cpu0
    return {
        "children": children,
        "observations": total_obs,
        "bundle_size": bundle_size,
        "client_concurrency": concurrency,
        "patients_per_s": round(children / t_patients, 1),
        "observations_per_s": round(total_obs / t_obs, 1) if total_obs else None,
        "server_cpu_ms_per_observation": round(1000 * cpu_obs / total_obs, 3)
        if total_obs
        else None,
        "seconds": round(t_patients + t_obs, 1),
        # end to end: until the pipeline's queue is empty (derived results written)
        "drain_seconds": round(t_drain, 1),
        "queued_at_end": peak,
        "end_to_end_per_s": round((children + total_obs) / (t_patients + t_obs + t_drain), 1),
        "server_cpu_ms_per_resource_end_to_end": round(1000 * cpu_all / (total_obs or 1), 3),
    }


def wait_drained(client: httpx.Client, base: str) -> tuple[float, int]:
    """Seconds until ``$pipeline-status`` shows an empty queue (0 inline), and the queue's
    length when the last Bundle was answered."""
    t0 = time.perf_counter()
    first: int | None = None
    while True:
        r = client.get(f"{base}/$pipeline-status")
        if r.status_code == 404:  # the pipeline is off
            return 0.0, 0
        r.raise_for_status()
        queued = next(p["valueInteger"] for p in r.json()["parameter"] if p["name"] == "queued")
        first = queued if first is None else first
        if queued == 0:
            return time.perf_counter() - t0, first
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--obs-per-child", type=int, default=5)
    parser.add_argument("--bundle-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1, help="bundles posted in parallel")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--pipeline",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run the clinical pipeline (derived z-scores, alerts) on ingest; off measures the "
        "FHIR server itself",
    )
    parser.add_argument(
        "--pipeline-mode",
        choices=("inline", "outbox"),
        default="inline",
        help="inline: evaluated in each write's transaction; outbox: queued, evaluated by the "
        "server's worker thread (and --pipeline-workers separate processes)",
    )
    parser.add_argument(
        "--pipeline-workers", type=int, default=0, help="`healthbridge worker` processes"
    )
    add_worker_thread_option(parser)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    url = args.database_url
    if not url:
        shutil.rmtree(DATA, ignore_errors=True)
        DATA.mkdir(parents=True)
        url = f"sqlite:///{DATA / 'bench.sqlite3'}"
    load_before = os.getloadavg()
    extra = {"HEALTHBRIDGE_PIPELINE_MODE": args.pipeline_mode, **worker_thread_env(args)}
    with (
        server(url, DATA, workers=args.workers, pipeline=args.pipeline, extra_env=extra) as base,
        pipeline_workers(url, args.pipeline_workers, extra, DATA),
    ):
        result = populate(
            base,
            children=args.children,
            obs_per_child=args.obs_per_child,
            bundle_size=args.bundle_size,
            concurrency=args.concurrency,
        )
    result["backend"] = backend_name(url)
    result["server_workers"] = args.workers
    result["clinical_pipeline"] = args.pipeline
    result["pipeline_mode"] = args.pipeline_mode if args.pipeline else ""
    result["pipeline_workers"] = args.pipeline_workers
    result["server_worker_thread"] = args.server_worker_thread
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"{result['backend']}: {result['children']} patients at {result['patients_per_s']}/s; "
        f"{result['observations']} observations in bundles of {result['bundle_size']} at "
        f"{result['observations_per_s']} resources/s, server CPU "
        f"{result['server_cpu_ms_per_observation']} ms per resource "
        f"({args.concurrency} client(s), {args.workers} server worker(s)); end to end "
        f"{result['end_to_end_per_s']} resources/s (queue drained in {result['drain_seconds']} s)"
    )
    print("wrote", write_result("ingest", args.label, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
