"""The audit trail names the child and records refusals (issue 20 item 5): every access to a
child's records — also through Observations and other compartment members — is found by
``AuditEvent?patient=``; refused (403) and not-found (404) attempts are recorded with a
failure outcome, in a transaction of their own that the refused request's rollback does not
undo; exports record what left the API."""

from __future__ import annotations

from typing import Any

from tests import factories as f
from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS


def _as(client_as: Any, name: str, **extra: Any) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **{**caller.claims, **extra})


def _events(admin: Any, query: str) -> list[dict[str, Any]]:
    got = admin.get(f"/fhir/AuditEvent?{query}&_count=100")
    assert got.status_code == 200, got.text[:300]
    return [e["resource"] for e in got.json().get("entry", [])]


def _by(events: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    return [e for e in events if e["agent"][0].get("altId") == user]


def _whats(event: dict[str, Any]) -> set[str]:
    return {e.get("what", {}).get("reference") for e in event.get("entity", [])}


def test_observation_reads_searches_and_creates_name_the_child(client_as: Any) -> None:
    world.load(client_as("system"))
    manager = _as(client_as, "health-manager")
    assert manager.get("/fhir/Observation/obs-a").status_code == 200
    assert manager.get("/fhir/Observation?code=29463-7").status_code == 200
    created = manager.post("/fhir/Observation", json=f.observation("Patient/kid-a", value=9.9))
    assert created.status_code == 201, created.text[:300]
    admin = _as(client_as, "admin")
    mine = _by(_events(admin, "patient=Patient/kid-a"), "user-health-manager")
    kinds = {e["subtype"][0]["code"] for e in mine}
    assert {"read", "search-type", "create"} <= kinds, kinds
    read = next(e for e in mine if e["subtype"][0]["code"] == "read")
    assert {"Observation/obs-a", "Patient/kid-a"} <= _whats(read)
    patient_entity = next(e for e in read["entity"] if e["what"]["reference"] == "Patient/kid-a")
    assert patient_entity["role"]["code"] == "1"  # object-role: Patient
    # the other centre's child is not named by the manager's accesses
    assert not _by(_events(admin, "patient=Patient/kid-b"), "user-health-manager")


def test_refused_and_not_found_attempts_are_audited(client_as: Any) -> None:
    world.load(client_as("system"))
    parent = _as(client_as, "parent")
    assert parent.get("/fhir/Observation/obs-b").status_code == 404  # another family's child
    assert parent.get("/fhir/Patient/kid-zz").status_code == 404  # does not exist
    official = _as(client_as, "district-official")
    assert official.get("/fhir/Observation?subject=Patient/kid-a").status_code == 403
    manager = _as(client_as, "health-manager")
    bundle = f.transaction(
        f.post(f.observation("Patient/kid-a")), f.post(f.observation("Patient/kid-b"))
    )
    assert manager.post("/fhir", json=bundle).status_code == 404  # rolled back entirely
    admin = _as(client_as, "admin")
    failed = _events(admin, "outcome=4")
    by_parent = _by(failed, "user-parent")
    assert any("Patient/kid-b" in _whats(e) and "Observation/obs-b" in _whats(e) for e in by_parent)
    assert any("Patient/kid-zz" in _whats(e) for e in by_parent)
    assert all(e["subtype"][0]["code"] == "read" for e in by_parent)
    assert _by(failed, "user-district-official")
    refused = _by(failed, "user-health-manager")
    assert refused
    assert refused[0]["subtype"][0]["code"] == "transaction"
    assert "kid-b" in refused[0]["outcomeDesc"]
    # the refused transaction wrote nothing (the audit record is all that remains)
    assert not _by(_events(admin, "outcome=0&subtype=create"), "user-health-manager")


def test_parent_report_is_audited_as_an_export(client_as: Any) -> None:
    world.load(client_as("system"))
    parent = _as(client_as, "parent")
    got = parent.get("/fhir/Patient/kid-a/$parent-report")
    assert got.status_code == 200, got.text[:300]
    admin = _as(client_as, "admin")
    exports = _by(_events(admin, "patient=Patient/kid-a&subtype=export"), "user-parent")
    assert exports, "the parent report was not recorded as an export"


def test_a_page_refusal_is_audited(client_as: Any) -> None:
    from tests.factories import auth_headers
    from tests.healthbridge.web.test_pages import sign_in_with_token

    world.load(client_as("system"))
    manager = _as(client_as, "health-manager")
    token = auth_headers(
        "health-manager", user="user-page", fhir_user="PractitionerRole/hm-a-role"
    )["Authorization"].split()[1]
    raw = manager.client
    sign_in_with_token(raw, token)
    try:
        assert raw.get("/app/child/kid-b").status_code == 404
    finally:
        raw.cookies.clear()
    failed = _by(_events(_as(client_as, "admin"), "patient=Patient/kid-b&outcome=4"), "user-page")
    assert failed, "the page's refusal was not audited"


def _unknown(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["agent"][0].get("who", {}).get("display") == "unknown"]


def test_unauthenticated_attempts_are_audited_once_per_address_and_minute(
    client_as: Any,
) -> None:
    """A refused token (401) has no verified caller: recorded with an "unknown" agent and the
    client address, outcome 4 — at most one per address per minute, so a flood of forged
    tokens cannot flood the trail (issue 20: every refused or failed access is audited)."""
    forged = {"Authorization": "Bearer not-a-token"}
    raw = client_as("system").client
    assert raw.get("/fhir/Patient/kid-a", headers=forged).status_code == 401
    assert raw.get("/fhir/Observation", headers=forged).status_code == 401
    admin = _as(client_as, "admin")
    refused = _unknown(_events(admin, "outcome=4"))
    assert len(refused) == 1, refused
    event = refused[0]
    assert event["agent"][0]["network"]["address"]
    assert event["outcomeDesc"].startswith("401")
    assert "GET /fhir/Patient/kid-a" in str(event)


def test_a_refused_sign_in_on_the_pages_is_audited(client_as: Any) -> None:
    from tests.healthbridge.web.test_pages import csrf_of

    raw = client_as("system").client
    csrf = csrf_of(raw.get("/app/login").text)
    r = raw.post("/app/login", data={"username": "nobody", "password": "wrong", "csrf_token": csrf})
    assert r.status_code == 401
    refused = _unknown(_events(_as(client_as, "admin"), "outcome=4"))
    assert len(refused) == 1
    assert "password sign-in of 'nobody'" in refused[0]["outcomeDesc"]
