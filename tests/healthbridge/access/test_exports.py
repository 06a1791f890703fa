"""Exports that leave the FHIR API obey reach and are audited (issue 20 items 2 and 5)."""

from __future__ import annotations

import io
import time
from typing import Any

import pandas as pd

from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS


def _as(client_as: Any, name: str, **extra: Any) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **{**caller.claims, **extra})


def _ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text[:300]
    return set(pd.read_csv(io.StringIO(response.text))["id"])


def test_anthro_export_honours_reach(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    url = "/exchange/anthro.csv?centre=Organization/{}"
    assert _ids(system.get(url.format("centre-b"))) == {"kid-b"}
    manager = _as(client_as, "health-manager")
    assert _ids(manager.get(url.format("centre-a"))) == {"kid-a"}
    # another centre's children: refused, not an empty file that hides the refusal
    other = manager.get(url.format("centre-b"))
    assert other.status_code == 403, other.text[:300]
    assert "kid-b" not in other.text
    # a paediatrician exports only the children whose guardians consented to share
    doctor = _as(client_as, "paediatrician-consent")
    assert _ids(doctor.get(url.format("centre-a"))) == {"kid-a"}
    assert _ids(doctor.get(url.format("centre-b"))) == set()
    for name in ("parent", "district-official", "admin"):
        assert _as(client_as, name).get(url.format("centre-a")).status_code == 403, name


def test_anthro_export_is_audited_naming_the_children(client_as: Any) -> None:
    world.load(client_as("system"))
    manager = _as(client_as, "health-manager")
    assert manager.get("/exchange/anthro.csv?centre=Organization/centre-a").status_code == 200
    admin = _as(client_as, "admin")
    found = admin.get("/fhir/AuditEvent?patient=Patient/kid-a&subtype=export").json()
    assert found["total"] >= 1, found
    event = found["entry"][0]["resource"]
    assert event["agent"][0]["altId"] == "user-health-manager"
    whats = {e.get("what", {}).get("reference") for e in event["entity"]}
    assert "Patient/kid-a" in whats
    assert "Patient/kid-b" not in whats


ASYNC = {"Prefer": "respond-async"}


def _finish(who: Any, path: str) -> str:
    kick = who.get(path, headers=ASYNC)
    assert kick.status_code == 202, kick.text[:300]
    status_url = kick.headers["content-location"]
    for _ in range(400):
        status = who.get(status_url)
        if status.status_code != 202:
            break
        time.sleep(0.05)
    assert status.status_code == 200, status.text[:300]
    return str(status_url)


def _started(app_factory: Any, **settings: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app_factory(authenticated=True, **settings))


def test_bulk_export_is_bound_to_the_whole_principal_and_audited(app_factory: Any) -> None:
    from tests.factories import RoleClient, auth_headers

    with _started(app_factory) as client:
        world.load(RoleClient(client, auth_headers("system")))
        claims = {"user": "same-user", "fhir_user": "PractitionerRole/hm-a-role"}
        manager = RoleClient(client, auth_headers("health-manager", **claims))
        status_url = _finish(manager, "/fhir/Group/centre-a/$export")
        files = manager.get(status_url).json()["output"]
        assert files
        # the same subject with another role, or through another organisation: refused
        other_role = RoleClient(client, auth_headers("centre-staff", **claims))
        other_org = RoleClient(
            client,
            auth_headers("centre-staff", user="same-user", fhir_user="PractitionerRole/cs-a-role"),
        )
        for who in (other_role, other_org):
            assert who.get(status_url).status_code == 403
            assert who.get(files[0]["url"]).status_code == 403
        assert manager.get(files[0]["url"]).status_code == 200
        admin = RoleClient(client, auth_headers("admin", user="auditor"))
        found = admin.get("/fhir/AuditEvent?patient=Patient/kid-a&subtype=export").json()
        assert any(
            e["resource"]["agent"][0]["altId"] == "same-user" for e in found.get("entry", [])
        )


def test_bulk_export_files_expire(app_factory: Any, settings: Any) -> None:
    import datetime as dt
    from pathlib import Path

    from healthbridge.district import bulk_jobs
    from tests.factories import RoleClient, auth_headers

    with _started(app_factory, bulk_export_ttl_hours=30) as client:
        system = RoleClient(client, auth_headers("system"))
        world.load(system)
        status_url = _finish(system, "/fhir/Patient/$export")
        job_id = status_url.rsplit("/", 1)[1]
        folder = Path(settings.data_dir) / "bulk-export" / job_id
        assert any(folder.iterdir())
        engine = client.app.state.repository.engine
        day_old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=29)
        assert bulk_jobs.update_job(engine, job_id, created=day_old.timestamp())
        assert system.get(status_url).status_code == 200  # within the configured 30 h
        older = (day_old - dt.timedelta(hours=2)).timestamp()
        assert bulk_jobs.update_job(engine, job_id, created=older)
        assert system.get(status_url).status_code == 404
        assert not folder.exists()  # the files are gone with it
        assert bulk_jobs.get_job(engine, job_id) is None  # and the job's row
