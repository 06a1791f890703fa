"""Several server processes on one database (issue 19 item 3): two apps made by
``create_app`` on the same database (SQLite file or PostgreSQL) stand for two
``healthbridge serve`` processes on two hosts behind a load balancer.

* an export queued on A is run by B's worker, and its status and files are served by either;
  the files are in S3-compatible storage (moto's S3 API served locally), each app has its
  own data directory (nothing shared through the local disk);
* a report on A after a write on B includes the write: the district cache's watermark is
  read from the database, so it notices what another process wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from healthbridge.district.bulk import BulkExporter
from healthbridge.store.objects import S3Store
from tests import factories
from tests.healthbridge.district.conftest import AS_OF

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def _poll(client: TestClient, status_url: str) -> Any:
    for _ in range(400):
        status = client.get(status_url)
        if status.status_code != 202:
            return status
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def test_export_queued_on_a_is_run_and_served_by_b(
    make_client: Callable[..., TestClient], s3_settings: dict[str, Any], tmp_path: Path
) -> None:
    # A runs no worker: it only queues; B's worker (looking every 50 ms) runs the job
    a = make_client("system", data_dir=tmp_path / "host-a", bulk_export_workers=0, **s3_settings)
    b = make_client(
        "system", data_dir=tmp_path / "host-b", bulk_export_poll_seconds=0.05, **s3_settings
    )
    child = a.post("/fhir/Patient", json=factories.child()).json()
    for value in (9.0, 9.5):
        obs = factories.observation(f"Patient/{child['id']}", value=value)
        assert a.post("/fhir/Observation", json=obs).status_code == 201

    kick = a.get("/fhir/$export?_type=Patient,Observation", headers=ASYNC)
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["content-location"]
    status = _poll(b, status_url)
    assert status.status_code == 200, status.text
    manifest = status.json()
    assert a.get(status_url).json() == manifest  # either server answers
    exporter: BulkExporter = b.app.state.bulk_exporter  # type: ignore[attr-defined]
    job_id = status_url.rsplit("/", 1)[1]
    stored = exporter.repo.engine  # the job ran on B: its worker's name is in the row
    from healthbridge.district import bulk_jobs

    job = bulk_jobs.get_job(stored, job_id)
    assert job is not None
    assert job.worker in {w.name for w in b.app.state.bulk_workers}  # type: ignore[attr-defined]
    counts = {o["type"]: o["count"] for o in manifest["output"]}
    assert counts == {"Patient": 1, "Observation": 2}
    for item in manifest["output"]:
        got = b.get(item["url"])
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in got.text.splitlines()]
        assert len(lines) == item["count"]
        assert a.get(item["url"]).text == got.text
    # the files are objects in the bucket, not files in either host's data directory
    assert isinstance(exporter.store, S3Store)
    assert exporter.store.exists(f"{job_id}/Patient.ndjson")
    assert not list((tmp_path / "host-a").glob("bulk-export/**/*.ndjson"))
    assert not list((tmp_path / "host-b").glob("bulk-export/**/*.ndjson"))
    # deleted on A: gone for B too, objects included
    assert a.delete(status_url).status_code == 202
    assert b.get(status_url).status_code == 404
    assert not exporter.store.exists(f"{job_id}/Patient.ndjson")


def test_expired_export_objects_are_deleted(
    make_client: Callable[..., TestClient], s3_settings: dict[str, Any]
) -> None:
    from healthbridge.district import bulk_jobs

    client = make_client("system", bulk_export_poll_seconds=0.05, **s3_settings)
    client.post("/fhir/Patient", json=factories.child())
    status_url = client.get("/fhir/$export?_type=Patient", headers=ASYNC).headers[
        "content-location"
    ]
    assert _poll(client, status_url).status_code == 200
    job_id = status_url.rsplit("/", 1)[1]
    exporter: BulkExporter = client.app.state.bulk_exporter  # type: ignore[attr-defined]
    assert exporter.store.exists(f"{job_id}/Patient.ndjson")
    day_old = time.time() - 25 * 3600
    assert bulk_jobs.update_job(exporter.engine, job_id, created=day_old)
    assert exporter.purge_expired() == 1
    assert not exporter.store.exists(f"{job_id}/Patient.ndjson")
    assert client.get(status_url).status_code == 404


def test_report_on_a_includes_a_write_on_b(make_client: Callable[..., TestClient]) -> None:
    a = make_client("district-official", demo=True)
    b = make_client("system")
    url = f"/reports/prevalence?as_of={AS_OF}"
    before = a.get(url).json()["total_records"]
    assert before > 0
    assert a.get(url).json()["total_records"] == before
    assert a.app.state.district_cache.last.mode == "cached"  # type: ignore[attr-defined]

    child = b.post("/fhir/Patient", json=factories.child(birth_date="2025-05-01")).json()
    weight = factories.observation(f"Patient/{child['id']}", value=10.0, date="2026-10-01")
    height = factories.observation(
        f"Patient/{child['id']}",
        code="8302-2",
        display="Body height",
        value=78.0,
        unit="cm",
        date="2026-10-01",
    )
    for obs in (weight, height):
        assert b.post("/fhir/Observation", json=obs).status_code == 201

    after = a.get(url).json()["total_records"]
    assert after == before + 1
    # A's cache noticed B's writes from the database and re-read only them
    last = a.app.state.district_cache.last  # type: ignore[attr-defined]
    assert last.mode == "incremental"
    assert last.changed.get("Patient") == 1
