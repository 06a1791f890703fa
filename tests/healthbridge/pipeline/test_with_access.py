"""The pipeline under the real access layer: a paediatrician's and a centre's measurements are
scored and alerted with the server's authority (found by the browser journey: the derived
scores used to be refused as out of the caller's reach)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import factories as f
from tests.healthbridge.access import world
from tests.settle import settling

RULESET = "cn-child-health@2026.1/CN"


@pytest.fixture
def app_client(app_factory: Callable[..., Any]) -> Iterator[TestClient]:
    app = app_factory(authenticated=True, clinical_ruleset=RULESET)
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        yield settling(client)  # each write waits for the pipeline's results


def _as(caller: str) -> dict[str, str]:
    who = world.CALLERS[caller]
    return {**f.FHIR_JSON, **f.auth_headers(who.role, **who.claims)}


@pytest.mark.parametrize("caller", ["paediatrician-consent", "health-manager"])
def test_measurement_by_a_restricted_role_is_scored(app_client: TestClient, caller: str) -> None:
    world.load(f.RoleClient(app_client, f.auth_headers("system")))
    headers = _as(caller)
    weight = f.observation("Patient/kid-a", value=2.1)  # far below the median: an alert too
    weight["effectiveDateTime"] = "2026-06-01T09:00:00+08:00"
    created = app_client.post("/fhir/Observation", json=weight, headers=headers)
    assert created.status_code == 201, created.text
    system = f.auth_headers("system")
    scores = app_client.get(
        "/fhir/Observation?subject=Patient/kid-a&_count=50", headers=system
    ).json()
    derived = [
        e["resource"]
        for e in scores.get("entry", [])
        if any(
            d.get("reference", "").endswith(created.json()["id"])
            for d in e["resource"].get("derivedFrom", [])
        )
    ]
    assert derived, "no derived z-score Observation was written"
    # the caller sees the derived data of a child in reach
    mine = app_client.get(f"/fhir/Observation/{derived[0]['id']}", headers=headers)
    assert mine.status_code == 200


def test_review_actions_record_the_callers_fhir_identity(app_client: TestClient) -> None:
    """A note's author and a referral's requester are the token's FHIR user (the health
    manager's PractitionerRole), not the login name or the Task owner."""
    world.load(f.RoleClient(app_client, f.auth_headers("system")))
    system = f.auth_headers("system")
    weight = f.observation("Patient/kid-a", value=2.1)
    weight["effectiveDateTime"] = "2026-06-01T09:00:00+08:00"
    assert app_client.post("/fhir/Observation", json=weight, headers=system).status_code == 201
    tasks = app_client.get(
        "/fhir/Task?patient=Patient/kid-a&code=alert-review&_count=50", headers=system
    ).json()
    task = tasks["entry"][0]["resource"]
    headers = _as("health-manager")
    fhir_user = world.CALLERS["health-manager"].claims["fhir_user"]
    note = {"resourceType": "Parameters", "parameter": [{"name": "text", "valueString": "已通知"}]}
    r = app_client.post(f"/fhir/Task/{task['id']}/$note", json=note, headers=headers)
    assert r.status_code == 200, r.text
    # R4 Annotation.author cannot name a PractitionerRole: the role's Practitioner is named
    assert fhir_user == "PractitionerRole/hm-a-role"
    assert r.json()["note"][-1]["authorReference"] == {"reference": "Practitioner/hm-a"}
    refer = {
        "resourceType": "Parameters",
        "parameter": [{"name": "performer", "valueString": "Organization/hosp-h"}],
    }
    r = app_client.post(f"/fhir/Task/{task['id']}/$refer", json=refer, headers=headers)
    assert r.status_code == 200, r.text
    referral = r.json()["output"][-1]["valueReference"]["reference"]
    sr = app_client.get(f"/fhir/{referral}", headers=system).json()
    assert sr["requester"] == {"reference": fhir_user}
