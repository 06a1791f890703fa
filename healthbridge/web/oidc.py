"""Sign-in to the pages through an OpenID Connect provider (authorization code + PKCE).

OpenID Connect Core 1.0 §3.1 (authorization code flow), RFC 7636 (PKCE, ``S256`` only) and
OpenID Connect Discovery 1.0 (the provider's ``/.well-known/openid-configuration``):

1. ``GET /app/login/oidc`` — a random ``state``, ``nonce`` and PKCE ``code_verifier`` go into a
   short-lived HttpOnly cookie; the browser is sent to the provider's
   ``authorization_endpoint`` with ``code_challenge=BASE64URL(SHA256(verifier))``.
2. ``GET /app/login/oidc/callback`` — ``state`` must match the cookie; the code is exchanged
   at the ``token_endpoint`` with the verifier; the ID token is verified (signature by the
   provider's JWKS, ``iss``, ``aud`` = client id, ``exp``, ``nonce``).
3. The configured claim (``oidc_match_claim``: ``sub`` by default, or e.g. ``email``) must name
   an active local account (its ``oidc_subject``); unknown users are refused. The account
   gives role, ``fhirUser`` and organisation; a server-side session starts as for a password.

Hand-written on PyJWT and the standard library: the three requests are short, and the ID
token is verified by the same JWKS cache and algorithm list as OIDC bearer tokens
(:mod:`healthbridge.access.tokens`), so there is one verifier for provider-signed tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import urllib.parse
import urllib.request
from functools import cache
from typing import Any, Final

import jwt
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from healthbridge.access import accounts
from healthbridge.access.authn import http_jwks_fetcher
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.tokens import LEEWAY_SECONDS, OIDC_ALGORITHMS, JwksCache
from healthbridge.config import Settings
from healthbridge.store.repository import Repository
from healthbridge.web.auth import checked_identity, secure_cookies, sign_in
from healthbridge.web.pages_signin import HOME, principal_of

log = logging.getLogger(__name__)
router = APIRouter()
STATE_COOKIE: Final = "healthbridge_oidc"
STATE_SECONDS: Final = 600
TIMEOUT_SECONDS: Final = 10.0
CALLBACK: Final = "/app/login/oidc/callback"


class OidcError(Exception):
    """The provider's answer cannot be used (the page says so; nothing is signed in)."""


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def _get_json(url: str, data: dict[str, str] | None = None, auth: str | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": "application/json"})
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise OidcError(f"the identity provider did not answer: {exc}") from exc


@cache
def _discovery(issuer: str) -> dict[str, Any]:
    document = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if not isinstance(document, dict) or document.get("issuer") != issuer.rstrip("/"):
        raise OidcError("the provider's discovery document names another issuer")
    return document


@cache
def _jwks(jwks_uri: str) -> JwksCache:
    return JwksCache(http_jwks_fetcher(jwks_uri))


def challenge(verifier: str) -> str:
    """RFC 7636 §4.2 ``S256``: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect_uri(request: Request) -> str:
    settings: Settings = request.app.state.settings
    if settings.base_url:
        origin = urllib.parse.urlsplit(settings.base_url)
        return f"{origin.scheme}://{origin.netloc}{CALLBACK}"
    return str(request.base_url).rstrip("/") + CALLBACK


def _refused(request: Request, error: str, status: int) -> Response:
    from healthbridge.web.pages_signin import login_page_response

    response = login_page_response(request, status, error)
    response.delete_cookie(STATE_COOKIE, path=CALLBACK)
    return response


@router.get("/login/oidc")
def oidc_start(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not enabled(settings):
        return Response(status_code=404)
    try:
        endpoint = _discovery(settings.oidc_issuer)["authorization_endpoint"]
    except (OidcError, KeyError):
        _discovery.cache_clear()
        return _refused(request, "login.oidc_failed", 502)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    query = {
        "response_type": "code",
        "client_id": settings.oidc_client_id,
        "redirect_uri": _redirect_uri(request),
        "scope": settings.oidc_scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{endpoint}?{urllib.parse.urlencode(query)}", status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        f"{state}.{nonce}.{verifier}",
        max_age=STATE_SECONDS,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back
        secure=secure_cookies(request),
        path=CALLBACK,
    )
    return response


def _id_token_claims(settings: Settings, code: str, verifier: str, redirect: str) -> Any:
    meta = _discovery(settings.oidc_issuer)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "client_id": settings.oidc_client_id,
        "code_verifier": verifier,
    }
    auth = None
    if settings.oidc_client_secret:
        pair = f"{urllib.parse.quote(settings.oidc_client_id)}:" + urllib.parse.quote(
            settings.oidc_client_secret
        )
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    answer = _get_json(meta["token_endpoint"], form, auth)
    id_token = answer.get("id_token") if isinstance(answer, dict) else None
    if not isinstance(id_token, str):
        raise OidcError("the provider returned no ID token")
    try:
        header = jwt.get_unverified_header(id_token)
        alg = header.get("alg")
        if alg not in OIDC_ALGORITHMS:
            raise OidcError(f"ID token algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        key = _jwks(meta["jwks_uri"]).key(kid) if isinstance(kid, str) else _only_key(meta)
        return jwt.decode(
            id_token,
            key,
            algorithms=[alg],
            audience=settings.oidc_client_id,
            issuer=settings.oidc_issuer.rstrip("/"),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except (jwt.PyJWTError, AuthenticationError) as exc:
        raise OidcError(f"invalid ID token: {exc}") from exc


def _only_key(meta: dict[str, Any]) -> jwt.PyJWK:
    """The provider's single key, for an ID token without ``kid`` (OpenID Connect Core §10.1:
    a ``kid`` is required only when the JWK Set holds several keys)."""
    document = _get_json(meta["jwks_uri"])
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or len(keys) != 1:
        raise OidcError("the ID token names no key and the provider has several")
    return jwt.PyJWK(keys[0])


@router.get("/login/oidc/callback")
def oidc_callback(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not enabled(settings):
        return Response(status_code=404)
    params = request.query_params
    state, _, rest = request.cookies.get(STATE_COOKIE, "").partition(".")
    nonce, _, verifier = rest.partition(".")
    if not state or not secrets.compare_digest(params.get("state", ""), state):
        return _refused(request, "login.oidc_failed", 400)
    if "error" in params or not params.get("code"):
        return _refused(request, "login.oidc_failed", 401)
    try:
        claims = _id_token_claims(settings, params["code"], verifier, _redirect_uri(request))
    except (OidcError, KeyError) as exc:
        log.warning("OIDC sign-in refused: %s", exc)
        return _refused(request, "login.oidc_failed", 401)
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        return _refused(request, "login.oidc_failed", 401)
    value = claims.get(settings.oidc_match_claim)
    repo: Repository = request.app.state.repository
    account = None
    if isinstance(value, str) and value:
        with repo.engine.connect() as conn:
            account = accounts.find_account(conn, oidc_subject=value)
    if account is None or not account.active:
        return _refused(request, "login.oidc_unknown", 403)
    try:
        principal = checked_identity(request, principal_of(account))
    except AuthenticationError:
        return _refused(request, "login.no_identity", 401)
    response = sign_in(request, principal, HOME.get(principal.role, "/app/"), account_id=account.id)
    response.delete_cookie(STATE_COOKIE, path=CALLBACK)
    return response
