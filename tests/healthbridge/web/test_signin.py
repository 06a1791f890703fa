"""Signing in (issue 20 item 1 and "real sign-in"): the demo login offers and accepts only
people the record holds and only in development; password accounts with lockout and rate
limits; sessions that logout revokes; CSRF on every form; invitations; the admin page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from healthbridge.access import accounts
from healthbridge.access.tokens import Role
from healthbridge.config import DEFAULT_AUTH_SECRET, Settings
from healthbridge.web.pages_signin import DEMO_OFFICIAL
from tests.factories import TEST_SECRET
from tests.healthbridge.web.test_pages import csrf_of, session_cookie, sign_in_as
from tests.healthbridge.web.world import World, build_world

PASSWORD = "correct horse battery"


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development", authenticated=True)
    with TestClient(app) as client:
        yield client, build_world(app.state.repository)


def _account(client: TestClient, **values: Any) -> accounts.Account:
    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    with accounts.writing(engine) as conn:
        return accounts.create_account(conn, **values)


def _post_login(client: TestClient, username: str, password: str) -> Any:
    client.cookies.clear()
    client.headers.pop("x-csrf-token", None)
    token = csrf_of(client.get("/app/login").text)
    return client.post(
        "/app/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def _session_claims(client: TestClient) -> dict[str, Any]:
    from healthbridge.access import sessions

    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    found = sessions.lookup(engine, session_cookie(client))
    assert found is not None
    p = found.principal
    return {"role": p.role, "fhir_user": p.fhir_user, "org": p.organization, "sub": p.subject}


# --- item 1: the demo login ---------------------------------------------------------------


def test_demo_login_refuses_roles_and_people_the_record_does_not_hold(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    token = csrf_of(client.get("/app/login").text)
    for form in (
        {"role": "system", "fhir_user": "x"},  # the attack of issue 20
        {"role": "admin", "fhir_user": "x", "person": "x"},
        {"person": "system"},
        {"person": "RelatedPerson/nobody"},
        {"person": "PractitionerRole/nobody"},
        {"person": f"Patient/{world.child_id}"},
        {"person": "RelatedPerson/../Patient"},
        {"role": "bogus", "person": "bogus"},
    ):
        client.cookies.clear()
        client.cookies.set("healthbridge_csrf", token)
        r = client.post(
            "/app/login/demo", data={**form, "csrf_token": token}, follow_redirects=False
        )
        assert r.status_code == 400, form
        assert "healthbridge_session" not in r.cookies
    page = client.get("/app/login").text
    assert "system" not in re.findall(r'name="person" value="([^"]+)"', page)
    assert all(
        v == DEMO_OFFICIAL or v.startswith(("RelatedPerson/", "PractitionerRole/"))
        for v in re.findall(r'name="person" value="([^"]+)"', page)
    )


def test_demo_login_derives_role_and_organisation_from_the_record(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    client.cookies.clear()
    token = csrf_of(client.get("/app/login").text)
    r = client.post(
        "/app/login/demo",
        data={
            "person": world.manager,
            "role": "system",  # ignored: the server reads the person
            "organization": f"Organization/{world.hospital_id}",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/app/centre"
    claims = _session_claims(client)
    assert claims["role"] is Role.HEALTH_MANAGER
    assert claims["org"] == f"Organization/{world.centre_id}"
    sign_in_as(client, world.parent)
    assert _session_claims(client)["role"] is Role.PARENT


@pytest.mark.parametrize("environment", ["production", "test"])
def test_demo_login_absent_outside_development(app_factory: Any, environment: str) -> None:
    app = app_factory(demo_login=True, environment=environment, authenticated=True)
    with TestClient(app, base_url="https://hb.example") as client:
        page = client.get("/app/login").text
        assert "demo-" not in page
        data = {"person": DEMO_OFFICIAL, "csrf_token": csrf_of(page)}
        assert client.post("/app/login/demo", data=data).status_code == 404


def test_production_refuses_a_default_or_missing_secret(settings: Settings) -> None:
    from healthbridge.server.app import create_app

    for secret in ("", DEFAULT_AUTH_SECRET, "short"):
        with pytest.raises(ValueError, match="AUTH_SECRET"):
            Settings(environment="production", auth_secret=secret)
        with pytest.raises(RuntimeError, match="AUTH_SECRET"):
            create_app(
                settings.model_copy(update={"environment": "production", "auth_secret": secret})
            )


def test_a_server_without_settings_never_accepts_the_published_secret(
    settings: Settings,
) -> None:
    from healthbridge.access.tokens import mint_token
    from healthbridge.server.app import create_app

    bare = settings.model_copy(update={"environment": "development", "auth_secret": ""})
    app = create_app(bare)
    with TestClient(app) as client:
        for secret, status in ((DEFAULT_AUTH_SECRET, 401), (bare.local_secret(), 200)):
            token = mint_token(secret=secret, role=Role.SYSTEM, subject="x")
            r = client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == status, secret
    assert (bare.data_dir / "auth-secret").stat().st_mode & 0o077 == 0
    assert bare.local_secret() == bare.local_secret() != DEFAULT_AUTH_SECRET


def test_an_unknown_role_is_refused_not_a_server_error(site: tuple[TestClient, World]) -> None:
    client, _world = site
    claims = {"iss": "healthbridge-local", "aud": "healthbridge", "sub": "x", "iat": 1,
              "exp": 4_000_000_000, "healthbridge_role": "bogus"}  # fmt: skip
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    r = client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    client.cookies.clear()
    form = {"token": token, "csrf_token": csrf_of(client.get("/app/login").text)}
    assert client.post("/app/login/token", data=form).status_code == 401


# --- password accounts, sessions, lockout ----------------------------------------------------


def test_parent_signs_in_with_a_password_and_logout_revokes(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    _account(client, username="Mother", role=Role.PARENT, password=PASSWORD,
             fhir_user=world.parent)  # fmt: skip
    assert "$argon2id$" in _stored_hash(client, "mother")
    r = _post_login(client, "mother", PASSWORD)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/parent"
    cookie = session_cookie(client)
    assert len(cookie) >= 40
    assert "." not in cookie  # an opaque id, not a JWT
    page = client.get("/app/parent")
    assert f"/app/child/{world.child_id}" in page.text
    client.post("/app/logout", data={"csrf_token": csrf_of(page.text)})
    client.cookies.set("healthbridge_session", cookie)  # a copied cookie after logout
    assert client.get("/app/parent", follow_redirects=False).status_code == 303


def _stored_hash(client: TestClient, username: str) -> str:
    from sqlalchemy import select

    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(
            select(accounts.ACCOUNT.c.password_hash).where(accounts.ACCOUNT.c.username == username)
        ).scalar_one()
    return str(row)


def test_wrong_passwords_lock_the_account(site: tuple[TestClient, World]) -> None:
    client, world = site
    _account(client, username="mother", role=Role.PARENT, password=PASSWORD,
             fhir_user=world.parent)  # fmt: skip
    bad = _post_login(client, "mother", "wrong-password")
    assert bad.status_code == 401
    assert "用户名或密码不正确" in bad.text
    assert 'value="mother"' in bad.text  # what was typed is kept
    for _ in range(accounts.MAX_FAILURES - 1):
        r = _post_login(client, "mother", "wrong-password")
    assert "已暂时锁定" in r.text
    locked = _post_login(client, "mother", PASSWORD)  # even the right password
    assert locked.status_code == 401
    assert "已暂时锁定" in locked.text


def test_failures_from_one_address_are_throttled(site: tuple[TestClient, World]) -> None:
    client, _world = site
    for i in range(accounts.MAX_CLIENT_FAILURES):
        assert _post_login(client, f"nobody-{i}", "whatever-x").status_code == 401
    r = _post_login(client, "nobody", "whatever-x")
    assert r.status_code == 429
    assert "失败次数过多" in r.text


def test_lockout_counts_live_in_the_database(site: tuple[TestClient, World]) -> None:
    """Two engines (two server processes) see the same counts."""
    from healthbridge.store.db import make_engine

    client, world = site
    _account(client, username="mother", role=Role.PARENT, password=PASSWORD,
             fhir_user=world.parent)  # fmt: skip
    url = client.app.state.settings.resolved_database_url()  # type: ignore[attr-defined]
    other = make_engine(url)
    try:
        for _ in range(accounts.MAX_FAILURES):
            accounts.check_password(other, "mother", "nope-nope", "10.0.0.1")
    finally:
        other.dispose()
    assert "已暂时锁定" in _post_login(client, "mother", PASSWORD).text


# --- CSRF -------------------------------------------------------------------------------------


def test_forms_need_the_sessions_csrf_token_and_this_sites_origin(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    sign_in_as(client, world.parent)
    token = client.headers.pop("x-csrf-token")
    page = client.get(f"/app/child/{world.child_id}").text
    url = re.search(rf"/app/child/{world.child_id}/consent/[^\"]+", page)
    assert url is not None
    assert client.post(url.group(0), data={"active": "no"}).status_code == 403
    wrong = client.post(url.group(0), data={"active": "no", "csrf_token": "x" * 40})
    assert wrong.status_code == 403
    cross = client.post(
        url.group(0),
        data={"active": "no", "csrf_token": token},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    assert "已撤回" not in client.get(f"/app/child/{world.child_id}").text
    ok = client.post(
        url.group(0), data={"active": "no", "csrf_token": token}, follow_redirects=False
    )
    assert ok.status_code == 303
    for template_form in re.findall(r"<form method=\"post\"[^>]*>(.{0,120})", page):
        assert 'name="csrf_token"' in template_form
    login_page = client.get("/app/login").text
    assert login_page.count('name="csrf_token"') == login_page.count('method="post"')


def test_login_form_without_its_token_is_refused(site: tuple[TestClient, World]) -> None:
    client, _world = site
    client.cookies.clear()
    r = client.post("/app/login", data={"username": "a", "password": "b" * 8})
    assert r.status_code == 403


def test_cookie_is_secure_over_https_and_in_production(app_factory: Any) -> None:
    app = app_factory(environment="production", authenticated=True)
    with TestClient(app, base_url="https://hb.example") as client:
        world = build_world(app.state.repository)
        _account(client, username="mother", role=Role.PARENT, password=PASSWORD,
                 fhir_user=world.parent)  # fmt: skip
        r = _post_login(client, "mother", PASSWORD)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        for attribute in ("secure", "httponly", "samesite=lax"):
            assert attribute in cookie


# --- invitations and the admin page ----------------------------------------------------------


def test_centre_invites_a_parent_who_sets_a_password(site: tuple[TestClient, World]) -> None:
    client, world = site
    sign_in_as(client, world.manager)
    r = client.post("/app/centre/invite", data={"related_person": world.parent})
    assert r.status_code == 201
    link = re.search(r'data-testid="invite-link">([^<]+)<', r.text)
    assert link is not None
    path = "/" + link.group(1).split("/", 3)[3]
    client.cookies.clear()
    client.headers.pop("x-csrf-token")
    form = client.get(path)
    assert form.status_code == 200
    token = csrf_of(form.text)
    short = client.post(path, data={"password": "x", "confirm": "x", "csrf_token": token})
    assert short.status_code == 400
    done = client.post(
        path,
        data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/app/parent"
    assert client.get(path).status_code == 404  # used up
    username = world.parent.split("/")[1]
    assert _post_login(client, username, PASSWORD).status_code == 303
    # once the parent has a password, the centre cannot issue another invitation
    sign_in_as(client, world.manager)
    again = client.post("/app/centre/invite", data={"related_person": world.parent})
    assert again.status_code == 400
    assert "已设置密码" in again.text


def test_centre_cannot_invite_a_guardian_out_of_reach(site: tuple[TestClient, World]) -> None:
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    from healthbridge.demo.load import DEMO_CONTEXT

    with repo.transaction(DEMO_CONTEXT, write=False) as txn:
        found = txn.search_params("RelatedPerson", [("patient", world.other_child_id)])
        other = f"RelatedPerson/{found.matches[0].id}"
    sign_in_as(client, world.manager)
    assert client.post("/app/centre/invite", data={"related_person": other}).status_code == 404


def test_admin_creates_resets_and_deactivates_staff(site: tuple[TestClient, World]) -> None:
    client, world = site
    _account(client, username="root", role=Role.ADMIN, password=PASSWORD)
    r = _post_login(client, "root", PASSWORD)
    assert r.headers["location"] == "/app/admin"
    client.headers["x-csrf-token"] = csrf_of(client.get("/app/admin").text)
    bogus = client.post(
        "/app/admin/accounts",
        data={
            "username": "dr",
            "practitioner_role": "PractitionerRole/nobody",
            "password": PASSWORD,
        },
    )
    assert bogus.status_code == 400
    made = client.post(
        "/app/admin/accounts",
        data={"username": "dr", "practitioner_role": world.doctor, "password": PASSWORD},
        follow_redirects=False,
    )
    assert made.status_code == 303
    engine = client.app.state.repository.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        dr = accounts.find_account(conn, username="dr")
    assert dr is not None
    assert dr.role is Role.PAEDIATRICIAN
    assert dr.organization == f"Organization/{world.hospital_id}"
    admin_cookie, admin_csrf = (
        client.cookies["healthbridge_session"],
        client.headers["x-csrf-token"],
    )
    doctor = _post_login(client, "dr", PASSWORD)
    assert doctor.status_code == 303
    doctor_cookie = session_cookie(client)
    client.cookies.clear()
    client.cookies.set("healthbridge_session", admin_cookie)
    client.headers["x-csrf-token"] = admin_csrf
    client.post(f"/app/admin/accounts/{dr.id}/active", data={"active": "no"})
    client.cookies.set("healthbridge_session", doctor_cookie)
    assert client.get("/app/doctor", follow_redirects=False).status_code == 303  # ended
    assert _post_login(client, "dr", PASSWORD).status_code == 401
    # other roles may not open the admin page
    sign_in_as(client, world.manager)
    assert client.get("/app/admin").status_code == 403


def test_signing_in_again_over_an_ended_session(site: tuple[TestClient, World]) -> None:
    """A browser still holding a revoked session cookie can sign in (no redirect loop), and
    a form of the ended session goes back to the sign-in page."""
    client, world = site
    _account(client, username="mother", role=Role.PARENT, password=PASSWORD,
             fhir_user=world.parent)  # fmt: skip
    sign_in_as(client, world.parent)
    stale, token = session_cookie(client), client.headers.pop("x-csrf-token")
    client.post("/app/logout", data={"csrf_token": token})
    client.cookies.set("healthbridge_session", stale)
    page = client.get("/app/login")
    form = {"username": "mother", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    r = client.post("/app/login", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/parent"
    client.cookies.clear()
    client.cookies.set("healthbridge_session", stale)
    old_form = client.post("/app/logout", data={"csrf_token": token}, follow_redirects=False)
    assert old_form.status_code == 303
    assert old_form.headers["location"] == "/app/login"
