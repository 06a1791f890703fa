"""FHIR Bulk Data $export: kick-off, status polling, ndjson download, filters, cancel, restart."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.district.bulk import BulkExporter
from tests import factories

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
BASE = "https://healthbridge.github.io/fhir"
ENROLLMENT = f"{BASE}/StructureDefinition/childcare-enrollment"


def _enrolled(centre: str) -> dict[str, Any]:
    return {
        "url": ENROLLMENT,
        "extension": [
            {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
            {"url": "period", "valuePeriod": {"start": "2026-01-01"}},
        ],
    }


def _seed(client: TestClient) -> dict[str, str]:
    org = client.put(
        "/fhir/Organization/centre-1", json={**factories.organization(), "id": "centre-1"}
    )
    assert org.status_code in (200, 201), org.text
    ids = {}
    for name in ("a", "b", "c"):
        patient = factories.child()
        if name == "a":
            patient["extension"] = [_enrolled("centre-1")]
        got = client.post("/fhir/Patient", json=patient)
        ids[name] = got.json()["id"]
        for value in (9.0, 9.5):
            obs = factories.observation(f"Patient/{ids[name]}", value=value)
            assert client.post("/fhir/Observation", json=obs).status_code == 201
    client.post("/fhir/Encounter", json=factories.encounter(f"Patient/{ids['a']}"))
    return ids


def _run(client: TestClient, path: str) -> dict[str, Any]:
    kick = client.get(path, headers=ASYNC)
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["content-location"]
    assert "/fhir/$export-status/" in status_url
    for _ in range(400):
        status = client.get(status_url)
        if status.status_code != 202:
            break
        assert "x-progress" in status.headers
        time.sleep(0.05)
    assert status.status_code == 200, status.text
    manifest: dict[str, Any] = status.json()
    manifest["_status_url"] = status_url
    return manifest


def _download(client: TestClient, manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for item in manifest["output"]:
        got = client.get(item["url"])
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [json.loads(line) for line in got.text.splitlines()]
        assert len(lines) == item["count"]
        assert {r["resourceType"] for r in lines} == {item["type"]}
        out[item["type"]] = lines
    return out


def test_system_export_end_to_end(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    _seed(client)
    manifest = _run(client, "/fhir/$export")
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    assert manifest["request"].endswith("/fhir/$export")
    assert manifest["transactionTime"]
    files = _download(client, manifest)
    counts = {t: len(v) for t, v in files.items()}
    assert counts == {"Encounter": 1, "Observation": 6, "Organization": 1, "Patient": 3}
    stored = client.get("/fhir/Observation?_count=100").json()["entry"]
    assert sorted(json.dumps(r, sort_keys=True) for r in files["Observation"]) == sorted(
        json.dumps(e["resource"], sort_keys=True) for e in stored
    )

    only = _download(client, _run(client, "/fhir/$export?_type=Patient,Encounter"))
    assert set(only) == {"Patient", "Encounter"}
    future = _run(client, "/fhir/$export?_since=2999-01-01T00:00:00Z")
    assert future["output"] == []
    past = _run(client, "/fhir/$export?_type=Patient&_since=2000-01-01T00:00:00Z")
    assert [o["count"] for o in past["output"]] == [3]


def test_since_keeps_recent_changes(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    ids = _seed(client)
    time.sleep(0.02)
    marker = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    time.sleep(0.02)
    patient = client.get(f"/fhir/Patient/{ids['b']}").json()
    client.put(f"/fhir/Patient/{ids['b']}", json={**patient, "gender": "female"})
    files = _download(client, _run(client, f"/fhir/$export?_type=Patient&_since={marker}"))
    assert [p["id"] for p in files["Patient"]] == [ids["b"]]


def test_patient_and_group_level(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    ids = _seed(client)
    patient_level = _download(client, _run(client, "/fhir/Patient/$export"))
    assert "Organization" not in patient_level
    assert len(patient_level["Patient"]) == 3
    assert len(patient_level["Observation"]) == 6

    group = _download(client, _run(client, "/fhir/Group/centre-1/$export"))
    assert [p["id"] for p in group["Patient"]] == [ids["a"]]
    assert {o["subject"]["reference"] for o in group["Observation"]} == {f"Patient/{ids['a']}"}
    assert len(group["Encounter"]) == 1
    assert client.get("/fhir/Group/nope/$export", headers=ASYNC).status_code == 404


def test_kick_off_errors_and_access(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    _seed(client)
    assert client.get("/fhir/$export").status_code == 400  # no Prefer: respond-async
    assert client.get("/fhir/$export?_type=Nope", headers=ASYNC).status_code == 400
    assert client.get("/fhir/Patient/$export?_type=Organization", headers=ASYNC).status_code == 400
    assert client.get("/fhir/$export?_outputFormat=text/csv", headers=ASYNC).status_code == 400
    assert client.get("/fhir/$export?_since=yesterday", headers=ASYNC).status_code == 400
    assert client.get("/fhir/$export-status/0000", headers=ASYNC).status_code == 404
    manifest = _run(client, "/fhir/$export?_type=Patient")
    # another client may neither poll nor download
    from tests.healthbridge.district.conftest import as_role

    as_role(client, "system", principal="someone-else")
    assert client.get(manifest["_status_url"]).status_code == 403
    assert client.get(manifest["output"][0]["url"]).status_code == 403
    as_role(client, "district-official")
    assert client.get("/fhir/$export", headers=ASYNC).status_code == 403


def _set(client: TestClient, job_id: str, **values: Any) -> None:
    """Change the stored job as a stopped or other process would have left it."""
    from healthbridge.district import bulk_jobs

    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    assert bulk_jobs.update_job(engine, job_id, **values)


def test_delete_and_restart(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system", bulk_export_poll_seconds=0.05)
    _seed(client)
    manifest = _run(client, "/fhir/$export?_type=Patient")
    job_id = manifest["_status_url"].rsplit("/", 1)[1]
    # a new process (new exporter on the same database and store) still serves a finished job
    exporter: BulkExporter = client.app.state.bulk_exporter  # type: ignore[attr-defined]
    client.app.state.bulk_exporter = BulkExporter(exporter.repo, exporter.store)  # type: ignore[attr-defined]
    again = client.get(manifest["_status_url"])
    assert again.status_code == 200
    assert again.json()["output"] == manifest["output"]
    # a job whose server stopped mid-run (stale heartbeat) is run again by a worker ...
    _set(client, job_id, state="in-progress", worker="gone", heartbeat=1.0, outputs=[])
    assert _run_status(client, manifest["_status_url"]).json()["output"] == manifest["output"]
    # ... unless it was interrupted too often: then it fails with a clear OperationOutcome
    _set(client, job_id, state="in-progress", worker="gone", heartbeat=1.0, attempts=3)
    interrupted = _run_status(client, manifest["_status_url"])
    assert interrupted.status_code == 500
    assert "interrupted 3 times" in interrupted.json()["issue"][0]["diagnostics"]
    # DELETE removes the job and its files
    assert client.delete(manifest["_status_url"]).status_code == 202
    assert client.get(manifest["_status_url"]).status_code == 404
    assert not (exporter.store.root / job_id).exists()  # type: ignore[attr-defined]


def _run_status(client: TestClient, status_url: str) -> Any:
    for _ in range(400):
        status = client.get(status_url)
        if status.status_code != 202:
            return status
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def test_shutdown_hands_a_running_job_back(make_client: Callable[..., TestClient]) -> None:
    """A worker that stops mid-job puts it back in the queue (not counted as an attempt);
    the next worker completes it."""
    from healthbridge.district import bulk_jobs
    from healthbridge.district.bulk_worker import ExportWorker

    client = make_client("system", bulk_export_workers=0)
    _seed(client)
    kick = client.get("/fhir/$export?_type=Patient", headers=ASYNC)
    status_url = kick.headers["content-location"]
    job_id = status_url.rsplit("/", 1)[1]
    exporter: BulkExporter = client.app.state.bulk_exporter  # type: ignore[attr-defined]
    assert client.get(status_url).headers["x-progress"] == "queued"
    job = bulk_jobs.claim(exporter.engine, "w1", stale_after=60)
    assert job is not None
    assert (job.id, job.attempts) == (job_id, 1)
    exporter.run(job, "w1", lambda: True)  # the process is stopping
    back = bulk_jobs.get_job(exporter.engine, job_id)
    assert back is not None
    assert (back.state, back.worker, back.attempts) == ("queued", None, 0)
    assert ExportWorker(exporter).run_once()
    assert client.get(status_url).json()["output"][0]["count"] == 3


def test_cancel_a_running_job(make_client: Callable[..., TestClient]) -> None:
    """DELETE of a job another worker is running marks it cancelled (404 at once); the
    worker stops at its next heartbeat and removes it, files and row."""
    from healthbridge.district import bulk_jobs

    client = make_client("system", bulk_export_workers=0)
    _seed(client)
    status_url = client.get("/fhir/$export", headers=ASYNC).headers["content-location"]
    job_id = status_url.rsplit("/", 1)[1]
    exporter: BulkExporter = client.app.state.bulk_exporter  # type: ignore[attr-defined]
    job = bulk_jobs.claim(exporter.engine, "w1", stale_after=60)
    assert job is not None
    assert client.get(status_url).status_code == 202
    assert client.delete(status_url).status_code == 202
    assert client.get(status_url).status_code == 404
    exporter.heartbeat = 0.0  # look at the database at every resource
    exporter.run(job, "w1", lambda: False)
    assert bulk_jobs.get_job(exporter.engine, job_id) is None
    assert not (exporter.store.root / job_id).exists()  # type: ignore[attr-defined]
    # a queued job is simply deleted
    queued = client.get("/fhir/$export", headers=ASYNC).headers["content-location"]
    assert client.delete(queued).status_code == 202
    assert bulk_jobs.get_job(exporter.engine, queued.rsplit("/", 1)[1]) is None


@pytest.mark.parametrize("level", ["/fhir/$export", "/fhir/Patient/$export"])
def test_export_of_an_empty_database(make_client: Callable[..., TestClient], level: str) -> None:
    assert _run(make_client("admin"), level)["output"] == []
