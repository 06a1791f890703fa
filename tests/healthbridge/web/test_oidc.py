"""OIDC sign-in to the pages against a local OpenID provider (``oidc-provider-mock``, run on
loopback by the test): authorization code + PKCE, state and nonce, unknown users refused."""

from __future__ import annotations

import urllib.parse
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from healthbridge.access import accounts
from healthbridge.access.tokens import Role
from healthbridge.web.oidc import challenge
from tests.healthbridge.web.world import World, build_world


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mock imports the deprecated authlib.jose
        import oidc_provider_mock

    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def site(app_factory: Any, provider: str) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(
        authenticated=True,
        oidc_issuer=provider,
        oidc_client_id="healthbridge-web",
        oidc_client_secret="web-client-secret",  # the mock's code grant wants client auth
    )
    with TestClient(app) as client:
        yield client, build_world(app.state.repository, children=6)


def _provider_login(client: TestClient, sub: str) -> tuple[Any, str]:
    """Start at HealthBridge, sign in as ``sub`` at the provider, come back."""
    start = client.get("/app/login/oidc", follow_redirects=False)
    assert start.status_code == 303
    authorize = start.headers["location"]
    with httpx.Client() as browser:
        answer = browser.post(authorize, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    back = urllib.parse.urlsplit(answer.headers["location"])
    assert back.path == "/app/login/oidc/callback"
    return client.get(f"{back.path}?{back.query}", follow_redirects=False), authorize


def test_a_known_provider_user_signs_in_with_pkce(site: tuple[TestClient, World]) -> None:
    client, world = site
    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    with accounts.writing(engine) as conn:
        accounts.create_account(
            conn, username="dr-wang", role=Role.PAEDIATRICIAN, fhir_user=world.doctor,
            organization=f"Organization/{world.hospital_id}", oidc_subject="wang@hospital.example",
        )  # fmt: skip
    assert "/app/login/oidc" in client.get("/app/login").text
    done, authorize = _provider_login(client, "wang@hospital.example")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/app/doctor"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # a SHA-256 challenge, never the verifier
    assert {"state", "nonce"} <= set(query)
    assert client.get("/app/doctor").status_code == 200


def test_an_unknown_provider_user_is_refused(site: tuple[TestClient, World]) -> None:
    client, _world = site
    done, _ = _provider_login(client, "stranger@example.org")
    assert done.status_code == 403
    assert "未在本系统开通" in done.text
    assert "healthbridge_session" not in done.cookies


def test_a_callback_with_another_state_is_refused(site: tuple[TestClient, World]) -> None:
    client, _world = site
    client.get("/app/login/oidc", follow_redirects=False)
    r = client.get("/app/login/oidc/callback?code=abc&state=forged", follow_redirects=False)
    assert r.status_code == 400
    assert "healthbridge_session" not in r.cookies


def test_pkce_challenge_is_rfc7636_s256() -> None:
    # RFC 7636 appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_oidc_sign_in_absent_unless_configured(app_factory: Any) -> None:
    with TestClient(app_factory(authenticated=True)) as client:
        assert client.get("/app/login/oidc").status_code == 404
        assert "/app/login/oidc" not in client.get("/app/login").text
