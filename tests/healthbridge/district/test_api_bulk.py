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


def test_delete_and_restart(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    _seed(client)
    manifest = _run(client, "/fhir/$export?_type=Patient")
    job_id = manifest["_status_url"].rsplit("/", 1)[1]
    # a new process (new exporter on the same directory) still serves a finished job ...
    exporter: BulkExporter = client.app.state.bulk_exporter  # type: ignore[attr-defined]
    client.app.state.bulk_exporter = BulkExporter(exporter.repo, exporter.root)  # type: ignore[attr-defined]
    again = client.get(manifest["_status_url"])
    assert again.status_code == 200
    assert again.json()["output"] == [{k: v for k, v in o.items()} for o in manifest["output"]]
    # ... and reports a job that was running when the process stopped as failed
    state = json.loads((exporter.root / job_id / "job.json").read_text())
    (exporter.root / job_id / "job.json").write_text(json.dumps({**state, "state": "in-progress"}))
    interrupted = client.get(manifest["_status_url"])
    assert interrupted.status_code == 500
    assert "interrupted" in interrupted.json()["issue"][0]["diagnostics"]
    # DELETE removes the job and its files
    assert client.delete(manifest["_status_url"]).status_code == 202
    assert client.get(manifest["_status_url"]).status_code == 404
    assert not (exporter.root / job_id).exists()


@pytest.mark.parametrize("level", ["/fhir/$export", "/fhir/Patient/$export"])
def test_export_of_an_empty_database(make_client: Callable[..., TestClient], level: str) -> None:
    assert _run(make_client("admin"), level)["output"] == []
