"""Shared helpers for the benchmarks: a server subprocess on loopback and synthetic data."""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._results import record

CHILD_ID = "https://healthbridge.github.io/fhir/sid/child-id"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MEASURES = (
    ("29463-7", "Body weight", "kg"),
    ("8306-3", "Body height lying", "cm"),
    ("9843-4", "Head circumference", "cm"),
)


#: Local token secret of the benchmark server; requests carry a system-role token.
BENCH_SECRET = "healthbridge-bench-secret-0123456789abcdef"


def auth_headers(role: str = "system") -> dict[str, str]:
    """``Authorization`` header with a token the benchmark server accepts."""
    from healthbridge.access.tokens import Role, mint_token

    token = mint_token(secret=BENCH_SECRET, role=Role(role), subject=f"bench-{role}")
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backend_name(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else "sqlite"


@contextmanager
def server(
    database_url: str,
    data_dir: Path,
    workers: int = 1,
    *,
    pipeline: bool | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run ``healthbridge serve`` in a subprocess on a free loopback port; yield the base URL.

    ``pipeline`` False turns the clinical pipeline off (``HEALTHBRIDGE_CLINICAL_RULESET=``),
    True keeps the default rule set, None leaves the environment as it is. ``extra_env``
    adds settings (e.g. ``HEALTHBRIDGE_PIPELINE_MODE``).
    """
    port = free_port()
    env = {
        **os.environ,
        "HEALTHBRIDGE_DATABASE_URL": database_url,
        "HEALTHBRIDGE_DATA_DIR": str(data_dir),
        "HEALTHBRIDGE_AUTH_SECRET": BENCH_SECRET,
    }
    env["HEALTHBRIDGE_MAX_PAGE_SIZE"] = "1000"
    env.update(extra_env or {})
    if pipeline is False:
        env["HEALTHBRIDGE_CLINICAL_RULESET"] = ""
    elif pipeline is True:
        env.pop("HEALTHBRIDGE_CLINICAL_RULESET", None)
    cmd = [
        sys.executable,
        "-m",
        "healthbridge.cli",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}/fhir"
    _SERVER_PIDS[base] = proc.pid
    try:
        deadline = time.monotonic() + 900  # first start may run migrations on big data
        while True:
            try:
                if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield base
    finally:
        _SERVER_PIDS.pop(base, None)
        proc.terminate()
        proc.wait(timeout=30)


_SERVER_PIDS: dict[str, int] = {}


def server_cpu_seconds(base: str) -> float:
    """CPU seconds (user + system) used so far by the server at ``base`` and its worker
    processes (Linux ``/proc``). On a machine shared with other work this is a fairer measure
    of the server's cost than wall-clock throughput."""
    root = _SERVER_PIDS[base]
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is ppid; utime and stime are the 14th and 15th fields of the line
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total, grew = {root}, 0.0, True
    while grew:
        grew = False
        for pid, (ppid, _cpu) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def child(index: int, rng: random.Random) -> dict[str, Any]:
    birth = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 1000))
    return {
        "resourceType": "Patient",
        "identifier": [{"system": CHILD_ID, "value": f"C{index:07d}"}],
        "name": [{"family": rng.choice("王李张刘陈杨赵黄周吴"), "given": ["宝宝"]}],
        "gender": rng.choice(("male", "female")),
        "birthDate": birth.isoformat(),
    }


#: the growth indicator of each measured code (growth_standards)
INDICATORS = {"29463-7": "wfa", "8306-3": "lhfa", "8302-2": "lhfa", "9843-4": "hcfa"}


def observations(
    patients: Sequence[tuple[str, Mapping[str, Any]]],
    n: int,
    rng: random.Random,
    sessions: int = 4,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """Measurement ``n`` of each child (``(reference, Patient)`` pairs): weight, length
    (height from 2 years) and head circumference in turn, three a session; ``sessions``
    sessions a month apart, the last within ten days before ``today``. Plausible values: the
    WHO median's value at the child's own z-score for the indicator (drawn once per child,
    N(0, 0.7) within ±1.8) plus a little noise, so that the alerts are those a cohort of
    healthy children gets (no vaccination or checkup is written: those alerts remain). One
    ``value_at_z`` call per indicator for the whole round: called per measurement, it added
    0.7 s of the client's CPU per 10,000 measurements inside bench/ingest.py's timed window
    (2.4 → 1.7 s to build them, the same resources).

    Before 2026-12-07 the values were implausible (the head circumference followed the length
    formula: 50 cm at birth) and the sessions were one to three months after a birth up to
    four years back, so every child had about ten alerts (bench/results/ingest.md)."""
    from growth_standards.curves import value_at_z

    session = n // 3
    today = today or date.today()
    rows = []
    for ref, kid in patients:
        jitter = random.Random(f"{ref}/{session}").randrange(0, 10)
        born = date.fromisoformat(kid["birthDate"])
        when = max(born, today - timedelta(days=30 * (sessions - 1 - session) + jitter))
        age = (when - born).days
        code, display, unit = MEASURES[n % 3]
        if code == "8306-3" and age >= 730:
            code, display = "8302-2", "Body height"
        own = random.Random(f"{ref}/{INDICATORS[code]}").gauss(0.0, 0.7)
        z = max(-1.8, min(1.8, own)) + rng.gauss(0.0, 0.05)
        rows.append((ref, code, display, unit, when, str(kid["gender"])[0], age, z))
    values = [0.0] * len(rows)
    for indicator in {INDICATORS[r[1]] for r in rows}:
        at = [k for k, r in enumerate(rows) if INDICATORS[r[1]] == indicator]
        found = value_at_z(
            indicator, [rows[k][5] for k in at], [rows[k][6] for k in at], [rows[k][7] for k in at]
        )
        for k, value in zip(at, found.tolist(), strict=True):
            values[k] = value
    return [
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": {"reference": ref},
            "effectiveDateTime": when.isoformat(),
            "valueQuantity": {"value": round(value, 2), "unit": unit, "system": UCUM, "code": unit},
        }
        for (ref, code, display, unit, when, _sex, _age, _z), value in zip(
            rows, values, strict=True
        )
    ]


def transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in resources
        ],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def write_result(benchmark: str, label: str, payload: dict[str, Any]) -> Path:
    """Record a run as one dated row of ``bench/results/<benchmark>.md`` (:mod:`bench._results`)."""
    return record(benchmark, label, payload)


def add_worker_thread_option(parser: argparse.ArgumentParser) -> None:
    """``--server-worker-thread`` / ``--no-server-worker-thread`` (bench/ingest.py and
    bench/burst.py); :func:`worker_thread_env` turns it into the server's setting."""
    parser.add_argument(
        "--server-worker-thread",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="outbox: also drain in the server's worker thread (the default setting); "
        "--no-server-worker-thread leaves the queue to the --pipeline-workers processes",
    )


def worker_thread_env(args: argparse.Namespace) -> dict[str, str]:
    """The server setting for ``--no-server-worker-thread`` (nothing for the default)."""
    return {} if args.server_worker_thread else {"HEALTHBRIDGE_PIPELINE_WORKER_THREAD": "false"}


@contextmanager
def pipeline_workers(url: str, count: int, extra: dict[str, str], data_dir: Path) -> Iterator[None]:
    """``count`` ``healthbridge worker`` processes beside the server (outbox mode, the
    server's ``data_dir``), yielded
    once each has printed its ``worker: ready`` line: a worker's start-up (about 3 s of CPU)
    is not part of what is measured, as the server's is not — in production both are up
    before the writes come."""
    env = {**os.environ, **extra, "HEALTHBRIDGE_DATABASE_URL": url}
    env["HEALTHBRIDGE_DATA_DIR"] = str(data_dir)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "healthbridge.cli", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # blocks until ready; "" if the worker exited
            if not line.startswith("worker: ready"):
                raise RuntimeError(f"a pipeline worker did not start (exit {proc.poll()})")
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
