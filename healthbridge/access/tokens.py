"""Bearer tokens (JWT): minting for local use and tests, verification for every request.

Two verification modes (chosen in settings):

* **local** — tokens signed with HS256 and a configured secret, minted by
  ``healthbridge token``. For development, tests and small deployments.
* **oidc** — tokens from an external OpenID Connect provider, verified against its JWKS
  (RFC 7517) with issuer and audience checks. Keys are cached by ``kid``; an unknown ``kid``
  triggers one refresh (key rotation), rate-limited so that forged ``kid`` values cannot make
  the server hammer the provider.

Only asymmetric algorithms are accepted from the provider and only HS256 locally; ``alg: none``
and algorithm-confusion tokens (an HS256 token signed with a public key) are rejected because
the accepted algorithms are fixed per mode, never taken from the token (RFC 8725 §3.1).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import jwt

from healthbridge.access.errors import AuthenticationError
from healthbridge.access.scopes import Scope, parse_scopes

LOCAL_ALGORITHM: Final = "HS256"
OIDC_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
ROLE_CLAIM: Final = "healthbridge_role"
ORG_CLAIM: Final = "healthbridge_org"
DEFAULT_LIFETIME: Final = dt.timedelta(hours=8)
#: Allowed clock difference between the token issuer and this server.
LEEWAY_SECONDS: Final = 30


class Role(StrEnum):
    """The roles of HealthBridge (ARCHITECTURE.md "Access"; issue "Who may see what")."""

    PARENT = "parent"
    HEALTH_MANAGER = "health-manager"
    CENTRE_STAFF = "centre-staff"
    PAEDIATRICIAN = "paediatrician"
    DISTRICT_OFFICIAL = "district-official"
    SYSTEM = "system"
    ADMIN = "admin"


#: Scopes a minted token gets when none are asked for (SMART v2 syntax).
DEFAULT_SCOPES: Final[dict[Role, str]] = {
    Role.PARENT: "patient/*.rs patient/Consent.cruds patient/Task.c",  # Task: leave requests
    Role.HEALTH_MANAGER: "user/*.cruds",
    Role.CENTRE_STAFF: "user/*.crus",
    Role.PAEDIATRICIAN: "user/*.cruds",
    Role.DISTRICT_OFFICIAL: "user/Organization.rs",
    Role.SYSTEM: "system/*.cruds",
    Role.ADMIN: "user/AuditEvent.rs user/Organization.cruds user/Practitioner.cruds "
    "user/PractitionerRole.cruds user/Location.cruds user/Subscription.cruds",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as established from a verified token."""

    subject: str
    role: Role
    scopes: tuple[Scope, ...]
    fhir_user: str | None = None  # e.g. "RelatedPerson/rp-1", "PractitionerRole/pr-1-role"
    organization: str | None = None  # e.g. "Organization/org-centre-1"
    issuer: str = "local"
    token_id: str | None = None
    #: SMART launch context: the one patient a launched app's token is bound to (it narrows
    #: the caller's reach to that child; it never widens it).
    patient: str | None = None


def mint_token(
    *,
    secret: str,
    role: Role,
    subject: str,
    fhir_user: str | None = None,
    organization: str | None = None,
    scopes: str | None = None,
    lifetime: dt.timedelta = DEFAULT_LIFETIME,
    issuer: str = "healthbridge-local",
    audience: str = "healthbridge",
    now: dt.datetime | None = None,
    patient: str | None = None,
) -> str:
    """Sign a local HS256 token for ``subject`` in ``role`` (``patient``: a SMART launch
    context that binds the token to one child)."""
    if len(secret) < 32:
        raise ValueError("the token secret must be at least 32 characters")
    issued = now or dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
        ROLE_CLAIM: role.value,
        "scope": scopes if scopes is not None else DEFAULT_SCOPES[role],
    }
    if fhir_user:
        claims["fhirUser"] = fhir_user
    if organization:
        claims[ORG_CLAIM] = organization
    if patient:
        claims["patient"] = patient
    return jwt.encode(claims, secret, algorithm=LOCAL_ALGORITHM)


def principal_from_claims(claims: Mapping[str, Any], *, issuer: str) -> Principal:
    """Map verified claims to a :class:`Principal` (role, SMART ``scope``/``scp``, fhirUser)."""
    try:
        role = Role(str(claims[ROLE_CLAIM]))
    except (KeyError, ValueError) as exc:
        raise AuthenticationError("the token names no known HealthBridge role") from exc
    raw_scopes = claims.get("scope", claims.get("scp", ""))
    if not isinstance(raw_scopes, str | list):
        raise AuthenticationError("the token's scope claim is malformed")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the token has no subject")
    fhir_user = claims.get("fhirUser")
    organization = claims.get(ORG_CLAIM)
    patient = claims.get("patient")
    return Principal(
        subject=subject,
        role=role,
        scopes=parse_scopes(raw_scopes),
        fhir_user=fhir_user if isinstance(fhir_user, str) else None,
        organization=organization if isinstance(organization, str) else None,
        issuer=issuer,
        token_id=str(claims["jti"]) if "jti" in claims else None,
        patient=patient if isinstance(patient, str) and patient else None,
    )


def verify_local(
    token: str, *, secret: str, audience: str = "healthbridge", issuer: str = "healthbridge-local"
) -> Principal:
    """Verify a locally minted HS256 token."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[LOCAL_ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"invalid token: {exc}") from exc
    return principal_from_claims(claims, issuer=issuer)


JwksFetcher = Callable[[], Mapping[str, Any]]


@dataclass
class JwksCache:
    """Keys of an OIDC provider by ``kid``, refreshed on rotation.

    ``fetch`` returns the JWKS document (``{"keys": [...]}``); in production it is an HTTP GET
    of the provider's ``jwks_uri``, in tests an in-process function. A refresh happens when the
    cache is older than ``max_age`` seconds, or when a token names an unknown ``kid`` and the
    last refresh is older than ``min_refresh_interval`` seconds.
    """

    fetch: JwksFetcher
    max_age: float = 3600.0
    min_refresh_interval: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def _refresh(self) -> None:
        document = self.fetch()
        keys: dict[str, jwt.PyJWK] = {}
        for data in document.get("keys", []):
            if not isinstance(data, Mapping) or "kid" not in data:
                continue
            try:
                keys[str(data["kid"])] = jwt.PyJWK(dict(data))
            except jwt.PyJWTError:
                continue  # unusable key types are skipped, not fatal
        self._keys = keys
        self._fetched_at = self.clock()

    def key(self, kid: str) -> jwt.PyJWK:
        """The key named ``kid``, refreshing once if it is unknown (rotation)."""
        with self._lock:
            now = self.clock()
            age = None if self._fetched_at is None else now - self._fetched_at
            stale = age is None or age > self.max_age
            rotated = kid not in self._keys and (age is None or age >= self.min_refresh_interval)
            if stale or rotated:
                self._refresh()
            found = self._keys.get(kid)
        if found is None:
            raise AuthenticationError(f"no signing key with kid {kid!r}")
        return found


def verify_oidc(
    token: str,
    *,
    jwks: JwksCache,
    issuer: str,
    audience: str,
    algorithms: Sequence[str] = OIDC_ALGORITHMS,
) -> Principal:
    """Verify a provider-issued token: signature by JWKS ``kid``, issuer, audience, expiry."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"invalid token: {exc}") from exc
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise AuthenticationError(f"token algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise AuthenticationError("the token header names no key (kid)")
    key = jwks.key(kid)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"invalid token: {exc}") from exc
    return principal_from_claims(claims, issuer=issuer)
