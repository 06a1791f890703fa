"""SMART App Launch 2.x: discovery, authorization (code + PKCE ``S256``) and token endpoints.

HL7 SMART App Launch IG 2.2.0 (https://hl7.org/fhir/smart-app-launch/): "Conformance"
(``/.well-known/smart-configuration``, public, at the server root and under ``/fhir``), "App
Launch" (authorization code grant with PKCE, RFC 7636 — ``S256`` only, ``plain`` refused) and
"Scopes and Launch Context" (v2 scopes ``patient|user/<type>.cruds``, ``launch``,
``launch/patient``, ``openid``/``fhirUser``).

* **Standalone launch** — the app sends the user to ``/auth/authorize``; the user signs in to
  the pages if needed (``/app/login?next=...``), then approves; with ``launch/patient`` the
  approval page lists the children in the user's reach (the store decides) and the chosen one
  becomes the ``patient`` context.
* **EHR launch** — on a child's page (``POST /app/child/{id}/launch/{client_id}``) HealthBridge
  opens the app's ``launch_url`` with ``iss`` and a signed, 5-minute ``launch`` token naming
  the child and the user; ``/auth/authorize`` with that ``launch`` takes the child as context.
* **Token** — ``/auth/token`` exchanges the one-time code (60 s) for a local bearer token with
  the granted scopes, the user's identity and the ``patient`` claim; the access layer then
  narrows the user's reach to that child (:func:`healthbridge.access.control.reach_subquery`).

Granted scopes are the requested clinical scopes that the user's role would hold anyway
(:data:`healthbridge.access.tokens.DEFAULT_SCOPES`); an app never gets more than its user.
Clients are registered in settings (``smart_clients``): public clients, exact redirect URIs.
Hand-written: the grant is a few checks over tables the sign-in already has, and tokens are
the server's own local tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import urllib.parse
from typing import Annotated, Any, Final

import jwt
from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import insert, select, update
from starlette.responses import JSONResponse, RedirectResponse, Response

from healthbridge.access import accounts
from healthbridge.access.authn import Authenticator
from healthbridge.access.errors import InvalidScopeError
from healthbridge.access.http import base_url
from healthbridge.access.scopes import Context, Scope, granted, parse_scope
from healthbridge.access.tokens import Role, mint_token
from healthbridge.config import Settings
from healthbridge.errors import FhirError
from healthbridge.store.account_models import OAuthCodeRow
from healthbridge.web.auth import (
    CsrfError,
    PageForbiddenError,
    PageNotFoundError,
    UserDep,
    WebUser,
    csrf_protect,
)
from healthbridge.web.common import guard_child, page, transaction
from healthbridge.web.oidc import challenge

discovery = APIRouter()
token_router = APIRouter()
router = APIRouter(dependencies=[Depends(csrf_protect)])
CODE = OAuthCodeRow.__table__  # type: ignore[attr-defined]
CODE_SECONDS: Final = 60
LAUNCH_SECONDS: Final = 300
TOKEN_LIFETIME: Final = dt.timedelta(hours=1)
LAUNCH_AUDIENCE: Final = "healthbridge-smart-launch"
#: Non-clinical scopes a grant may carry (SMART "Scopes and Launch Context").
CONTEXT_SCOPES: Final = frozenset({"openid", "fhirUser", "launch", "launch/patient"})


def _configuration(request: Request) -> dict[str, Any]:
    root = str(request.base_url).rstrip("/")
    return {
        "authorization_endpoint": f"{root}/auth/authorize",
        "token_endpoint": f"{root}/auth/token",
        "grant_types_supported": ["authorization_code"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": [
            "launch",
            "launch/patient",
            "fhirUser",
            "openid",
            "patient/*.rs",
            "patient/*.cruds",
            "user/*.rs",
            "user/*.cruds",
        ],
        "capabilities": [
            "launch-ehr",
            "launch-standalone",
            "client-public",
            "context-ehr-patient",
            "context-standalone-patient",
            "permission-v2",
            "permission-patient",
            "permission-user",
        ],
    }


@discovery.get("/.well-known/smart-configuration")
@discovery.get("/fhir/.well-known/smart-configuration")
def smart_configuration(request: Request) -> Response:
    """SMART discovery (public, no token needed)."""
    return JSONResponse(_configuration(request), headers={"Cache-Control": "no-cache"})


# --- launch --------------------------------------------------------------------------------


def _secret(request: Request) -> str:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.secret or request.app.state.settings.local_secret()


def launch_token(request: Request, user: WebUser, patient_id: str, client_id: str) -> str:
    """A signed EHR-launch context: this child, this user, this app, five minutes."""
    now = int(time.time())
    claims = {
        "aud": LAUNCH_AUDIENCE, "sub": user.principal.subject, "patient": patient_id,
        "client_id": client_id, "iat": now, "exp": now + LAUNCH_SECONDS,
    }  # fmt: skip
    return jwt.encode(claims, _secret(request), algorithm="HS256")


@router.post("/app/child/{patient_id}/launch/{client_id}")
def ehr_launch(request: Request, user: UserDep, patient_id: str, client_id: str) -> Response:
    """Open a registered app on this child's record (EHR launch)."""
    settings: Settings = request.app.state.settings
    client = settings.smart_clients.get(client_id)
    if client is None or not client.launch_url:
        return Response(status_code=404)
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)  # out of reach: the "not found" page
    query = {"iss": base_url(request), "launch": launch_token(request, user, patient_id, client_id)}
    return RedirectResponse(f"{client.launch_url}?{urllib.parse.urlencode(query)}", 303)


# --- authorize -----------------------------------------------------------------------------


def _error_redirect(redirect_uri: str, error: str, state: str | None, text: str) -> Response:
    query = {"error": error, "error_description": text}
    if state is not None:
        query["state"] = state
    return RedirectResponse(f"{redirect_uri}?{urllib.parse.urlencode(query)}", 303)


def grant_scopes(own: tuple[Scope, ...], requested: str) -> list[str]:
    """The requested scopes the user may hold: context scopes, and clinical scopes each of
    whose (type, permission) pairs the user's own scopes (their session's) grant."""
    out: list[str] = []
    for item in requested.split():
        if item in CONTEXT_SCOPES:
            out.append(item)
            continue
        try:
            scope = parse_scope(item)
        except InvalidScopeError:
            continue  # unknown scopes are not granted (RFC 6749 §3.3)
        if scope.context is Context.SYSTEM:
            continue
        types = [scope.resource_type] if scope.resource_type != "*" else ["*"]
        if all(granted(own, t, p) for t in types for p in scope.permissions):
            out.append(item)
    return out


class _Request:
    """The parameters of an authorization request, checked in order (SMART App Launch
    "Obtain authorization code"); ``problem`` is (error, description) or ``None``."""

    def __init__(self, request: Request, params: dict[str, str]) -> None:
        settings: Settings = request.app.state.settings
        self.params = params
        self.client_id = params.get("client_id", "")
        self.client = settings.smart_clients.get(self.client_id)
        self.redirect_uri = params.get("redirect_uri", "")
        self.state = params.get("state")
        self.launch_patient: str | None = None
        self.problem: tuple[str, str] | None = None
        if params.get("response_type") != "code":
            self.problem = ("unsupported_response_type", "response_type must be code")
        elif params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            self.problem = ("invalid_request", "PKCE with code_challenge_method=S256 is required")
        elif params.get("aud", "").rstrip("/") != base_url(request):
            self.problem = ("invalid_request", "aud must be this server's FHIR base URL")

    @property
    def client_ok(self) -> bool:
        return self.client is not None and self.redirect_uri in self.client.redirect_uris

    def check_launch(self, request: Request, user: WebUser) -> None:
        launch = self.params.get("launch")
        if launch is None or self.problem:
            return
        try:
            claims = jwt.decode(
                launch, _secret(request), algorithms=["HS256"], audience=LAUNCH_AUDIENCE
            )
        except jwt.PyJWTError:
            self.problem = ("invalid_request", "unknown or expired launch")
            return
        if claims.get("sub") != user.principal.subject or claims.get("client_id") != (
            self.client_id
        ):
            self.problem = ("invalid_request", "the launch belongs to another user or app")
            return
        self.launch_patient = str(claims["patient"])


def _children(request: Request, user: WebUser) -> list[dict[str, Any]]:
    with transaction(request, user) as txn:
        found = txn.search_params("Patient", [("_count", "100"), ("_sort", "birthdate")])
        return [m.resource for m in found.matches if m.resource]


def _authorize(request: Request, user: WebUser, params: dict[str, str]) -> Response | _Request:
    ask = _Request(request, params)
    if not ask.client_ok:  # never redirect to an unregistered URI (RFC 6749 §4.1.2.1)
        return page(request, user, "error.html", status=400, message="smart.bad_client")
    ask.check_launch(request, user)
    if ask.problem:
        error, text = ask.problem
        return _error_redirect(ask.redirect_uri, error, ask.state, text)
    return ask


@router.get("/auth/authorize")
def authorize(request: Request) -> Response:
    """Show the approval page (signing in first if needed)."""
    from healthbridge.web.auth import LoginRequiredError, current_user

    params = dict(request.query_params)
    try:
        user = current_user(request)
    except LoginRequiredError:
        target = f"/auth/authorize?{urllib.parse.urlencode(params)}"
        return RedirectResponse(f"/app/login?{urllib.parse.urlencode({'next': target})}", 303)
    checked = _authorize(request, user, params)
    if isinstance(checked, Response):
        return checked
    scopes = grant_scopes(user.principal.scopes, params.get("scope", ""))
    picker = "launch/patient" in scopes and checked.launch_patient is None
    return page(
        request,
        user,
        "smart_authorize.html",
        client=checked.client,
        client_id=checked.client_id,
        scopes=scopes,
        params=params,
        launch_patient=checked.launch_patient,
        children=_children(request, user) if picker else [],
    )


@router.post("/auth/authorize")
def approve(
    request: Request,
    user: UserDep,
    params_json: Annotated[str, Form(alias="params", max_length=20000)],
    decision: Annotated[str, Form()] = "",
    patient: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The user's answer: a one-time code to the app's redirect URI, or access_denied."""
    try:
        params = {str(k): str(v) for k, v in json.loads(params_json).items()}
    except (ValueError, AttributeError):
        raise CsrfError("malformed authorization form") from None
    checked = _authorize(request, user, params)
    if isinstance(checked, Response):
        return checked
    if decision != "allow":
        return _error_redirect(checked.redirect_uri, "access_denied", checked.state, "declined")
    scopes = grant_scopes(user.principal.scopes, params.get("scope", ""))
    context = checked.launch_patient
    if context is None and "launch/patient" in scopes:
        context = patient or None
        if context is None:
            return _error_redirect(
                checked.redirect_uri, "access_denied", checked.state, "no patient"
            )
    if context is not None:
        try:
            with transaction(request, user) as txn:
                guard_child(txn, context)  # the user's reach decides
        except (PageNotFoundError, PageForbiddenError, FhirError):
            return _error_redirect(checked.redirect_uri, "access_denied", checked.state, "patient")
    who = user.principal
    code = secrets.token_urlsafe(32)
    grant = {
        "subject": who.subject, "role": who.role.value, "fhir_user": who.fhir_user,
        "organization": who.organization, "scope": " ".join(scopes), "patient": context,
    }  # fmt: skip
    with accounts.writing(request.app.state.repository.engine) as conn:
        conn.execute(
            insert(CODE).values(
                code_hash=accounts.digest(code),
                client_id=checked.client_id,
                redirect_uri=checked.redirect_uri,
                challenge=params["code_challenge"],
                grant=json.dumps(grant),
                expires=int(time.time()) + CODE_SECONDS,
                used=False,
            )
        )
    query = {"code": code, **({"state": checked.state} if checked.state is not None else {})}
    return RedirectResponse(f"{checked.redirect_uri}?{urllib.parse.urlencode(query)}", 303)


# --- token ---------------------------------------------------------------------------------


def _token_error(error: str, text: str, status: int = 400) -> Response:
    return JSONResponse(
        {"error": error, "error_description": text},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@token_router.post("/auth/token")
def token(
    request: Request,
    grant_type: Annotated[str, Form()] = "",
    code: Annotated[str, Form(max_length=200)] = "",
    redirect_uri: Annotated[str, Form(max_length=2000)] = "",
    client_id: Annotated[str, Form(max_length=200)] = "",
    code_verifier: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Exchange a code for an access token (SMART App Launch "Obtain access token")."""
    if grant_type != "authorization_code":
        return _token_error("unsupported_grant_type", "only authorization_code")
    engine = request.app.state.repository.engine
    with accounts.writing(engine) as conn:
        row = conn.execute(select(CODE).where(CODE.c.code_hash == accounts.digest(code))).first()
        if row is None or row.used or row.expires <= int(time.time()):
            return _token_error("invalid_grant", "unknown, used or expired code")
        conn.execute(update(CODE).where(CODE.c.code_hash == row.code_hash).values(used=True))
    if row.client_id != client_id or row.redirect_uri != redirect_uri:
        return _token_error("invalid_grant", "client_id or redirect_uri differ from the request")
    if not (43 <= len(code_verifier) <= 128) or challenge(code_verifier) != row.challenge:
        return _token_error("invalid_grant", "the PKCE code_verifier does not match")
    grant = json.loads(row.grant)
    role = Role(grant["role"])
    settings: Settings = request.app.state.settings
    clinical = " ".join(s for s in grant["scope"].split() if s not in CONTEXT_SCOPES)
    access = mint_token(
        secret=_secret(request),
        role=role,
        subject=grant["subject"],
        fhir_user=grant["fhir_user"],
        organization=grant["organization"],
        scopes=clinical,
        lifetime=TOKEN_LIFETIME,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        patient=grant["patient"],
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(TOKEN_LIFETIME.total_seconds()),
        "scope": grant["scope"],
    }
    if grant["patient"]:
        body["patient"] = grant["patient"]
    if "fhirUser" in grant["scope"].split() and grant["fhir_user"]:
        body["fhirUser"] = grant["fhir_user"]
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
