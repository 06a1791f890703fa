"""SMART App Launch: discovery, standalone and EHR launch (code + PKCE S256), the token's
patient context narrowing the user's reach, and the refusals (driven with the test client)."""

from __future__ import annotations

import html
import re
import secrets
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.access.tokens import Role
from healthbridge.config import SmartClient
from healthbridge.web.oidc import challenge
from healthbridge.web.smart import grant_scopes
from tests.factories import auth_headers
from tests.healthbridge.web.test_pages import csrf_of, sign_in_as
from tests.healthbridge.web.world import World, build_world

APP = "growth-app"
REDIRECT = "https://app.example/callback"
LAUNCH_URL = "https://app.example/launch"
FHIR = "http://testserver/fhir"


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    clients = {APP: SmartClient(redirect_uris=[REDIRECT], launch_url=LAUNCH_URL, name="生长曲线")}
    app = app_factory(
        demo_login=True, environment="development", authenticated=True, smart_clients=clients
    )
    with TestClient(app) as client:
        yield client, build_world(app.state.repository)


def _authorize_params(scope: str, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code", "client_id": APP, "redirect_uri": REDIRECT, "scope": scope,
        "state": "st-1", "aud": FHIR, "code_challenge": challenge(verifier),
        "code_challenge_method": "S256", **extra,
    }  # fmt: skip


def _approve(client: TestClient, params: dict[str, str], **form: str) -> dict[str, str]:
    page = client.get("/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    hidden = re.search(r'name="params" value="([^"]+)"', page.text)
    assert hidden is not None
    r = client.post(
        "/auth/authorize",
        data={
            "params": html.unescape(hidden.group(1)),
            "decision": "allow",
            "csrf_token": csrf_of(page.text),
            **form,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    location = urllib.parse.urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return dict(urllib.parse.parse_qsl(location.query))


def _token(client: TestClient, code: str, verifier: str) -> Any:
    return client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": APP,
            "code_verifier": verifier,
        },
    )


def test_smart_configuration_is_public(site: tuple[TestClient, World]) -> None:
    client, _world = site
    for path in ("/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"):
        conf = client.get(path).json()
        assert conf["code_challenge_methods_supported"] == ["S256"]
        assert conf["authorization_endpoint"].endswith("/auth/authorize")
        assert conf["token_endpoint"].endswith("/auth/token")
        assert {"launch-ehr", "launch-standalone", "permission-v2"} <= set(conf["capabilities"])


def test_standalone_launch_with_patient_picker(site: tuple[TestClient, World]) -> None:
    client, world = site
    verifier = secrets.token_urlsafe(48)
    params = _authorize_params("launch/patient openid fhirUser patient/*.rs", verifier)
    gate = client.get("/auth/authorize", params=params, follow_redirects=False)
    assert gate.headers["location"].startswith("/app/login?next=")  # sign in first
    sign_in_as(client, world.parent)
    page = client.get("/auth/authorize", params=params)
    assert f'data-testid="pick-{world.child_id}"' in page.text
    assert f"pick-{world.other_child_id}" not in page.text  # only children in reach
    back = _approve(client, params, patient=world.child_id)
    assert back["state"] == "st-1"
    answer = _token(client, back["code"], verifier)
    assert answer.status_code == 200
    body = answer.json()
    assert answer.headers["cache-control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["patient"] == world.child_id
    assert body["fhirUser"] == world.parent
    assert "patient/*.rs" in body["scope"].split()
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    client.cookies.clear()
    assert client.get(f"/fhir/Patient/{world.child_id}", headers=bearer).status_code == 200
    assert client.get(f"/fhir/Patient/{world.other_child_id}", headers=bearer).status_code == 404
    assert _token(client, back["code"], verifier).json()["error"] == "invalid_grant"  # one use


def test_ehr_launch_binds_the_token_to_the_child(site: tuple[TestClient, World]) -> None:
    client, world = site
    doctor = auth_headers("paediatrician", user="dr", fhir_user=world.doctor)
    in_reach = client.get("/fhir/Patient?_count=100", headers=doctor).json()
    others = [e["resource"]["id"] for e in in_reach.get("entry", [])]
    others.remove(world.child_id)
    assert others, "the demo doctor should reach more than one child"
    sign_in_as(client, world.doctor)
    assert f'data-testid="launch-{APP}"' in client.get(f"/app/child/{world.child_id}").text
    opened = client.post(f"/app/child/{world.child_id}/launch/{APP}", follow_redirects=False)
    assert opened.status_code == 303
    target = urllib.parse.urlsplit(opened.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == LAUNCH_URL
    launch = dict(urllib.parse.parse_qsl(target.query))
    assert launch["iss"] == FHIR
    verifier = secrets.token_urlsafe(48)
    params = _authorize_params("launch openid user/*.rs", verifier, launch=launch["launch"])
    back = _approve(client, params)
    body = _token(client, back["code"], verifier).json()
    assert body["patient"] == world.child_id
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    client.cookies.clear()
    assert client.get(f"/fhir/Patient/{world.child_id}", headers=bearer).status_code == 200
    assert client.get(f"/fhir/Patient/{others[0]}", headers=bearer).status_code == 404
    found = client.get("/fhir/Patient?_count=100", headers=bearer).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [world.child_id]


def test_refusals(site: tuple[TestClient, World]) -> None:
    client, world = site
    sign_in_as(client, world.parent)
    verifier = secrets.token_urlsafe(48)
    plain = _authorize_params("patient/*.rs", verifier, code_challenge_method="plain")
    r = client.get("/auth/authorize", params=plain, follow_redirects=False)
    assert r.status_code == 303
    assert "error=invalid_request" in r.headers["location"]
    stranger = _authorize_params("patient/*.rs", verifier, redirect_uri="https://evil.example/")
    r = client.get("/auth/authorize", params=stranger, follow_redirects=False)
    assert r.status_code == 400  # never redirected to an unregistered address
    wrong_aud = _authorize_params("patient/*.rs", verifier, aud="https://other.example/fhir")
    r = client.get("/auth/authorize", params=wrong_aud, follow_redirects=False)
    assert "error=invalid_request" in r.headers["location"]
    forged = _authorize_params("launch user/*.rs", verifier, launch="forged")
    r = client.get("/auth/authorize", params=forged, follow_redirects=False)
    assert "error=invalid_request" in r.headers["location"]
    back = _approve(client, _authorize_params("patient/*.rs", verifier))
    assert _token(client, back["code"], "x" * 43).json()["error"] == "invalid_grant"
    # a parent cannot pick a child out of reach
    params = _authorize_params("launch/patient patient/*.rs", verifier)
    page = client.get("/auth/authorize", params=params)
    hidden = re.search(r'name="params" value="([^"]+)"', page.text)
    assert hidden is not None
    r = client.post(
        "/auth/authorize",
        data={
            "params": html.unescape(hidden.group(1)),
            "decision": "allow",
            "patient": world.other_child_id,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert "error=access_denied" in r.headers["location"]


def test_an_app_gets_no_more_than_its_user() -> None:
    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import DEFAULT_SCOPES

    def own(role: Role) -> Any:
        return parse_scopes(DEFAULT_SCOPES[role])

    assert grant_scopes(own(Role.PARENT), "patient/*.rs user/*.cruds system/*.rs launch") == [
        "patient/*.rs",
        "launch",
    ]
    assert grant_scopes(own(Role.DISTRICT_OFFICIAL), "user/Patient.rs user/Organization.rs") == [
        "user/Organization.rs"
    ]
    assert grant_scopes(own(Role.PAEDIATRICIAN), "user/*.cruds nonsense/x") == ["user/*.cruds"]
