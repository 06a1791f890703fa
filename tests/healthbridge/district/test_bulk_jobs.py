"""Export jobs in the database: claimed once by one worker (SKIP LOCKED on PostgreSQL, the
write lock on SQLite), re-claimed when their worker stopped, failed when it stopped too
often; the requester's context survives the round trip through the table."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from healthbridge.access.control import PrincipalAccess
from healthbridge.access.policy import Purpose
from healthbridge.access.scopes import parse_scopes
from healthbridge.access.tokens import Principal, Role
from healthbridge.district import bulk_jobs
from healthbridge.district.bulk_jobs import JOBS, ExportJob
from healthbridge.store.db import make_engine
from healthbridge.store.hooks import RequestContext


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = make_engine(database_url)
    yield made
    made.dispose()


def _queue(engine: Engine, n: int) -> list[str]:
    ids = []
    for i in range(n):
        job = ExportJob(
            id=str(uuid.uuid4()),
            level="system",
            request="https://example.org/fhir/$export",
            types=("Patient",),
            since=None,
            group=None,
            principal="p",
            context=bulk_jobs.dump_context(RequestContext(principal="p")),
            created=1000.0 + i,
        )
        bulk_jobs.insert_job(engine, job)
        ids.append(job.id)
    return ids


def test_claim_takes_each_job_once_oldest_first(engine: Engine) -> None:
    ids = _queue(engine, 2)
    first = bulk_jobs.claim(engine, "w1", stale_after=60)
    second = bulk_jobs.claim(engine, "w2", stale_after=60)
    assert first is not None
    assert second is not None
    assert [first.id, second.id] == ids
    assert (first.state, first.worker, first.attempts) == ("in-progress", "w1", 1)
    assert first.transaction_time  # when the run started
    assert bulk_jobs.claim(engine, "w3", stale_after=60) is None


def test_a_stale_job_is_claimed_again_then_failed(engine: Engine) -> None:
    [job_id] = _queue(engine, 1)
    assert bulk_jobs.claim(engine, "w1", stale_after=60) is not None
    later = time.time() + 61  # w1's heartbeat is now a minute old
    again = bulk_jobs.claim(engine, "w2", stale_after=60, now=later)
    assert again is not None
    assert (again.id, again.worker, again.attempts) == (job_id, "w2", 2)
    # w1 (if it still runs) learns at its next heartbeat that the job is no longer its
    assert not bulk_jobs.update_job(engine, job_id, "w1", heartbeat=later)
    assert bulk_jobs.update_job(engine, job_id, "w2", heartbeat=later)
    assert bulk_jobs.claim(engine, "w3", stale_after=60, now=later + 61) is not None
    assert bulk_jobs.claim(engine, "w4", stale_after=60, now=later + 200) is None
    failed = bulk_jobs.get_job(engine, job_id)
    assert failed is not None
    assert failed.state == "error"
    assert failed.error is not None
    assert "interrupted 3 times" in failed.error


def test_concurrent_workers_never_share_a_job(engine: Engine) -> None:
    ids = _queue(engine, 12)
    claimed: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (job := bulk_jobs.claim(engine, name, stale_after=60)) is not None:
            with lock:
                claimed.append((job.id, name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job_id for job_id, _ in claimed) == sorted(ids)
    with engine.connect() as conn:
        rows = conn.execute(select(JOBS.c.id, JOBS.c.worker)).all()
    assert {r.id: r.worker for r in rows} == dict(claimed)


def test_a_locked_job_is_skipped_not_waited_for(engine: Engine) -> None:
    """PostgreSQL: while another worker's transaction holds the oldest job's row, a claim
    takes the next job at once (``SKIP LOCKED``) instead of waiting."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite serialises whole write transactions)")
    ids = _queue(engine, 2)
    with engine.connect() as conn, conn.begin():
        conn.execute(select(JOBS).where(JOBS.c.id == ids[0]).with_for_update())
        got: list[ExportJob | None] = []
        other = threading.Thread(
            target=lambda: got.append(bulk_jobs.claim(engine, "w2", stale_after=60))
        )
        other.start()
        other.join(timeout=30)
        assert not other.is_alive(), "the claim waited for the locked row"
    assert got[0] is not None
    assert got[0].id == ids[1]


def test_context_round_trip() -> None:
    who = Principal(
        subject="dr-li",
        role=Role.PAEDIATRICIAN,
        scopes=parse_scopes("user/Patient.rs user/Observation.cruds launch"),
        fhir_user="PractitionerRole/pr-1",
        organization="Organization/hosp-1",
        issuer="https://idp.example",
        token_id="t-1",
        patient="kid-1",
    )
    access = PrincipalAccess(who, dt.date(2026, 11, 1), Purpose.RESEARCH)
    context = RequestContext(
        principal="dr-li",
        roles=frozenset({"paediatrician"}),
        client_address="10.0.0.9",
        request_id="r-1",
        base_url="https://hb.example/fhir",
        access=access,
    )
    assert bulk_jobs.load_context(bulk_jobs.dump_context(context)) == context
    plain = RequestContext(principal="tester", roles=frozenset({"system"}))
    assert bulk_jobs.load_context(bulk_jobs.dump_context(plain)) == plain
