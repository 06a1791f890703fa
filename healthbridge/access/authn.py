"""Authentication: from an ``Authorization: Bearer`` header to a verified :class:`Principal`.

:class:`Authenticator` verifies tokens in the configured mode (local HS256 or OIDC with a
cached JWKS, :mod:`healthbridge.access.tokens`). :func:`resolve_identity` then checks the
token's identity claims against the record: a practitioner's organisation is taken from the
PractitionerRole named by ``fhirUser`` (and a ``healthbridge_org`` claim must agree with it),
so that a token cannot claim an organisation its holder does not work for.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from healthbridge.access.errors import AuthenticationError
from healthbridge.access.tokens import (
    JwksCache,
    JwksFetcher,
    Principal,
    Role,
    verify_local,
    verify_oidc,
)
from healthbridge.errors import FhirError

if TYPE_CHECKING:
    from healthbridge.config import Settings
    from healthbridge.store.repository import Transaction

#: Roles whose organisation comes from their PractitionerRole.
PRACTITIONER_ROLES: Final = frozenset({Role.HEALTH_MANAGER, Role.CENTRE_STAFF, Role.PAEDIATRICIAN})
JWKS_TIMEOUT_SECONDS: Final = 10.0


def http_jwks_fetcher(url: str) -> JwksFetcher:
    """A JWKS fetcher doing an HTTP GET of ``url`` (the provider's ``jwks_uri``)."""

    def fetch() -> Mapping[str, Any]:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT_SECONDS) as response:
                document = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise AuthenticationError(
                f"the identity provider's keys are unavailable: {exc}"
            ) from exc
        if not isinstance(document, dict):
            raise AuthenticationError("the identity provider's JWKS is not a JSON object")
        return document

    return fetch


class Authenticator:
    """Verifies bearer tokens for one application (mode and keys from settings)."""

    def __init__(self, settings: Settings, *, jwks_fetcher: JwksFetcher | None = None) -> None:
        self.settings = settings
        self.jwks: JwksCache | None = None
        if settings.auth_mode == "oidc":
            fetch = jwks_fetcher or http_jwks_fetcher(settings.oidc_jwks_url)
            self.jwks = JwksCache(fetch, max_age=settings.oidc_jwks_max_age)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; :class:`AuthenticationError` otherwise."""
        s = self.settings
        if self.jwks is not None:
            return verify_oidc(
                token, jwks=self.jwks, issuer=s.oidc_issuer, audience=s.oidc_audience
            )
        return verify_local(
            token, secret=s.auth_secret, audience=s.auth_audience, issuer=s.auth_issuer
        )

    def from_header(self, authorization: str | None) -> Principal:
        """Verify the ``Authorization`` header value (``Bearer <token>``)."""
        if not authorization:
            raise AuthenticationError("Authentication required: send a Bearer token")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("The Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


def resolve_identity(txn: Transaction, who: Principal) -> Principal:
    """Check ``who``'s identity claims against the record and complete the organisation.

    * parent: ``fhirUser`` must name a RelatedPerson that exists;
    * practitioner roles: ``fhirUser`` names their PractitionerRole (or Practitioner); the
      organisation is the PractitionerRole's, and a ``healthbridge_org`` claim must agree;
      a token without ``fhirUser`` keeps its claimed organisation (provider-asserted);
    * the PractitionerRole's ``code`` (staff-role system) must allow the token's role, and
      its organisation must exist and be active (a deleted or deactivated organisation's
      staff see nothing of its children);
    * other roles are returned unchanged.

    Runs with the server's authority (it reads directory resources); raises
    :class:`AuthenticationError` (401) when the claims do not hold.
    """
    if who.role is Role.PARENT:
        if not who.fhir_user or not who.fhir_user.startswith("RelatedPerson/"):
            raise AuthenticationError("A parent's token must name their RelatedPerson (fhirUser)")
        with txn.as_server():
            if not _exists(txn, who.fhir_user):
                raise AuthenticationError(f"Unknown user {who.fhir_user}")
        return who
    if who.role not in PRACTITIONER_ROLES:
        return who
    if not who.fhir_user:
        if who.organization is not None:
            with txn.as_server():
                if not _organisation_active(txn, who.organization):
                    raise AuthenticationError(
                        f"The token's organisation {who.organization} is deleted or inactive"
                    )
        return who
    kind, _, rid = who.fhir_user.partition("/")
    roles: list[dict[str, Any]] = []
    with txn.as_server():
        if kind == "PractitionerRole":
            if not _exists(txn, who.fhir_user):
                raise AuthenticationError(f"Unknown user {who.fhir_user}")
            roles = [txn.read("PractitionerRole", rid).resource or {}]
            if not _role_allows(roles[0], who.role):
                raise AuthenticationError(
                    f"The token's role {who.role.value} is not the role of {who.fhir_user}"
                )
        elif kind == "Practitioner":
            found = txn.search_params(
                "PractitionerRole", [("practitioner", who.fhir_user), ("active:not", "false")]
            )
            roles = [m.resource or {} for m in found.matches]
            roles = [r for r in roles if _role_allows(r, who.role)]
        else:
            raise AuthenticationError("A practitioner's fhirUser must be a PractitionerRole")
        orgs = {
            o
            for r in roles
            if r.get("active", True) is not False
            and (o := _ref(r.get("organization")))
            and _organisation_active(txn, o)
        }
    if who.organization is not None:
        if who.organization not in orgs:
            raise AuthenticationError(
                f"The token's organisation {who.organization} is not one of the user's"
            )
        return who
    if len(orgs) != 1:
        raise AuthenticationError("The user's organisation cannot be determined")
    return dataclasses.replace(who, organization=orgs.pop())


#: ``PractitionerRole.code`` (system :data:`STAFF_ROLE`) → the token roles it allows; a
#: health manager may also act with the centre-staff role (same reach, fewer writes).
STAFF_ROLE: Final = "https://healthbridge.github.io/fhir/CodeSystem/staff-role"
ROLES_BY_STAFF_CODE: Final[dict[str, frozenset[Role]]] = {
    "paediatrician": frozenset({Role.PAEDIATRICIAN}),
    "health-manager": frozenset({Role.HEALTH_MANAGER, Role.CENTRE_STAFF}),
    "centre-staff": frozenset({Role.CENTRE_STAFF}),
}


def _role_allows(practitioner_role: dict[str, Any], role: Role) -> bool:
    """Whether ``PractitionerRole.code`` allows a token with ``role``.

    A PractitionerRole coded in the staff-role system allows only the roles of its codes; one
    without such a code (directories that do not code staff roles) allows every practitioner
    role — code your PractitionerRoles to have the token's role checked (docs/access.md).
    """
    codes = [
        str(coding.get("code"))
        for concept in practitioner_role.get("code") or ()
        if isinstance(concept, dict)
        for coding in concept.get("coding") or ()
        if isinstance(coding, dict) and coding.get("system") == STAFF_ROLE
    ]
    if not codes:
        return True
    return any(role in ROLES_BY_STAFF_CODE.get(code, frozenset()) for code in codes)


def _organisation_active(txn: Transaction, reference: str) -> bool:
    """An organisation that exists, is not deleted and not ``active: false``: staff of a
    deleted or deactivated organisation lose its reach on their next request."""
    kind, _, rid = reference.partition("/")
    if kind != "Organization":
        return False
    try:
        org = txn.read(kind, rid).resource or {}
    except FhirError:
        return False
    return org.get("active", True) is not False


def _exists(txn: Transaction, reference: str) -> bool:
    kind, _, rid = reference.partition("/")
    try:
        txn.read(kind, rid)
    except FhirError:  # not found, deleted or an unsupported type: not a user
        return False
    return True
