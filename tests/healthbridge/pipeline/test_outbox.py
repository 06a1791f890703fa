"""The pipeline off the write path (issue 19): the outbox, its workers and its status.

"Same as inline" is checked two ways: the batch path (``healthbridge evaluate``) finds
nothing to change after the queue is drained, and running the inline engine on every child
and centre again writes nothing (no new version of any score, Flag or Task).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from healthbridge import terminology as t
from healthbridge.config import Settings, get_settings
from healthbridge.fhir.base_validation import validate_base
from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.pipeline import engine, outbox
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.pipeline.engine import Pending, Pipeline, now_instant
from healthbridge.pipeline.outbox import OUTBOX, drain, drain_batch
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import RES, Repository
from tests.conftest import AppFactory
from tests.healthbridge.pipeline.conftest import (
    FHIR_JSON,
    RULESET,
    child,
    days_ago,
    health_manager_role,
    measurement,
    organization,
    put,
    search,
    today,
)
from tests.healthbridge.pipeline.test_batch import alerts, load_demo


@pytest.fixture
def oapp(app_factory: AppFactory) -> FastAPI:
    """An app in outbox mode without the worker thread (tests drain the queue themselves)."""
    return app_factory(
        clinical_ruleset=RULESET, pipeline_mode="outbox", pipeline_worker_thread=False
    )


@pytest.fixture
def oclient(oapp: FastAPI) -> Iterator[TestClient]:
    with TestClient(oapp, headers={"Accept": "application/fhir+json"}) as c:
        yield c


def parts(app: FastAPI) -> tuple[Repository, Pipeline]:
    return app.state.repository, app.state.pipeline.pipeline


def worker_once(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """``healthbridge worker --once`` in this process, on the test's database."""
    from healthbridge.cli import main

    monkeypatch.setenv("HEALTHBRIDGE_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("HEALTHBRIDGE_CLINICAL_RULESET", RULESET)
    get_settings.cache_clear()
    try:
        return main(["worker", "--once"])
    finally:
        get_settings.cache_clear()


def queued(repository: Repository) -> int:
    with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        return int(txn.conn.execute(select(func.count()).select_from(OUTBOX)).scalar_one())


def derived_state(repository: Repository) -> dict[tuple[str, str], int]:
    """Version of every score, Flag, Task and Communication (what the pipeline writes)."""
    with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        rows = txn.conn.execute(
            select(RES.c.res_type, RES.c.res_id, RES.c.version_id).where(
                RES.c.res_type.in_(("Observation", "Flag", "Task", "Communication"))
            )
        ).all()
    return {(r.res_type, r.res_id): r.version_id for r in rows}


def inline_again(repository: Repository, pipeline: Pipeline) -> None:
    """Evaluate every child and centre once more with the inline engine."""
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        children = {
            str(r.res_id)
            for r in txn.conn.execute(select(RES.c.res_id).where(RES.c.res_type == "Patient"))
        }
        pipeline.evaluate(txn, Pending(children=children, centre_children=set(children)))


def assert_same_as_inline(repository: Repository, pipeline: Pipeline) -> None:
    report = evaluate_database(
        Repository(repository.engine), pipeline.ruleset, today(), dry_run=True
    )
    assert sum(report.actions.values()) == 0, report.actions
    before = derived_state(repository)
    inline_again(repository, pipeline)
    assert derived_state(repository) == before


def status(client: TestClient) -> dict[str, Any]:
    r = client.get("/fhir/$pipeline-status")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = {}
    for p in r.json()["parameter"]:
        out[p["name"]] = next(v for k, v in p.items() if k.startswith("value"))
    return out


def test_writes_queue_and_a_drain_gives_the_inline_results(
    oapp: FastAPI, oclient: TestClient
) -> None:
    repository, pipeline = parts(oapp)
    load_demo(oclient, 12)
    assert alerts(oclient) == set()  # nothing evaluated on the write path
    waiting = status(oclient)
    assert waiting["mode"] == "outbox"
    assert waiting["queued"] == queued(repository) > 0
    assert waiting["oldestAgeSeconds"] >= 0
    assert drain(repository, pipeline) == waiting["queued"]
    assert queued(repository) == 0
    assert status(oclient)["queued"] == 0
    assert alerts(oclient)  # the demo district has open alerts, incl. the fever cluster
    assert any(a[0].startswith("Organization/") for a in alerts(oclient))
    assert_same_as_inline(repository, pipeline)
    made = search(oclient, "Flag") + search(oclient, "Task")
    for resource in made:  # written through the trusted path (pipeline/alerts.py)
        assert validate_base(resource) == [], resource["id"]
        issues = validate_against_profiles(resource)
        assert [i for i in issues if i.severity == "error"] == [], resource["id"]


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    oapp: FastAPI, oclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-child evaluation (the fallback) killed after four children."""
    repository, pipeline = parts(oapp)
    load_demo(oclient, 12)
    rows = queued(repository)
    before = derived_state(repository)
    real = Pipeline._finish_child
    calls = {"n": 0}

    def dies_on_the_fifth(self: Pipeline, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise SystemExit("killed")  # not an Exception: nothing in the worker catches it
        real(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_finish_child", dies_on_the_fifth)
    with pytest.raises(SystemExit):
        drain_batch(repository, pipeline, batch=50, vectorised=False)
    assert calls["n"] == 5  # four children were evaluated in the batch that died
    assert queued(repository) == rows  # the rows are still queued
    assert derived_state(repository) == before  # and nothing of the batch was kept
    monkeypatch.setattr(Pipeline, "_finish_child", real)
    drain(repository, pipeline, batch=7)  # the restarted worker
    assert queued(repository) == 0
    flags = search(oclient, "Flag")
    subjects = [(f["subject"]["reference"], f["code"]["coding"][0]["code"]) for f in flags]
    assert len(subjects) == len(set(subjects))  # no duplicate alert
    assert_same_as_inline(repository, pipeline)


def test_a_failing_child_is_retried_without_holding_back_the_others(
    oapp: FastAPI, oclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, pipeline = parts(oapp)
    put(oclient, organization("cc1"))
    for n in range(3):
        put(oclient, child(f"k{n}", days_ago(400), centre="cc1", since=days_ago(100)))
        put(oclient, measurement(f"w{n}", f"k{n}", t.LOINC_BODY_WEIGHT, 4.0, days_ago(1)))
    real = Pipeline._finish_child

    def k1_fails(self: Pipeline, txn: Any, loaded: Any, *args: Any) -> None:
        if loaded.info.child_id == "k1":
            raise RuntimeError("unreadable record")
        real(self, txn, loaded, *args)

    def batch_with_k1_fails(txn: Any, pipeline: Any, children: Any, daily: Any) -> None:
        if "k1" in children:
            raise RuntimeError("unreadable record")
        real_batch(txn, pipeline, children, daily)

    real_batch = outbox.evaluate_children
    monkeypatch.setattr(Pipeline, "_finish_child", k1_fails)
    # the vectorised batch fails with k1 in it; each child is then evaluated on its own
    monkeypatch.setattr(outbox, "evaluate_children", batch_with_k1_fails)
    drain(repository, pipeline)
    with repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        left = txn.conn.execute(select(OUTBOX)).all()
    assert {r.child_id for r in left} == {"k1"}
    assert all(r.attempts == 1 and r.next_attempt > now_instant() for r in left)
    assert "unreadable record" in left[0].last_error
    assert search(oclient, "Flag", subject="Patient/k0")  # the others were evaluated
    assert not search(oclient, "Flag", subject="Patient/k1")
    shown = status(oclient)
    assert shown["failing"] == len(left)
    assert "unreadable record" in shown["lastError"]
    assert drain(repository, pipeline) == 0  # not due yet (back-off)
    monkeypatch.setattr(Pipeline, "_finish_child", real)
    monkeypatch.setattr(outbox, "evaluate_children", real_batch)
    with repository.transaction(SYSTEM_CONTEXT, plain=True) as txn:
        txn.conn.execute(update(OUTBOX).values(next_attempt=""))  # the back-off has passed
    assert drain(repository, pipeline) == len(left)
    assert search(oclient, "Flag", subject="Patient/k1")
    assert_same_as_inline(repository, pipeline)


def test_draining_twice_changes_nothing(oapp: FastAPI, oclient: TestClient) -> None:
    repository, pipeline = parts(oapp)
    load_demo(oclient, 8)
    drain(repository, pipeline)
    before = derived_state(repository)
    ids = [p["id"] for p in search(oclient, "Patient")]
    for pid in ids:  # every child queued again, as if each write were replayed
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            txn.attributes[engine._STATE_KEY] = Pending(children={pid}, centre_children={pid})
    assert queued(repository) == len(ids)
    assert drain(repository, pipeline, batch=3) == len(ids)
    assert derived_state(repository) == before


def test_two_workers_share_the_queue(
    oapp: FastAPI, oclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers drain concurrently; no row is claimed twice (``SKIP LOCKED`` on
    PostgreSQL, the writer lock on SQLite) and the result is the inline one."""
    repository, pipeline = parts(oapp)
    load_demo(oclient, 12)
    total = queued(repository)
    claimed: dict[str, list[int]] = {}
    real = outbox._claim

    def recording(txn: Any, limit: int, now: str) -> list[Any]:
        rows = real(txn, limit, now)
        claimed.setdefault(threading.current_thread().name, []).extend(r.id for r in rows)
        time.sleep(0.05)  # hold the claim a moment so the other worker meets the lock
        return rows

    monkeypatch.setattr(outbox, "_claim", recording)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            drain(repository, pipeline, batch=4)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, name=f"w{i}") for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert queued(repository) == 0
    ids = [i for got in claimed.values() for i in got]
    assert len(ids) == len(set(ids)) <= total  # each row claimed once (retries aside)
    assert set(claimed) == {"w0", "w1"}
    assert_same_as_inline(repository, pipeline)


def test_the_worker_thread_shows_results_after_a_write(app_factory: AppFactory) -> None:
    """The default settings (issue 19): the outbox, drained by the server's own worker thread
    — a write's derived results appear without any other process or call."""
    app = app_factory(clinical_ruleset=RULESET)
    assert app.state.pipeline.mode == "outbox"
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        assert app.state.pipeline_worker is not None
        put(client, child("c1", days_ago(400)))
        put(client, measurement("w1", "c1", t.LOINC_BODY_WEIGHT, 4.0, days_ago(1)))
        deadline = time.monotonic() + 30  # a bound for a loaded machine, not a measurement
        while not search(client, "Flag", subject="Patient/c1"):
            assert time.monotonic() < deadline, "the worker did not evaluate the write"
            time.sleep(0.05)
        while status(client)["queued"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        scores = search(client, "Observation", subject="Patient/c1")
        assert any(o["id"] != "w1" for o in scores)  # the derived growth scores
    assert app.state.pipeline_worker is None or not app.state.pipeline_worker._thread


def test_inline_mode_queues_nothing(app_factory: AppFactory) -> None:
    app = app_factory(clinical_ruleset=RULESET, pipeline_mode="inline")
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        put(client, child("c1", days_ago(400)))
        put(client, measurement("w1", "c1", t.LOINC_BODY_WEIGHT, 4.0, days_ago(1)))
        assert search(client, "Flag", subject="Patient/c1")  # evaluated in the write
        assert status(client) == {"mode": "inline", "queued": 0, "failing": 0}


def test_the_worker_command_drains_the_queue(
    oapp: FastAPI,
    oclient: TestClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repository, pipeline = parts(oapp)
    put(oclient, child("c1", days_ago(400)))
    put(oclient, measurement("w1", "c1", t.LOINC_BODY_WEIGHT, 4.0, days_ago(1)))
    assert queued(repository) == 2
    assert worker_once(settings, monkeypatch) == 0
    assert "2 queued change(s) evaluated" in capsys.readouterr().out
    assert queued(repository) == 0
    assert search(oclient, "Flag", subject="Patient/c1")
    assert_same_as_inline(repository, pipeline)


def test_the_worker_process_says_when_it_is_ready_drains_and_stops_on_sigterm(
    oapp: FastAPI, oclient: TestClient, settings: Settings
) -> None:
    """``healthbridge worker`` as a supervisor runs it: one ``worker: ready`` line once its
    start-up is done (bench/ingest.py waits for it), at the CPU priority of the setting
    (lowered, never raised above the one it was started with), the queue drained without
    being woken, and a clean exit on SIGTERM."""
    import os
    import select
    import signal
    import subprocess
    import sys

    repository, _pipeline = parts(oapp)
    put(oclient, child("c1", days_ago(400)))
    put(oclient, measurement("w1", "c1", t.LOINC_BODY_WEIGHT, 4.0, days_ago(1)))
    assert queued(repository) == 2
    env = {
        **os.environ,
        "HEALTHBRIDGE_DATABASE_URL": settings.resolved_database_url(),
        "HEALTHBRIDGE_DATA_DIR": str(settings.data_dir),
        "HEALTHBRIDGE_CLINICAL_RULESET": RULESET,
        "HEALTHBRIDGE_PIPELINE_MODE": "outbox",
        "HEALTHBRIDGE_PIPELINE_WORKER_NICE": "7",
    }
    nice = max(7, os.getpriority(os.PRIO_PROCESS, 0))  # as started, if that is lower
    with subprocess.Popen(
        [sys.executable, "-m", "healthbridge.cli", "worker", "--poll", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            said, _, _ = select.select([proc.stdout], [], [], 60)  # a minute at most
            assert said, "no ready line within a minute"
            ready = proc.stdout.readline()
            assert ready.startswith("worker: ready (pid ")
            assert ready.rstrip().endswith(f"nice {nice})")
            assert os.getpriority(os.PRIO_PROCESS, proc.pid) == nice
            deadline = time.monotonic() + 60
            while queued(repository) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert queued(repository) == 0
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert search(oclient, "Flag", subject="Patient/c1")


def test_the_worker_command_freezes_its_start_up_for_the_collector(
    oapp: FastAPI,
    oclient: TestClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Like ``healthbridge serve``, a worker process moves what its start-up loaded into the
    collector's permanent generation before it drains (and gives it back when it stops)."""
    import gc

    put(oclient, child("c1", days_ago(400)))
    frozen: list[int] = []
    real_drain = outbox.drain

    def drain(*args: Any, **kwargs: Any) -> int:
        frozen.append(gc.get_freeze_count())
        return real_drain(*args, **kwargs)

    monkeypatch.setattr(outbox, "drain", drain)
    before = gc.get_freeze_count()
    assert worker_once(settings, monkeypatch) == 0
    assert len(frozen) == 1
    assert frozen[0] > before
    assert gc.get_freeze_count() == 0  # unfrozen at the end of the command
    assert queued(parts(oapp)[0]) == 0


def test_a_worker_process_evaluates_each_batch_with_the_collector_paused(
    oapp: FastAPI,
    oclient: TestClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``healthbridge worker`` is a batch process for the collector's policy: each batch runs
    with the collector paused and it is on again afterwards; a server's own drain (its
    worker thread, here called directly) never pauses it."""
    import gc

    repository, pipeline = parts(oapp)
    collecting: list[bool] = []
    real_evaluate = outbox._evaluate

    def evaluate(*args: Any, **kwargs: Any) -> int:
        collecting.append(gc.isenabled())
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(outbox, "_evaluate", evaluate)
    assert gc.isenabled()
    put(oclient, child("c1", days_ago(400)))
    outbox.drain(repository, pipeline)  # the server's worker: the app runs as a server
    assert collecting == [True]
    put(oclient, child("c2", days_ago(400)))
    assert worker_once(settings, monkeypatch) == 0
    assert collecting == [True, False]
    assert gc.isenabled()
    assert queued(repository) == 0


def test_a_morning_check_reads_only_its_centre(
    pclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19 item 2: the cluster evaluation of a centre reads that centre's morning
    checks, not every daily-check Observation of the last days in the database."""
    for centre in ("cc1", "cc2"):
        put(pclient, organization(centre))
        put(pclient, health_manager_role(f"hm-{centre}", centre))
        for n in range(3):
            cid = f"{centre}-k{n}"
            put(
                pclient,
                child(cid, days_ago(800), centre=centre, klass=f"{centre}-r", since=days_ago(100)),
            )
            put(pclient, measurement(f"t-{cid}", cid, t.LOINC_BODY_TEMPERATURE, 38.6, days_ago(0)))
    read: list[str] = []
    real = engine.search_all

    def counting(txn: Any, rtype: str, params: Any) -> Any:
        for found in real(txn, rtype, params):
            if found.resource_type == "Observation":
                read.append(found.id)
            yield found

    monkeypatch.setattr(engine, "search_all", counting)
    r = pclient.put(
        "/fhir/Observation/t-cc1-k0",
        json=measurement("t-cc1-k0", "cc1-k0", t.LOINC_BODY_TEMPERATURE, 38.9, days_ago(0)),
        headers=FHIR_JSON,
    )
    assert r.status_code == 200, r.text
    assert sorted(read) == ["t-cc1-k0", "t-cc1-k1", "t-cc1-k2"]
    flags = search(pclient, "Flag", subject="Organization/cc1")
    assert [f["code"]["coding"][0]["code"] for f in flags] == ["outbreak-cluster"]
    assert search(pclient, "Flag", subject="Organization/cc2")  # its own cluster, unchanged


@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "per-child"])
def test_a_batch_stops_at_its_time_budget(
    oapp: FastAPI, oclient: TestClient, monkeypatch: pytest.MonkeyPatch, vectorised: bool
) -> None:
    """With no time left after the first chunk, only that chunk's children commit; the
    others stay queued for the next batch (a SQLite writer never waits long)."""
    monkeypatch.setattr(outbox, "VECTOR_CHUNK", 6)  # a small chunk for a small test
    monkeypatch.setattr(outbox, "VECTOR_CHUNK_POSTGRES", 6)
    monkeypatch.setattr(outbox, "VECTOR_MIN", 1)
    chunk = outbox.VECTOR_CHUNK if vectorised else outbox.CHUNK
    repository, pipeline = parts(oapp)
    for n in range(chunk + 5):
        put(oclient, child(f"c{n:02d}", days_ago(400)))
    assert queued(repository) == chunk + 5
    assert drain_batch(repository, pipeline, seconds=0, vectorised=vectorised) == chunk
    assert queued(repository) == 5
    assert drain(repository, pipeline, seconds=0, vectorised=vectorised) == 5
    assert_same_as_inline(repository, pipeline)


def test_workers_are_woken_once_the_queued_rows_are_committed(
    oapp: FastAPI, oclient: TestClient
) -> None:
    """A worker woken before the writer commits finds no row on PostgreSQL and sleeps until
    its next poll (a single check's results 0.5 s late): the wake comes after the commit,
    when another connection sees the rows, and never for a write that rolled back."""
    repository, _pipeline = parts(oapp)
    seen: list[int] = []
    oapp.state.pipeline.outbox.wakers.append(lambda: seen.append(queued(repository)))
    put(oclient, child("c1", days_ago(400)))
    assert seen
    assert seen[-1] == queued(repository) > 0
    woken = len(seen)

    def failing_write() -> None:
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            txn.create(measurement("w9", "c1", t.LOINC_BODY_WEIGHT, 4.0, days_ago(1)))
            txn.run_pre_commit()  # queues the row and asks for the wake
            raise RuntimeError("the write fails before its commit")

    with pytest.raises(RuntimeError):
        failing_write()
    assert len(seen) == woken


def test_a_worker_of_another_process_is_woken_by_the_commit_on_postgresql(
    oapp: FastAPI, oclient: TestClient
) -> None:
    """PostgreSQL: a worker outside the writer's process (here one no waker calls, polling
    once a minute) is woken by the notification the enqueueing write sends, delivered at
    its commit (pipeline/wakeup.py) — and by none for a write that rolled back."""
    repository, pipeline = parts(oapp)
    if repository.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY: PostgreSQL (SQLite's workers are the server's threads)")
    worker = outbox.OutboxWorker(repository, pipeline, poll=60)
    woken: list[float] = []
    wake = worker.listener.wake

    def recording() -> None:
        woken.append(time.monotonic())
        wake()

    worker.listener.wake = recording
    worker.start()
    try:
        assert worker.listener.listening.wait(10)
        time.sleep(0.3)  # its first round (an empty queue) is over: it waits a minute now

        def failing_write() -> None:
            with repository.transaction(SYSTEM_CONTEXT) as txn:
                txn.create(child("c9", days_ago(400)))
                txn.run_pre_commit()  # queues the row and sends the notification
                raise RuntimeError("the write fails before its commit")

        with pytest.raises(RuntimeError):
            failing_write()
        time.sleep(0.5)
        assert woken == []
        put(oclient, child("c1", days_ago(400)))
        deadline = time.monotonic() + 20  # a bound for a loaded machine, not a measurement
        while queued(repository) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert woken
        assert queued(repository) == 0
    finally:
        worker.stop()
    assert not worker.listener.listening.is_set()
