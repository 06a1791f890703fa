"""The access layer at the HTTP edge: who is calling, and the context the store enforces.

* :func:`authenticate` — the verified :class:`Principal` of a request (401 otherwise), with
  its identity claims checked against the record
  (:func:`healthbridge.access.authn.resolve_identity`).
* :func:`request_context` — the store's ``RequestContext`` carrying
  :class:`~healthbridge.access.control.PrincipalAccess`, so every repository call made for the
  request obeys the caller's role, scopes and reach, and is audited.
* :func:`install` — called by ``create_app``: the authenticator and the audit hooks;
  :func:`audit_refusal` hands a refused request to the auditor it installs (the API's error
  handlers and the pages' both call it).
* :func:`base_url` — the FHIR base URL of a request, refusing a ``Host`` not configured.

The FHIR API accepts the ``Authorization`` header only (no ambient credentials, hence no
cross-site request forgery on the API); web pages use server-side sessions
(:mod:`healthbridge.web.auth`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from typing import Final
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from healthbridge.access import auditing
from healthbridge.access.audit import AuditOutcome, audit_event
from healthbridge.access.authn import (
    PRACTITIONER_ROLES,
    Authenticator,
    resolve_identity,
)
from healthbridge.access.control import PrincipalAccess
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.tokens import JwksFetcher, Principal, Role
from healthbridge.config import Settings
from healthbridge.errors import BadRequestError, FhirError
from healthbridge.fhir.searchparams import extract
from healthbridge.store.hooks import SYSTEM_CONTEXT, RequestContext, StoreHooks
from healthbridge.store.repository import Repository

log = logging.getLogger(__name__)
#: Roles whose identity claims are checked against the record on each request.
CHECKED_ROLES: Final = PRACTITIONER_ROLES | {Role.PARENT}
#: ``request.state`` attribute holding the authenticated caller (read by :func:`audit_failure`).
PRINCIPAL_STATE: Final = "healthbridge_principal"
#: Refusals recorded by :func:`audit_failure`: forbidden, not found (also out of reach), gone.
AUDITED_FAILURES: Final = frozenset({403, 404, 410})
#: At most one AuditEvent per client address in this many seconds for unauthenticated (401)
#: requests.
ANONYMOUS_AUDIT_SECONDS: Final = 60.0


class AnonymousThrottle:
    """Per-address throttle of the audit of unauthenticated requests (one per window).

    Owned by the app (``app.state.audit_throttle``, made by :func:`install`); thread-safe."""

    def __init__(self, window: float = ANONYMOUS_AUDIT_SECONDS, size: int = 10_000) -> None:
        self.window = window
        self.size = size
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def admit(self, address: str | None) -> bool:
        """Whether a refusal from ``address`` is to be recorded now."""
        key = address or "-"
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.window:
                return False
            if len(self._last) >= self.size:
                self._last.clear()
            self._last[key] = now
            return True


#: ``Type/id not found`` — the record a 404 names (also a child out of reach in a write).
_NOT_FOUND: Final = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/\d+)? ")
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
    app.state.failure_auditor = audit_failure
    app.state.audit_throttle = AnonymousThrottle()
    if settings.auth_mode == "local" and not settings.auth_secret:
        log.warning(
            "Development: local tokens use the secret generated in %s; set "
            "HEALTHBRIDGE_AUTH_SECRET for anything shared",
            settings.data_dir,
        )


def authenticate(request: Request) -> Principal:
    """The verified caller of ``request``; :class:`AuthenticationError` (401) otherwise."""
    authenticator: Authenticator = request.app.state.authenticator
    header = request.headers.get("authorization")
    principal = authenticator.from_header(header)
    if principal.role in CHECKED_ROLES:
        repo: Repository = request.app.state.repository
        with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            principal = resolve_identity(txn, principal)
    setattr(request.state, PRINCIPAL_STATE, principal)  # for :func:`audit_failure`
    return principal


def _interaction(method: str, path: str) -> tuple[str, str | None]:
    """The RESTful interaction of a request and the record its URL names (if any)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] != ["fhir"]:  # /exchange, /reports, /app pages
        return ("export" if path.endswith((".csv", ".pdf")) else "operation"), None
    parts = parts[1:]
    if not parts:
        return ("transaction" if method == "POST" else "search-system"), None
    rtype = parts[0]
    rid = parts[1] if len(parts) > 1 and not parts[1].startswith(("_", "$")) else None
    target = f"{rtype}/{rid}" if rid and rtype[:1].isupper() else None
    if any(p.startswith("$") for p in parts):
        return ("export" if "$export" in parts[-1] else "operation"), target
    if "_history" in parts:
        if rid and len(parts) >= 4:
            return "vread", target
        return ("history-instance" if rid else "history-type"), target
    if method == "GET" or parts[-1] == "_search":
        return ("read" if rid else "search-type"), target
    interaction = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    return interaction.get(method, "operation"), target


def audit_failure(request: Request, error: FhirError) -> None:
    """Record a refused (401, 403) or not-found (404/410) request.

    A 401 (no valid token, failed identity check, refused sign-in) has no verified caller:
    the AuditEvent's agent is "unknown" with the client address, at most one per address
    per :data:`ANONYMOUS_AUDIT_SECONDS` (:class:`AnonymousThrottle`), so a flood of bad
    tokens cannot flood the audit trail.

    Written in a transaction of its own after the request's transaction rolled back, so the
    refusal is kept although nothing the request did is (PIPL Art. 51; docs/access.md
    "Audit"). The AuditEvent has ``outcome`` 4 (minor failure), the interaction, the record
    the URL (or the error) names and the children whose compartment holds it, and the
    request line in ``entity.description``.
    """
    who = getattr(request.state, PRINCIPAL_STATE, None)
    if error.status == 401:
        who = None
        throttle: AnonymousThrottle | None = getattr(request.app.state, "audit_throttle", None)
        address = request.client.host if request.client else None
        if throttle is not None and not throttle.admit(address):
            return
    elif not isinstance(who, Principal) or error.status not in AUDITED_FAILURES:
        return
    interaction, target = _interaction(request.method, request.url.path)
    refs = [target] if target else []
    named = _NOT_FOUND.match(error.diagnostics)
    if named and f"{named[1]}/{named[2]}" not in refs:
        refs.append(f"{named[1]}/{named[2]}")
    repo: Repository = request.app.state.repository
    with repo.transaction(SYSTEM_CONTEXT, plain=True) as txn:
        event = audit_event(
            who=who,
            interaction=interaction,
            entities=refs,
            outcome=AuditOutcome.MINOR_FAILURE,
            purpose=auditing.PURPOSE_BY_ROLE[who.role] if who else "system",
            client_address=request.client.host if request.client else None,
            query=f"{request.method} {request.url.path}"
            + (f"?{request.url.query}" if request.url.query else ""),
            description=f"{error.status}: {error.diagnostics}"[:1024],
            patients=auditing.patients_of(txn.conn, refs),
        )
        txn.create(event, prepared=extract(event), trusted=True)


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
    "AuthenticationError",
    "access_for",
    "audit_failure",
    "authenticate",
    "install",
    "request_context",
    "today",
]


async def audit_refusal(request: Request, exc: FhirError) -> None:
    """Hand a refusal to the access layer's auditor (``app.state.failure_auditor``, installed
    by :func:`install`); a failing audit write is logged, the refusal is still answered."""
    auditor = getattr(request.app.state, "failure_auditor", None)
    if auditor is None:
        return
    try:
        await run_in_threadpool(auditor, request, exc)
    except Exception:
        log.exception("Could not audit the refused request %s %s", request.method, request.url)


def base_url(request: Request) -> str:
    """The FHIR base URL: ``settings.base_url``; else derived from the request, but only when
    its ``Host`` is in ``settings.allowed_hosts`` (400 otherwise: a forged ``Host`` header
    must not end up in the links of the responses)."""
    settings: Settings = request.app.state.settings
    if settings.base_url:
        return settings.base_url.rstrip("/")
    host = (request.url.hostname or "").lower()
    if "*" not in settings.allowed_hosts and host not in {
        h.lower().strip("[]") for h in settings.allowed_hosts
    }:
        raise BadRequestError(
            f"Host {host!r} is not served here; set HEALTHBRIDGE_BASE_URL or add the host to "
            "HEALTHBRIDGE_ALLOWED_HOSTS"
        )
    return str(request.base_url).rstrip("/") + "/fhir"
