"""Identity claims against the directory (issue 20 items 4 and 7): a deleted or deactivated
organisation cuts its staff off, and the token's role must be the PractitionerRole's."""

from __future__ import annotations

from typing import Any

from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS

STAFF_ROLE = "https://healthbridge.github.io/fhir/CodeSystem/staff-role"


def _as(client_as: Any, name: str, **extra: Any) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **{**caller.claims, **extra})


def test_deleting_an_organisation_cuts_off_its_staff(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    manager = _as(client_as, "health-manager")
    staff_no_user = client_as("centre-staff", user="svc", org="Organization/centre-a")
    assert manager.get("/fhir/Patient/kid-a").status_code == 200
    assert staff_no_user.get("/fhir/Patient/kid-a").status_code == 200
    assert system.delete("/fhir/Organization/centre-a").status_code in (200, 204)
    for who in (manager, staff_no_user):
        got = who.get("/fhir/Patient/kid-a")
        assert got.status_code == 401, got.text[:300]
        assert who.get("/fhir/Observation?subject=Patient/kid-a").status_code == 401


def test_deactivating_an_organisation_cuts_off_its_staff(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    doctor = _as(client_as, "paediatrician-consent")
    assert doctor.get("/fhir/Patient/kid-a").status_code == 200
    org = system.get("/fhir/Organization/hosp-h").json()
    assert system.put("/fhir/Organization/hosp-h", json={**org, "active": False}).status_code == 200
    assert doctor.get("/fhir/Patient/kid-a").status_code == 401


def test_token_role_must_match_the_practitioner_role_code(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    role = system.get("/fhir/PractitionerRole/hm-a-role").json()
    coded = {**role, "code": [{"coding": [{"system": STAFF_ROLE, "code": "health-manager"}]}]}
    assert system.put("/fhir/PractitionerRole/hm-a-role", json=coded).status_code == 200
    fhir_user = {"fhir_user": "PractitionerRole/hm-a-role"}
    assert (
        client_as("health-manager", user="m", **fhir_user).get("/fhir/Patient/kid-a").status_code
        == 200
    )
    assert (
        client_as("centre-staff", user="m", **fhir_user).get("/fhir/Patient/kid-a").status_code
        == 200
    )
    # a health manager's PractitionerRole does not make its holder a paediatrician
    wrong = client_as("paediatrician", user="m", **fhir_user).get("/fhir/Patient/kid-a")
    assert wrong.status_code == 401, wrong.text[:300]
    assert "role" in wrong.json()["issue"][0]["diagnostics"]


def test_another_centres_child_identifier_is_not_duplicated(client_as: Any) -> None:
    from tests import factories as f

    system = client_as("system")
    world.load(system)
    manager = _as(client_as, "health-manager")
    copy = {
        **f.child(child_id="B", given="冒名"),
        "extension": [world._enrol("centre-a", "2024-09-01")],
    }
    query = f"identifier={f.CHILD_ID}|B"
    for headers in ({}, {"If-None-Exist": query}):
        got = manager.post("/fhir/Patient", json=copy, headers=headers)
        assert got.status_code == 409, got.text[:300]
        body = got.json()
        assert body["resourceType"] == "OperationOutcome"
        assert "kid-b" not in got.text
        assert "贝贝" not in got.text
    assert system.get(f"/fhir/Patient?{query}&_summary=count").json()["total"] == 1
    # the centre's own child keeps its identifier through an update
    own = system.get("/fhir/Patient/kid-a").json()
    assert manager.put("/fhir/Patient/kid-a", json=own).status_code == 200
