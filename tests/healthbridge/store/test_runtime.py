"""The store runtime (:mod:`healthbridge.store.runtime`): nothing starts at import or at
engine creation; the app lifespan starts it and stops it, leaving no thread behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from healthbridge.store import gc_policy
from tests.conftest import AppFactory

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_store_and_making_an_engine_start_nothing(tmp_path: Path) -> None:
    """A fresh interpreter: importing the store, making an engine and writing through it
    start no thread and register no fork handler (no process-global side effect)."""
    script = textwrap.dedent(
        f"""
        import os, threading
        import healthbridge.store.db as db, healthbridge.store.repository as repository
        import healthbridge.store.runtime
        from healthbridge.store.hooks import RequestContext
        assert threading.active_count() == 1, threading.enumerate()
        calls = []
        os.register_at_fork = lambda **kw: calls.append(kw)
        engine = db.make_engine("sqlite:///{tmp_path / "i.sqlite3"}")
        db.upgrade(engine)
        repo = repository.Repository(engine)
        with repo.transaction(RequestContext()) as txn:
            txn.create({{"resourceType": "Patient"}})
        assert threading.active_count() == 1, threading.enumerate()
        assert calls == [], calls
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _settle(before: set[threading.Thread]) -> set[threading.Thread]:
    """Threads beyond ``before``, once the ones ending have ended (at most 10 s)."""
    deadline = time.monotonic() + 10
    extra = set(threading.enumerate()) - before
    while extra and time.monotonic() < deadline:
        time.sleep(0.05)
        extra = {t for t in extra if t.is_alive()}
    return extra


def test_the_lifespan_starts_the_runtime_and_leaves_no_thread(app_factory: AppFactory) -> None:
    before = set(threading.enumerate())
    app = app_factory()
    with TestClient(app) as client:
        r = client.post("/fhir/Patient", json={"resourceType": "Patient"})
        assert r.status_code == 201, r.text
        assert gc_policy.role() == "server"
        names = {t.name for t in threading.enumerate()}
        engine = app.state.repository.engine
        if engine.dialect.name == "sqlite":
            assert "healthbridge-sqlite-checkpointer" in names
    assert gc_policy.role() is None
    assert _settle(before) == set()


def test_a_cli_command_runs_the_runtime_for_its_block(tmp_path: Path) -> None:
    """``running`` (the CLI commands): a batch process with the checkpointer for the block;
    ``sqlite_thread=False`` (commands that fork) declares the role and starts no thread."""
    from healthbridge.store import db
    from healthbridge.store.runtime import running

    engine = db.make_engine(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    db.upgrade(engine)
    before = set(threading.enumerate())
    with running(engine) as started:
        assert gc_policy.role() == "batch"
        assert started.sqlite is not None
        assert started.sqlite.running
    assert gc_policy.role() is None
    assert _settle(before) == set()
    with running(engine, sqlite_thread=False) as started:
        assert gc_policy.role() == "batch"
        assert started.sqlite is None
        assert set(threading.enumerate()) == before
    engine.dispose()
