"""Morning-burst benchmark (issue 19 item 5): every centre saves its class's morning checks.

Between 8 and 9 am each childcare centre's health manager enters the class's morning check
(temperature, symptoms) on the morning-check page, which saves it in one transaction. This
benchmark builds ``--centres`` centres of ``--children`` enrolled children each (one class),
brings the district to its evaluated steady state (``healthbridge evaluate``), then lets every
centre POST its class's check — the page's Observations
(:func:`healthbridge.web.daily.check_resources`, conditional creates on the check identifier,
one transaction Bundle per class) — at a moment
drawn uniformly over ``--window`` seconds (the real window is 15 minutes; a run here scales it
down, e.g. 120–180 s, and says so). About 3 % of the children have a fever (with a symptom),
and a few classes have three febrile children (an outbreak cluster for the centre).

Recorded: the write latency of the Bundles (p50/p95/p99/max), the server CPU, and the pipeline
lag — for the outbox mode ``$pipeline-status`` ``oldestAgeSeconds`` sampled every second
(p95 and max: how long the oldest queued change had been waiting) and the queue's drain time
after the last write was answered; inline, the results are written in the write itself
(lag 0, paid in write latency). Last, on the quiet server, five single febrile checks: the
time from sending one until its results are written (the issue's "within a second").

    python -m bench.burst --centres 200 --children 25 --window 180 --mode outbox --label NAME
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench._common import (
    add_worker_thread_option,
    auth_headers,
    backend_name,
    percentile,
    pipeline_workers,
    server,
    server_cpu_seconds,
    worker_thread_env,
    write_result,
)
from healthbridge import terminology as t
from healthbridge.web.daily import SID_DAILY_CHECK, CheckRow, check_resources

DATA = Path(__file__).resolve().parent / ".data-burst"
ENROLMENT = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
STAFF_ROLE = f"{t.CANONICAL_BASE}/CodeSystem/staff-role"
CST = dt.timezone(dt.timedelta(hours=8))


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }


def centre_bundle(c: int, children: int, rng: random.Random, today: dt.date) -> dict[str, Any]:
    """One centre: the Organization, its health manager, a class Location, the children."""
    org, room = f"burst-c{c:04d}", f"burst-c{c:04d}-r1"
    entries = [
        _put(
            {
                "resourceType": "Organization",
                "id": org,
                "identifier": [{"system": t.SID_ORG_CODE, "value": org}],
                "type": [{"coding": [{"system": t.CS_ORG_KIND, "code": "childcare-centre"}]}],
                "name": f"托育机构 {c}",
            }
        ),
        _put(
            {
                "resourceType": "PractitionerRole",
                "id": f"{org}-hm",
                "organization": {"reference": f"Organization/{org}"},
                "code": [{"coding": [{"system": STAFF_ROLE, "code": "health-manager"}]}],
            }
        ),
        _put(
            {
                "resourceType": "Location",
                "id": room,
                "name": "小一班",
                "managingOrganization": {"reference": f"Organization/{org}"},
            }
        ),
    ]
    for k in range(children):
        birth = today - dt.timedelta(days=rng.randrange(400, 1000))
        since = birth + dt.timedelta(days=365)
        entries.append(
            _put(
                {
                    "resourceType": "Patient",
                    "id": f"{org}-k{k:02d}",
                    "identifier": [{"system": t.SID_CHILD_ID, "value": f"{org}-k{k:02d}"}],
                    "name": [{"family": rng.choice("王李张刘陈"), "given": ["宝宝"]}],
                    "gender": rng.choice(("male", "female")),
                    "birthDate": birth.isoformat(),
                    "extension": [
                        {
                            "url": ENROLMENT,
                            "extension": [
                                {
                                    "url": "centre",
                                    "valueReference": {"reference": f"Organization/{org}"},
                                },
                                {"url": "period", "valuePeriod": {"start": since.isoformat()}},
                                {
                                    "url": "class",
                                    "valueReference": {"reference": f"Location/{room}"},
                                },
                            ],
                        }
                    ],
                }
            )
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def check_bundle(
    c: int, children: int, rng: random.Random, today: dt.date, cluster: bool
) -> dict[str, Any]:
    """The class's morning check as the page saves it: conditional creates on the identifier."""
    org = f"burst-c{c:04d}"
    moment = dt.datetime.combine(today, dt.time(8, 30), tzinfo=CST)
    entries = []
    for k in range(children):
        fever = (cluster and k < 3) or rng.random() < 0.03
        row = CheckRow(
            f"{org}-k{k:02d}",
            round(rng.uniform(38.1, 39.0) if fever else rng.uniform(36.3, 37.2), 1),
            ("fever",) if fever else (),
        )
        for key, resource in check_resources(row, today, "morning", None, moment):
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{org}-{k}-{len(entries)}",
                    "resource": resource,
                    "request": {
                        "method": "POST",
                        "url": "Observation",
                        "ifNoneExist": f"identifier={SID_DAILY_CHECK}|{key}",
                    },
                }
            )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def queue_status(client: httpx.Client, base: str) -> tuple[int, float | None]:
    r = client.get(f"{base}/$pipeline-status")
    r.raise_for_status()
    params = {p["name"]: p for p in r.json()["parameter"]}
    age = params.get("oldestAgeSeconds", {}).get("valueDecimal")
    return int(params["queued"]["valueInteger"]), age


def quiet_probes(
    client: httpx.Client, base: str, children: int, today: dt.date, n: int = 5
) -> list[float]:
    """On the quiet server after the burst: milliseconds from sending one febrile morning
    check until its results are written — the answer (inline: evaluated in the write), else
    the first ``$pipeline-status`` showing an empty queue (polled every 20 ms)."""
    out = []
    moment = dt.datetime.combine(today, dt.time(9, 0), tzinfo=CST)
    for k in range(n):
        time.sleep(1.0)
        row = CheckRow(f"burst-c0000-k{children - 1 - k:02d}", 38.9, ("fever",))
        key, resource = check_resources(row, today, "afternoon", None, moment)[0]
        start = time.perf_counter()
        r = client.post(
            f"{base}/Observation",
            json=resource,
            headers={"If-None-Exist": f"identifier={SID_DAILY_CHECK}|{key}"},
        )
        r.raise_for_status()
        while queue_status(client, base)[0]:
            time.sleep(0.02)
        out.append(1000 * (time.perf_counter() - start))
    return out


def setup(url: str, centres: int, children: int, today: dt.date, history_days: int = 0) -> float:
    """The district with the pipeline off — its centres and, for ``history_days`` mornings
    before ``today``, every class's morning check — then evaluated once (its steady state)."""
    rng = random.Random(7)
    t0 = time.perf_counter()
    with (
        server(url, DATA, pipeline=False) as base,
        httpx.Client(timeout=600, headers=auth_headers()) as client,
    ):
        for c in range(centres):
            r = client.post(base, json=centre_bundle(c, children, rng, today))
            r.raise_for_status()
        for back in range(history_days, 0, -1):
            day = today - dt.timedelta(days=back)
            for c in range(centres):
                r = client.post(base, json=check_bundle(c, children, rng, day, False))
                r.raise_for_status()
    env = {**os.environ, "HEALTHBRIDGE_DATABASE_URL": url, "HEALTHBRIDGE_DATA_DIR": str(DATA)}
    subprocess.run(
        [sys.executable, "-m", "healthbridge.cli", "evaluate"], env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def analyse(url: str) -> None:
    """``ANALYZE`` the whole database: the statistics a district's tables have when
    autovacuum has just analysed them before the morning (no check of today yet)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def burst(
    base: str, centres: int, children: int, window: float, clients: int, today: dt.date
) -> dict[str, Any]:
    rng = random.Random(11)
    clusters = set(rng.sample(range(centres), max(1, centres // 50)))
    starts = sorted((rng.uniform(0, window), c) for c in range(centres))
    bundles = {c: check_bundle(c, children, rng, today, c in clusters) for c in range(centres)}
    latencies: list[float] = []
    ages: list[float] = []
    queued_max = 0
    stop = threading.Event()
    outbox = True

    def sample() -> None:
        nonlocal queued_max, outbox
        with httpx.Client(timeout=60, headers=auth_headers()) as c:
            while not stop.is_set():
                try:
                    n, age = queue_status(c, base)
                except httpx.HTTPError:
                    outbox = False
                    return
                queued_max = max(queued_max, n)
                ages.append(age or 0.0)
                stop.wait(1.0)

    sampler = threading.Thread(target=sample)
    sampler.start()
    cpu0 = server_cpu_seconds(base)
    t0 = time.perf_counter()
    with (
        httpx.Client(timeout=600, headers=auth_headers()) as client,
        ThreadPoolExecutor(max_workers=clients) as pool,
    ):

        def post(at: float, c: int) -> None:
            wait = at - (time.perf_counter() - t0)
            if wait > 0:
                time.sleep(wait)
            s = time.perf_counter()
            r = client.post(base, json=bundles[c])
            r.raise_for_status()
            latencies.append(time.perf_counter() - s)

        for fut in [pool.submit(post, at, c) for at, c in starts]:
            fut.result()
        t_writes = time.perf_counter() - t0
        t1 = time.perf_counter()
        while queue_status(client, base)[0]:
            time.sleep(0.2)
        drain = time.perf_counter() - t1
        stop.set()
        sampler.join()
        cpu = server_cpu_seconds(base) - cpu0
        probes = quiet_probes(client, base, children, today)
    observations = sum(len(b["entry"]) for b in bundles.values())
    ms = [1000 * x for x in latencies]
    return {
        "centres": centres,
        "children": centres * children,
        "observations": observations,
        "window_s": window,
        "clients": clients,
        "writes_s": round(t_writes, 1),
        "write_p50_ms": round(percentile(ms, 50)),
        "write_p95_ms": round(percentile(ms, 95)),
        "write_p99_ms": round(percentile(ms, 99)),
        "write_max_ms": round(max(ms)),
        "lag_p95_s": round(percentile(ages, 95), 1) if ages else None,
        "lag_max_s": round(max(ages), 1) if ages else None,
        "queued_max": queued_max,
        "drain_s": round(drain, 1),
        "server_cpu_s": round(cpu, 1),
        "quiet_visible_ms_median": round(percentile(probes, 50)),
        "quiet_visible_ms_max": round(max(probes)),
        "sampled_outbox": outbox,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument("--children", type=int, default=25, help="children per centre")
    parser.add_argument(
        "--window", type=float, default=900.0, help="seconds the checks are spread over"
    )
    parser.add_argument("--clients", type=int, default=16, help="client threads")
    parser.add_argument("--mode", choices=("inline", "outbox"), default="outbox")
    parser.add_argument("--pipeline-workers", type=int, default=0, help="`healthbridge worker`s")
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="mornings of checks before today already stored (0: the district's first morning)",
    )
    parser.add_argument(
        "--analyse",
        action="store_true",
        help="PostgreSQL: ANALYZE after the set-up (planner statistics without today's checks)",
    )
    add_worker_thread_option(parser)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    url = args.database_url
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    if not url:
        url = f"sqlite:///{DATA / 'burst.sqlite3'}"
    today = dt.datetime.now(CST).date()
    setup_s = setup(url, args.centres, args.children, today, args.history_days)
    if args.analyse and backend_name(url) == "postgresql":
        analyse(url)
    load_before = os.getloadavg()
    extra = {"HEALTHBRIDGE_PIPELINE_MODE": args.mode, **worker_thread_env(args)}

    with (
        server(url, DATA, pipeline=True, extra_env=extra) as base,
        pipeline_workers(url, args.pipeline_workers, extra, DATA),
    ):
        result = burst(base, args.centres, args.children, args.window, args.clients, today)
    result.update(
        backend=backend_name(url),
        mode=args.mode,
        pipeline_workers=args.pipeline_workers,
        server_worker_thread=args.server_worker_thread,
        setup_s=round(setup_s, 1),
        history_days=args.history_days,
        analysed="yes" if args.analyse else "no",
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
    )
    print(
        f"{result['backend']} {args.mode}: {result['observations']} check Observations from "
        f"{args.centres} centres over {args.window:.0f} s; write p95 {result['write_p95_ms']} "
        f"ms, p99 {result['write_p99_ms']} ms; lag p95 {result['lag_p95_s']} s, max "
        f"{result['lag_max_s']} s; queue drained {result['drain_s']} s after the last write"
    )
    print("wrote", write_result("burst", args.label, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
