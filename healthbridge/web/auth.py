"""Who is using the pages: a server-side session named by an HttpOnly cookie.

Signing in (password, OIDC, a pasted bearer token, or the development-only demo login)
starts a session (:mod:`healthbridge.access.sessions`) holding the verified identity; the
``healthbridge_session`` cookie carries only its random id. :func:`current_user` looks the
session up and re-checks its identity against the record on every request, like the API does
for a token (``resolve_identity``), so a page and a FHIR client get the same ``Principal``.
:func:`request_context` turns the principal into the :class:`RequestContext` every repository
call carries, so the store's access rules and audit apply to pages as to FHIR clients.

Every unsafe request to ``/app`` passes :func:`csrf_protect` (OWASP CSRF Prevention Cheat
Sheet): the browser's ``Sec-Fetch-Site``/``Origin`` must name this site, and the form's
``csrf_token`` must equal the session's synchronizer token (before sign-in: the random value
of the ``healthbridge_csrf`` cookie, double-submitted).
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Final
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from healthbridge.access import http as access_http
from healthbridge.access import sessions
from healthbridge.access.authn import Authenticator, resolve_identity
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.http import base_url
from healthbridge.access.tokens import Principal, Role
from healthbridge.charts.labels import Lang
from healthbridge.config import Settings
from healthbridge.store.hooks import SYSTEM_CONTEXT, RequestContext
from healthbridge.store.repository import Repository
from healthbridge.web.i18n import Translator, pick_lang

SESSION_COOKIE: Final = "healthbridge_session"
CSRF_COOKIE: Final = "healthbridge_csrf"
CSRF_FIELD: Final = "csrf_token"
#: The roles that have pages.
PAGE_ROLES: Final = frozenset(
    {Role.PARENT, Role.HEALTH_MANAGER, Role.PAEDIATRICIAN, Role.DISTRICT_OFFICIAL, Role.ADMIN}
)
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequiredError(Exception):
    """No valid session: the page handler answers with a redirect to the login page."""


class PageForbiddenError(Exception):
    """The user's role may not open this page."""


class PageNotFoundError(Exception):
    """The record is unknown or outside the user's reach (the store cannot tell them apart
    for the user, and neither does the page)."""


class CsrfError(Exception):
    """An unsafe request without this site's origin or without the form's CSRF token."""


def verify_token(request: Request, token: str) -> Principal:
    """Verify a pasted token exactly as the API does (local or OIDC, identity claims checked
    against the record); :class:`AuthenticationError` if invalid."""
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.from_header(f"Bearer {token}")
    return checked_identity(request, principal)


def checked_identity(request: Request, principal: Principal) -> Principal:
    """``principal`` with its identity claims checked against the record (401 otherwise)."""
    if principal.role not in access_http.CHECKED_ROLES:
        return principal
    repo: Repository = request.app.state.repository
    with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        return resolve_identity(txn, principal)


def secure_cookies(request: Request) -> bool:
    """``Secure`` cookies over https and always in production (behind a TLS proxy)."""
    settings: Settings = request.app.state.settings
    return request.url.scheme == "https" or settings.environment == "production"


def sign_in(
    request: Request, principal: Principal, target: str, *, account_id: str | None = None
) -> Response:
    """Start a session for ``principal`` and redirect to ``target`` with its cookie."""
    from starlette.responses import RedirectResponse

    repo: Repository = request.app.state.repository
    raw = sessions.start(repo.engine, principal, account_id=account_id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        max_age=sessions.LIFETIME_SECONDS,
        path="/",
    )
    return response


def sign_out(request: Request, response: Response) -> Response:
    """Revoke the request's session and clear its cookie."""
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        repo: Repository = request.app.state.repository
        sessions.revoke(repo.engine, raw)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _session(request: Request) -> sessions.Session | None:
    if hasattr(request.state, "web_session"):
        found: sessions.Session | None = request.state.web_session
        return found
    raw = request.cookies.get(SESSION_COOKIE)
    repo: Repository = request.app.state.repository
    found = sessions.lookup(repo.engine, raw) if raw else None
    request.state.web_session = found
    return found


def csrf_token(request: Request) -> tuple[str, str | None]:
    """The CSRF token the request's forms carry, and a new pre-sign-in cookie value to set
    (``None`` when the cookie is already there or a session supplies the token)."""
    session = _session(request)
    if session is not None:
        return session.csrf, None
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing, None
    fresh = secrets.token_urlsafe(32)
    return fresh, fresh


def _same_site(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:  # not sent by every browser on same-origin POSTs; the token decides
        return True
    settings: Settings = request.app.state.settings
    expected = urlsplit(settings.base_url).netloc if settings.base_url else None
    host = expected or request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe cookie-carrying request from another site or without the token.

    Requests with an ``Authorization`` header carry no ambient credential and need no token."""
    if request.method in SAFE_METHODS or request.headers.get("authorization"):
        return
    if not _same_site(request):
        raise CsrfError("cross-site request")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    session = None
    if request.cookies.get(SESSION_COOKIE):
        session = await run_in_threadpool(_session, request)
    # a live session's synchronizer token; without one (never signed in, or the session
    # ended) the double-submitted pre-sign-in cookie, which the sign-in forms carry
    expected = session.csrf if session is not None else request.cookies.get(CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        if request.cookies.get(SESSION_COOKIE) and session is None:
            raise LoginRequiredError  # a form of an ended session: sign in again
        raise CsrfError("missing or wrong CSRF token")


def request_context(request: Request, principal: Principal) -> RequestContext:
    """The repository context of a page request: the access layer's (reach rules and audit
    apply to pages as to FHIR clients), tagged as coming from the web pages."""
    context = access_http.request_context(request, principal, base_url(request))
    return dataclasses.replace(context, attributes={"principal": principal, "channel": "web"})


@dataclass(frozen=True, slots=True)
class WebUser:
    """The signed-in user of a page request, with their language and repository context."""

    principal: Principal
    context: RequestContext
    lang: Lang
    t: Translator

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def ref_id(self) -> str:
        """The id part of ``fhirUser`` (RelatedPerson or PractitionerRole id)."""
        return (self.principal.fhir_user or self.principal.subject).split("/")[-1]

    @property
    def org_id(self) -> str | None:
        org = self.principal.organization
        return org.split("/")[-1] if org else None

    def require(self, *roles: Role) -> None:
        """Refuse the page unless the user has one of ``roles``."""
        if self.principal.role not in roles:
            raise PageForbiddenError(self.principal.role.value)


def current_user(request: Request) -> WebUser:
    """The page's user from the session cookie; :class:`LoginRequiredError` when there is no
    live session or its identity no longer holds in the record."""
    session = _session(request)
    if session is None:
        raise LoginRequiredError
    try:
        principal = checked_identity(request, session.principal)
    except AuthenticationError as exc:
        raise LoginRequiredError from exc
    setattr(request.state, access_http.PRINCIPAL_STATE, principal)  # refusals are audited
    lang = pick_lang(request)
    return WebUser(principal, request_context(request, principal), lang, Translator(lang))


UserDep = Annotated[WebUser, Depends(current_user)]
