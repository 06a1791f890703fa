"""Exports that leave the FHIR API obey reach and are audited (issue 20 items 2 and 5)."""

from __future__ import annotations

import io
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
