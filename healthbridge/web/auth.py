"""Who is using the pages: the bearer token in an HttpOnly cookie, verified like an API token.

:func:`current_user` and :func:`verify_token` use the access layer's authenticator, so a page
and a FHIR client with the same token get the same ``Principal``.
:func:`request_context` turns the principal into the :class:`RequestContext` every repository
call carries, so the store's access rules and audit apply to pages as to FHIR clients.

Demo mode (``settings.demo_login``) offers a role picker that mints short-lived local tokens for
the demo district's people; without it the login page only accepts a pasted token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request

from healthbridge.access import http as access_http
from healthbridge.access.authn import Authenticator
from healthbridge.access.errors import AuthenticationError
from healthbridge.access.tokens import Principal, Role, mint_token
from healthbridge.api.deps import base_url
from healthbridge.charts.labels import Lang
from healthbridge.config import Settings
from healthbridge.store.hooks import RequestContext
from healthbridge.web.i18n import Translator, pick_lang

TOKEN_COOKIE: Final = access_http.TOKEN_COOKIE
DEMO_LIFETIME: Final = dt.timedelta(hours=8)
#: The roles that have pages.
PAGE_ROLES: Final = frozenset(
    {Role.PARENT, Role.HEALTH_MANAGER, Role.PAEDIATRICIAN, Role.DISTRICT_OFFICIAL}
)


class LoginRequiredError(Exception):
    """No valid token cookie: the page handler answers with a redirect to the login page."""


class PageForbiddenError(Exception):
    """The user's role may not open this page."""


class PageNotFoundError(Exception):
    """The record is unknown or outside the user's reach (the store cannot tell them apart
    for the user, and neither does the page)."""


def token_secret(request: Request) -> str | None:
    """The HS256 secret the demo login mints with: the access layer's local secret, and only
    when tokens are local and the demo login is on (an OIDC deployment mints nothing)."""
    settings: Settings = request.app.state.settings
    if settings.auth_mode != "local" or not settings.demo_login:
        return None
    return settings.auth_secret


def verify_token(request: Request, token: str) -> Principal:
    """Verify a pasted token exactly as the API does (local or OIDC, identity claims checked
    against the record); :class:`AuthenticationError` if invalid."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.from_header(f"Bearer {token}")


def mint_demo_token(
    secret: str, role: Role, fhir_user: str, organization: str | None = None
) -> str:
    """A demo token for one of the demo district's people (demo mode only). ``fhir_user``
    without a ``Type/`` is a plain subject (the district official has no FHIR record)."""
    subject = fhir_user.split("/")[-1]
    return mint_token(
        secret=secret,
        role=role,
        subject=subject,
        fhir_user=fhir_user if "/" in fhir_user else None,
        organization=organization,
        lifetime=DEMO_LIFETIME,
    )


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
    """The page's user from the token cookie; :class:`LoginRequiredError` when absent/invalid."""
    if not request.cookies.get(TOKEN_COOKIE):
        raise LoginRequiredError
    try:
        principal = access_http.authenticate(request, allow_cookie=True)
    except AuthenticationError as exc:
        raise LoginRequiredError from exc
    lang = pick_lang(request)
    return WebUser(principal, request_context(request, principal), lang, Translator(lang))


UserDep = Annotated[WebUser, Depends(current_user)]
