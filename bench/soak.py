"""Soak test on loopback: the three roles' request mix against a demo district.

Starts ``healthbridge serve`` on a fresh database, loads a synthetic district
(``healthbridge.demo``: organisations, classes, staff, then one transaction Bundle per child),
then runs ``--clients`` threads until ``--requests`` requests are done or ``--seconds`` have
passed, whichever comes first. The mix:

* parent (40 %): read their child, the child's weights sorted by date, immunisations, and
  now and then ``Patient/[id]/$everything``;
* health manager (30 %): searches across the centre (morning-check temperatures of a day,
  children born after a date, symptoms observed, recent visits), 50 per page;
* paediatrician (30 %): record a weight for a child (POST Observation), read the child,
  search the child's recent measurements.

Reported: throughput, p50/p95/p99 latency per role and overall, error rate (HTTP >= 400 or
transport errors), and the server's resident memory (VmRSS) at start, middle and end of the
soak. Written to ``bench/results/soak.md`` (a row appended to its history table per run).

    .venv/bin/python -m bench.soak --children 60 --clients 6 --requests 3000 --seconds 120
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from bench._common import RESULTS, backend_name, free_port, percentile

DATA = Path(__file__).resolve().parent / ".data"
HEADERS = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
AS_OF = dt.date(2026, 11, 1)
#: Roles drawn per request group: parent 40 %, health manager 30 %, paediatrician 30 %.
_MIX = ("p", "p", "p", "p", "m", "m", "m", "d", "d", "d")


def _headers() -> dict[str, str]:
    token = os.environ.get("HEALTHBRIDGE_BENCH_BEARER")  # once the access layer requires it
    return {**HEADERS, **({"Authorization": f"Bearer {token}"} if token else {})}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Soak:
    """The request mix and its measurements."""

    def __init__(self, base: str, children: list[str], seed: int) -> None:
        self.base = base
        self.children = children
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []
        self.done = 0

    def _pick(self) -> tuple[str, str]:
        with self.lock:
            return self.rng.choice(self.children), self.rng.choice(_MIX)

    def _requests(self, role: str, child: str, rng: random.Random) -> list[tuple[str, str, Any]]:
        if role == "parent":
            out: list[tuple[str, str, Any]] = [
                ("GET", f"/Patient/{child}", None),
                ("GET", f"/Observation?subject=Patient/{child}&code=29463-7&_sort=date", None),
                ("GET", f"/Immunization?patient=Patient/{child}", None),
            ]
            if rng.random() < 0.2:
                out.append(("GET", f"/Patient/{child}/$everything", None))
            return out
        if role == "health-manager":
            day = AS_OF - dt.timedelta(days=rng.randrange(1, 60))
            born = AS_OF - dt.timedelta(days=rng.randrange(100, 1000))
            return [
                ("GET", f"/Observation?code=8310-5&date={day.isoformat()}&_count=50", None),
                ("GET", f"/Patient?birthdate=ge{born.isoformat()}&_count=50", None),
                ("GET", "/Observation?code=75325-1&_count=50&_sort=-date", None),
                ("GET", f"/Encounter?date=ge{day.isoformat()}&_count=50", None),
            ]
        weight = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": f"Patient/{child}"},
            "effectiveDateTime": AS_OF.isoformat(),
            "valueQuantity": {"value": round(rng.uniform(6, 16), 2), "unit": "kg",
                              "system": "http://unitsofmeasure.org", "code": "kg"},
        }  # fmt: skip
        return [
            ("GET", f"/Patient/{child}", None),
            ("POST", "/Observation", weight),
            ("GET", f"/Observation?subject=Patient/{child}&_sort=-date&_count=20", None),
        ]

    def run(self, clients: int, max_requests: int, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        start = time.monotonic()

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            roles = {"p": "parent", "m": "health-manager", "d": "paediatrician"}
            with httpx.Client(base_url=self.base, headers=_headers(), timeout=60) as client:
                while time.monotonic() < deadline:
                    child, r = self._pick()
                    role = roles[r]
                    for method, url, body in self._requests(role, child, rng):
                        with self.lock:
                            if self.done >= max_requests:
                                return
                            self.done += 1
                        t0 = time.perf_counter()
                        try:
                            resp = client.request(method, url, json=body)
                            status = resp.status_code
                        except httpx.HTTPError as exc:
                            status = 0
                            resp = None
                            sample = f"{method} {url}: {type(exc).__name__}"
                        elapsed = time.perf_counter() - t0
                        with self.lock:
                            self.latencies[role].append(elapsed)
                            if status == 0 or status >= 400:
                                self.errors[role] += 1
                                if len(self.error_samples) < 10:
                                    text = resp.text[:200] if resp is not None else sample
                                    self.error_samples.append(f"{status} {method} {url} {text}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.monotonic() - start


def _load(base: str, children: int, seed: int) -> tuple[list[str], float, int]:
    from healthbridge.demo.bundles import bundles
    from healthbridge.demo.population import generate

    district = generate(children=children, seed=seed, as_of=AS_OF)
    t0 = time.perf_counter()
    resources = 0
    with httpx.Client(base_url=base, headers=_headers(), timeout=300) as client:
        for bundle in bundles(district):
            r = client.post("", json=bundle, headers={"Prefer": "return=minimal"})
            if r.status_code != 200:
                raise RuntimeError(f"loading the district failed: {r.status_code} {r.text[:500]}")
            resources += len(bundle["entry"])
    return [c.id for c in district.children], time.perf_counter() - t0, resources


def _figures(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--children", type=int, default=60)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--requests", type=int, default=3000, help="stop after this many")
    parser.add_argument("--seconds", type=float, default=120, help="stop after this long")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    url = args.database_url
    if not url:
        path = DATA / "soak.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    port = free_port()
    env = {**os.environ, "HEALTHBRIDGE_DATABASE_URL": url, "HEALTHBRIDGE_DATA_DIR": str(DATA)}
    code = "import sys; from healthbridge.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        children, load_s, loaded = _load(base, args.children, args.seed)
        soak = Soak(base, children, args.seed)
        rss: list[tuple[float, int]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                rss.append((time.monotonic() - t0, _rss_kib(proc.pid)))
                stop.wait(1.0)

        sampler = threading.Thread(target=sample)
        sampler.start()
        elapsed = soak.run(args.clients, args.requests, args.seconds)
        stop.set()
        sampler.join()
        rss.append((elapsed, _rss_kib(proc.pid)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    all_lat = [x for v in soak.latencies.values() for x in v]
    total = len(all_lat)
    errors = sum(soak.errors.values())
    mid = rss[len(rss) // 2][1]
    result: dict[str, Any] = {
        "backend": backend_name(url),
        "label": args.label,
        "children": args.children,
        "resources_loaded": loaded,
        "load_seconds": round(load_s, 1),
        "clients": args.clients,
        "requests": total,
        "seconds": round(elapsed, 1),
        "throughput_rps": round(total / elapsed, 1),
        "error_rate": round(errors / total, 5) if total else None,
        "errors": dict(soak.errors),
        "error_samples": soak.error_samples,
        **_figures(all_lat),
        "roles": {
            role: {"requests": len(v), "errors": soak.errors.get(role, 0), **_figures(v)}
            for role, v in sorted(soak.latencies.items())
        },
        "rss_mib": {
            "start": round(rss[0][1] / 1024, 1),
            "middle": round(mid / 1024, 1),
            "end": round(rss[-1][1] / 1024, 1),
            "max": round(max(r for _t, r in rss) / 1024, 1),
        },
    }
    _append_markdown(result)
    print(f"{total} requests in {elapsed:.1f} s: {result['throughput_rps']} req/s, "
          f"p95 {result.get('p95_ms')} ms, p99 {result.get('p99_ms')} ms, "
          f"errors {errors}, RSS MiB {result['rss_mib']}")  # fmt: skip
    return 0 if errors == 0 else 1


def _append_markdown(r: dict[str, Any]) -> None:
    path = RESULTS / "soak.md"
    if not path.exists():
        path.write_text(
            "# Soak runs (bench/soak.py)\n\n"
            "Loopback, one uvicorn worker, demo district loaded first. Latencies in ms; RSS of\n"
            "the server process in MiB at start / middle / end (max).\n\n## History\n\n"
            "| recorded | backend | children (resources) | clients | requests | s | req/s "
            "| p50 | p95 | p99 | error rate | RSS start/mid/end (max) | per role p95 |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
            encoding="utf-8",
        )
    roles = ", ".join(f"{k} {v.get('p95_ms')}" for k, v in r["roles"].items())
    m = r["rss_mib"]
    row = (
        f"| {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} | {r['backend']} "
        f"| {r['children']} ({r['resources_loaded']}) | {r['clients']} | {r['requests']} "
        f"| {r['seconds']} | {r['throughput_rps']} | {r.get('p50_ms')} | {r.get('p95_ms')} "
        f"| {r.get('p99_ms')} | {r['error_rate']} "
        f"| {m['start']}/{m['middle']}/{m['end']} ({m['max']}) | {roles} |\n"
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(row)


if __name__ == "__main__":
    sys.exit(main())
