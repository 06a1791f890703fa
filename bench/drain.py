"""The outbox worker's cost, in process: CPU and wall time of draining the pipeline's queue.

Two workloads on a fresh database (the app in outbox mode without its worker thread, the
same synthetic children and measurements as bench/ingest.py, posted as transaction Bundles
through the API):

* ``queued``: ``--children`` new children and ``--obs-per-child`` measurements each, all
  queued, then drained once (:func:`healthbridge.pipeline.outbox.drain`);
* ``rounds``: ``--children`` children, then ``--obs-per-child`` rounds of one measurement per
  child, the queue drained after every round — each child evaluated once a round, as when
  the worker keeps up with bench/ingest.py's Bundles (each of which touches every child).

Only the drains are timed (process CPU, which counts the write-behind and driver threads,
and wall time); ``--profile FILE`` writes a cProfile of them (thread CPU time). Records a row
in bench/results/drain.md. ``--freeze-gc`` moves what is alive once the Bundles are posted
into the collector's permanent generation before the first drain, as a process that only
drains (``healthbridge worker``, which freezes after its start-up) has it; without it the
drain runs with the collector as a test app has it (the rows before wave e19-drain).

    python -m bench.drain --mode queued --children 500 --obs-per-child 10
    python -m bench.drain --mode rounds --children 200 --obs-per-child 10 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench._common import child, observations, transaction, write_result

DATA = Path(__file__).resolve().parent / ".data" / "drain"
RULESET = "cn-child-health@2026.1/CN"


def _post(client: TestClient, resources: list[dict[str, Any]]) -> list[str]:
    r = client.post("/fhir", json=transaction(resources), headers={"Prefer": "return=minimal"})
    r.raise_for_status()
    return [e["response"]["location"].split("/_history")[0] for e in r.json()["entry"]]


def run(
    url: str, mode: str, children: int, per_child: int, profile: str, freeze_gc: bool = False
) -> dict[str, Any]:
    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import Principal, Role
    from healthbridge.api.deps import get_principal
    from healthbridge.config import Settings
    from healthbridge.pipeline.outbox import drain
    from healthbridge.server.app import create_app
    from healthbridge.store import gc_policy

    settings = Settings(
        database_url=url,
        data_dir=DATA,
        environment="test",
        auth_secret="bench-drain-" * 4,
        clinical_ruleset=RULESET,
        pipeline_mode="outbox",
        pipeline_worker_thread=False,
        max_page_size=1000,
    )
    app = create_app(settings)
    system = Principal("bench", Role.SYSTEM, parse_scopes("system/*.cruds"))
    app.dependency_overrides[get_principal] = lambda: system
    rng = random.Random(1)
    frozen = False  # set by the first drain when freeze_gc
    profiler = cProfile.Profile(time.thread_time) if profile else None
    cpu = wall = 0.0
    drained = 0
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        repository, pipeline = app.state.repository, app.state.pipeline.pipeline

        def timed(step: Callable[[], int]) -> None:
            nonlocal cpu, wall, drained, frozen
            if freeze_gc and not frozen:  # once, before the first drain (see module docstring)
                gc_policy.freeze()
                frozen = True
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            drained += step()
            if profiler is not None:
                profiler.disable()
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0

        kids = [child(i, rng) for i in range(children)]
        refs: list[str] = []
        for start in range(0, children, 500):
            refs += _post(client, kids[start : start + 500])
        pairs = list(zip(refs, kids, strict=True))
        rounds = [observations(pairs, n, rng, -(-per_child // 3)) for n in range(per_child)]
        if mode == "queued":
            everything = [o for batch in rounds for o in batch]
            for start in range(0, len(everything), 1000):
                _post(client, everything[start : start + 1000])
            timed(lambda: drain(repository, pipeline, seconds=None))
        else:
            timed(lambda: drain(repository, pipeline, seconds=None))  # the Patients' rows
            for batch in rounds:
                for start in range(0, len(batch), 1000):
                    _post(client, batch[start : start + 1000])
                timed(lambda: drain(repository, pipeline, seconds=None))
    if profiler is not None:
        profiler.dump_stats(profile)
    if frozen:
        gc_policy.unfreeze()
    return {
        "mode": mode,
        "children": children,
        "observations": children * per_child,
        "outbox_rows": drained,
        "drain_cpu_s": round(cpu, 2),
        "drain_wall_s": round(wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--mode", choices=("queued", "rounds"), default="queued")
    parser.add_argument("--children", type=int, default=500)
    parser.add_argument("--obs-per-child", type=int, default=10)
    parser.add_argument("--profile", default="", help="write a cProfile of the drains here")
    parser.add_argument(
        "--freeze-gc", action="store_true", help="freeze the collector before the first drain"
    )
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    url = args.database_url or f"sqlite:///{DATA / 'drain.sqlite3'}"
    load_before = os.getloadavg()
    result = run(url, args.mode, args.children, args.obs_per_child, args.profile, args.freeze_gc)
    result["freeze_gc"] = args.freeze_gc
    result["backend"] = url.split(":", 1)[0].split("+", 1)[0]
    result["load_average_before"] = [round(x, 2) for x in load_before]
    print(
        f"{result['backend']} {args.mode}: {result['outbox_rows']} outbox rows drained, "
        f"CPU {result['drain_cpu_s']} s, wall {result['drain_wall_s']} s"
    )
    print("wrote", write_result("drain", args.label, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
