"""The access layer at the HTTP edge: who is calling, and the context the store enforces.

* :func:`authenticate` — the verified :class:`Principal` of a request (401 otherwise), with
  its identity claims checked against the record
  (:func:`healthbridge.access.authn.resolve_identity`).
* :func:`request_context` — the store's ``RequestContext`` carrying
  :class:`~healthbridge.access.control.PrincipalAccess`, so every repository call made for the
  request obeys the caller's role, scopes and reach, and is audited.
* :func:`install` — called by ``create_app``: the authenticator and the audit hooks.

Web pages (``/app``) may accept the token from the :data:`TOKEN_COOKIE` cookie as well
(``allow_cookie=True``); the FHIR API accepts the ``Authorization`` header only (no ambient
credentials, hence no cross-site request forgery on the API).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request

from healthbridge.access import auditing
from healthbridge.access.authn import (
    PRACTITIONER_ROLES,
    Authenticator,
    resolve_identity,
)
from healthbridge.access.control import PrincipalAccess
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.tokens import JwksFetcher, Principal, Role
from healthbridge.config import Settings
from healthbridge.store.hooks import SYSTEM_CONTEXT, RequestContext, StoreHooks
from healthbridge.store.repository import Repository

log = logging.getLogger(__name__)
#: Cookie a browser page may carry the bearer token in (``authenticate(allow_cookie=True)``).
TOKEN_COOKIE: Final = "healthbridge_token"
#: Roles whose identity claims are checked against the record on each request.
CHECKED_ROLES: Final = PRACTITIONER_ROLES | {Role.PARENT}
#: Calendar of the consent and enrolment periods (dates are local dates in China).
LOCAL_TIMEZONE: Final = ZoneInfo("Asia/Shanghai")


def install(
    app: FastAPI, settings: Settings, hooks: StoreHooks, *, jwks_fetcher: JwksFetcher | None = None
) -> None:
    """Attach the authenticator to ``app`` and register the audit hooks (once).

    Refuses to build the app (:class:`RuntimeError`) outside development with a missing,
    short or published token secret."""
    problem = settings.secret_problem()
    if problem:
        raise RuntimeError(problem)
    app.state.authenticator = Authenticator(settings, jwks_fetcher=jwks_fetcher)
    if not auditing.audited(hooks):
        auditing.install(hooks)
    if settings.auth_mode == "local" and not settings.auth_secret:
        log.warning(
            "Development: local tokens use the secret generated in %s; set "
            "HEALTHBRIDGE_AUTH_SECRET for anything shared",
            settings.data_dir,
        )


def authenticate(request: Request, *, allow_cookie: bool = False) -> Principal:
    """The verified caller of ``request``; :class:`AuthenticationError` (401) otherwise."""
    authenticator: Authenticator = request.app.state.authenticator
    header = request.headers.get("authorization")
    if not header and allow_cookie and request.cookies.get(TOKEN_COOKIE):
        header = f"Bearer {request.cookies[TOKEN_COOKIE]}"
    principal = authenticator.from_header(header)
    if principal.role not in CHECKED_ROLES:
        return principal
    repo: Repository = request.app.state.repository
    with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        return resolve_identity(txn, principal)


def today() -> dt.date:
    """Today's date in the local calendar."""
    return dt.datetime.now(LOCAL_TIMEZONE).date()


def access_for(principal: Principal, day: dt.date | None = None) -> PrincipalAccess:
    """The store-level access control of ``principal`` (for non-HTTP callers and tests)."""
    return PrincipalAccess(principal, day or today())


def request_context(request: Request, principal: Principal, base_url: str) -> RequestContext:
    """The ``RequestContext`` of an authenticated request."""
    return RequestContext(
        principal=principal.subject,
        roles=frozenset({principal.role.value}),
        client_address=request.client.host if request.client else None,
        request_id=request.headers.get("x-request-id"),
        base_url=base_url,
        access=access_for(principal),
    )


__all__ = [
    "TOKEN_COOKIE",
    "AuthenticationError",
    "access_for",
    "authenticate",
    "install",
    "request_context",
    "today",
]
