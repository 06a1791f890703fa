"""Signing in and out: password accounts, invitations, a pasted token, the demo login.

* ``POST /app/login`` — username and password of a local account
  (:mod:`healthbridge.access.accounts`: argon2id, lockout per account, rate limit per client
  address, both counted in the database).
* ``POST /app/login/token`` — a bearer token (``healthbridge token`` or the identity
  provider's), verified like the API's.
* ``GET|POST /app/invite/{code}`` — an invited parent or staff member sets their password.
* ``POST /app/login/demo`` — development only (``environment=development`` and
  ``demo_login``; 404 otherwise): sign in as one of the people the record holds, chosen by
  reference. The server reads that person and derives role, ``fhirUser`` and organisation
  itself; ``system`` and ``admin`` are never offered.
* ``POST /app/logout`` — revokes the session.

Every sign-in starts a server-side session (:func:`healthbridge.web.auth.sign_in`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access import accounts
from healthbridge.access import http as access_http
from healthbridge.access.accounts import AccountError, Outcome
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.scopes import parse_scopes
from healthbridge.access.tokens import DEFAULT_SCOPES, Principal, Role
from healthbridge.config import Settings
from healthbridge.errors import FhirError
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.web import data
from healthbridge.web.auth import checked_identity, sign_in, sign_out, verify_token
from healthbridge.web.common import page

router = APIRouter()
HOME: Final = {
    Role.PARENT: "/app/parent",
    Role.HEALTH_MANAGER: "/app/centre",
    Role.PAEDIATRICIAN: "/app/doctor",
    Role.DISTRICT_OFFICIAL: "/app/district",
    Role.ADMIN: "/app/admin",
}
STAFF_ROLE: Final = accounts.STAFF_ROLE_SYSTEM
#: The demo district official (the record holds no resource for officials).
DEMO_OFFICIAL: Final = "demo-district-official"
#: The username of the demo district official's password account.
DEMO_OFFICIAL_USERNAME: Final = "district"
#: The password of the demo accounts ``healthbridge demo`` creates in development.
DEMO_PASSWORD: Final = "healthbridge-demo"
#: People of each kind the demo picker lists.
DEMO_LISTED: Final = 4


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(value: str | None) -> str | None:
    """A same-site path to return to after signing in (``/...`` but never ``//host``)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _home(principal: Principal, next_path: str | None = None) -> str:
    return safe_next(next_path) or HOME.get(principal.role, "/app/")


def principal_of(account: accounts.Account) -> Principal:
    """The identity a signed-in account acts as (its role's default SMART scopes)."""
    return Principal(
        subject=account.username,
        role=account.role,
        scopes=parse_scopes(DEFAULT_SCOPES[account.role]),
        fhir_user=account.fhir_user,
        organization=account.organization,
        issuer="healthbridge-local",
    )


def _name(resource: dict[str, object], fallback: str) -> str:
    names = resource.get("name")
    if isinstance(names, list) and names and isinstance(names[0], dict):
        return str(names[0].get("text", fallback))
    return fallback


def demo_username(resource: dict[str, Any]) -> str:
    """The username of a demo person's password account: a staff member's Practitioner id,
    a parent's RelatedPerson id (``healthbridge user demo-accounts``)."""
    practitioner = (resource.get("practitioner") or {}).get("reference", "")
    return str(practitioner.split("/")[-1] if practitioner else resource.get("id", ""))


def demo_people(repo: Repository) -> list[tuple[Role, str, str, str]]:
    """(role, choice, name, username) of the demo people the picker offers: the district
    official, then a few health managers, paediatricians and parents the record holds."""
    people: list[tuple[Role, str, str, str]] = [
        (
            Role.DISTRICT_OFFICIAL,
            DEMO_OFFICIAL,
            "区卫健局 · 演示 / district bureau (demo)",
            DEMO_OFFICIAL_USERNAME,
        )
    ]
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        for code, role in (
            ("district-official", Role.DISTRICT_OFFICIAL),  # the areas' officials, if any
            ("health-manager", Role.HEALTH_MANAGER),
            ("paediatrician", Role.PAEDIATRICIAN),
        ):
            found = txn.search_params(
                "PractitionerRole",
                [("role", f"{STAFF_ROLE}|{code}"), ("_count", str(DEMO_LISTED))],
            )
            for s in found.matches:
                r = s.resource or {}
                pr = data.read(txn, "Practitioner", r["practitioner"]["reference"].split("/")[-1])
                ref = f"PractitionerRole/{s.id}"
                people.append((role, ref, _name(pr or {}, s.id), demo_username(r)))
        for s in txn.search_params("RelatedPerson", [("_count", str(DEMO_LISTED))]).matches:
            r = s.resource or {}
            ref = f"RelatedPerson/{s.id}"
            people.append((Role.PARENT, ref, _name(r, s.id), demo_username(r)))
    return people


def demo_principal(repo: Repository, choice: str) -> Principal | None:
    """The identity of a demo choice, read from the record (``None`` if it holds no such
    person): a RelatedPerson is a parent; a PractitionerRole's role comes from its staff-role
    code and its organisation from the resource; anything else is refused."""
    if choice == DEMO_OFFICIAL:
        role = Role.DISTRICT_OFFICIAL
        return Principal(DEMO_OFFICIAL, role, parse_scopes(DEFAULT_SCOPES[role]))
    kind, _, rid = choice.partition("/")
    if kind not in ("RelatedPerson", "PractitionerRole") or not rid or "/" in rid:
        return None
    with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        try:
            resource = txn.read(kind, rid).resource
        except FhirError:
            return None
    if resource is None:
        return None
    try:
        role, org = accounts.identity_of(resource)
    except AccountError:
        return None
    return Principal(rid, role, parse_scopes(DEFAULT_SCOPES[role]), choice, org)


def login_page_response(
    request: Request, status: int = 200, error: str | None = None, username: str = ""
) -> Response:
    """The sign-in page (with an error message and the username typed)."""
    from healthbridge.web import oidc

    settings = _settings(request)
    people = demo_people(request.app.state.repository) if settings.demo_login_enabled else []
    return page(
        request,
        None,
        "login.html",
        status=status,
        people=people,
        error=error,
        username=username,
        demo_password=DEMO_PASSWORD if settings.demo_login_enabled else None,
        oidc=oidc.enabled(settings),
        next=safe_next(request.query_params.get("next")) or "",
    )


_login_page = login_page_response


@router.get("/login", name="login")
def login_page(request: Request) -> Response:
    return _login_page(request)


def _audit_refused(request: Request, why: str) -> None:
    """A refused sign-in is a failed access: audited like a 401 of the API (one AuditEvent
    per client address per minute; the per-account counts are in ``signin_failure``)."""
    access_http.audit_failure(request, AuthenticationError(why))


@router.post("/login")
def login_password(
    request: Request,
    username: Annotated[str, Form(max_length=128)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=4000)] = "",
) -> Response:
    repo: Repository = request.app.state.repository
    outcome, account = accounts.check_password(repo.engine, username, password, _client(request))
    if outcome is not Outcome.OK or account is None:
        status = 429 if outcome is Outcome.THROTTLED else 401
        _audit_refused(request, f"password sign-in of {username[:64]!r}: {outcome.value}")
        return _login_page(request, status, outcome.value, username)
    try:
        principal = checked_identity(request, principal_of(account))
    except AuthenticationError:
        _audit_refused(request, f"password sign-in of {username[:64]!r}: no identity")
        return _login_page(request, 401, "login.no_identity", username)
    return sign_in(request, principal, _home(principal, next_path), account_id=account.id)


@router.post("/login/token")
def login_token(request: Request, token: Annotated[str, Form()]) -> Response:
    try:
        principal = verify_token(request, token.strip())
    except AuthenticationError:
        _audit_refused(request, "token sign-in: token refused")
        return _login_page(request, 401, "login.bad_token")
    return sign_in(request, principal, HOME.get(principal.role, "/app/"))


@router.post("/login/demo")
def login_demo(
    request: Request,
    person: Annotated[str, Form(max_length=300)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=4000)] = "",
) -> Response:
    if not _settings(request).demo_login_enabled:
        return Response(status_code=404)
    principal = demo_principal(request.app.state.repository, person)
    if principal is None:
        return _login_page(request, 400, "login.unknown_person")
    return sign_in(request, principal, _home(principal, next_path))


@router.post("/logout")
def logout(request: Request) -> Response:
    return sign_out(request, RedirectResponse("/app/login", status_code=303))


def _invite_page(
    request: Request, code: str, status: int = 200, error: str | None = None
) -> Response:
    repo: Repository = request.app.state.repository
    try:
        with repo.engine.connect() as conn:
            account = accounts.invitation_account(conn, code)
    except AccountError:
        return page(request, None, "invite.html", status=404, account=None, error="invite.invalid")
    return page(request, None, "invite.html", status=status, account=account, error=error)


@router.get("/invite/{code}")
def invite_page(request: Request, code: str) -> Response:
    return _invite_page(request, code)


@router.post("/invite/{code}")
def invite_accept(
    request: Request,
    code: str,
    password: Annotated[str, Form(max_length=1024)] = "",
    confirm: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    if password != confirm:
        return _invite_page(request, code, 400, "invite.mismatch")
    repo: Repository = request.app.state.repository
    try:
        with accounts.writing(repo.engine) as conn:
            account = accounts.accept_invitation(conn, code, password)
    except AccountError as exc:
        if exc.code == "invite.invalid":
            return _invite_page(request, code)
        return _invite_page(request, code, 400, exc.code)
    try:
        principal = checked_identity(request, principal_of(account))
    except AuthenticationError:
        return _login_page(request, 401, "login.no_identity", account.username)
    return sign_in(request, principal, HOME.get(principal.role, "/app/"), account_id=account.id)
