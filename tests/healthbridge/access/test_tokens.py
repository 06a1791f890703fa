"""Tokens: minting, local verification, OIDC verification with JWKS rotation, attacks."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from healthbridge.access.errors import AuthenticationError
from healthbridge.access.scopes import Permission, granted
from healthbridge.access.tokens import (
    ROLE_CLAIM,
    JwksCache,
    Role,
    mint_token,
    verify_local,
    verify_oidc,
)

SECRET = "s" * 40
ISSUER = "https://idp.example.test/realms/district"
AUDIENCE = "healthbridge-api"


def test_round_trip_local_token() -> None:
    token = mint_token(
        secret=SECRET, role=Role.PARENT, subject="u1", fhir_user="RelatedPerson/rp-1"
    )
    who = verify_local(token, secret=SECRET)
    assert who.role is Role.PARENT
    assert who.subject == "u1"
    assert who.fhir_user == "RelatedPerson/rp-1"
    assert granted(who.scopes, "Observation", Permission.READ)
    assert not granted(who.scopes, "Observation", Permission.UPDATE)


def test_forged_signature_is_rejected() -> None:
    token = mint_token(secret="x" * 40, role=Role.ADMIN, subject="mallory")
    with pytest.raises(AuthenticationError):
        verify_local(token, secret=SECRET)


def test_expired_token_is_rejected() -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    token = mint_token(
        secret=SECRET, role=Role.PARENT, subject="u1", now=past, lifetime=dt.timedelta(hours=1)
    )
    with pytest.raises(AuthenticationError, match="expired"):
        verify_local(token, secret=SECRET)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_rejected() -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": "healthbridge-local",
        "aud": "healthbridge",
        "sub": "mallory",
        "iat": now,
        "exp": now + 600,
        ROLE_CLAIM: "admin",
        "scope": "system/*.cruds",
    }
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(AuthenticationError):
        verify_local(token, secret=SECRET)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        mint_token(secret="short", role=Role.PARENT, subject="u")


def test_unknown_role_is_rejected() -> None:
    now = dt.datetime.now(dt.UTC)
    token = jwt.encode(
        {
            "iss": "healthbridge-local",
            "aud": "healthbridge",
            "sub": "u",
            "iat": now,
            "exp": now + dt.timedelta(hours=1),
            ROLE_CLAIM: "superuser",
        },
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(AuthenticationError, match="role"):
        verify_local(token, secret=SECRET)


class Provider:
    """An in-process OIDC provider with rotating RSA keys."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        self.rotate("k1")

    def rotate(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        self.fetches += 1
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def token(self, kid: str, **overrides: Any) -> str:
        now = dt.datetime.now(dt.UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "dr-li",
            "iat": now,
            "exp": now + dt.timedelta(minutes=5),
            ROLE_CLAIM: "paediatrician",
            "scp": ["user/*.cruds"],
            "fhirUser": "PractitionerRole/pr-1-role",
        }
        claims.update(overrides)
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_oidc_token_verified_and_key_rotation_refreshes_once() -> None:
    idp, clock = Provider(), Clock()
    cache = JwksCache(fetch=idp.jwks, clock=clock, min_refresh_interval=30.0)
    who = verify_oidc(idp.token("k1"), jwks=cache, issuer=ISSUER, audience=AUDIENCE)
    assert who.role is Role.PAEDIATRICIAN
    assert who.fhir_user == "PractitionerRole/pr-1-role"
    assert idp.fetches == 1
    idp.rotate("k2")
    clock.now += 31
    verify_oidc(idp.token("k2"), jwks=cache, issuer=ISSUER, audience=AUDIENCE)
    assert idp.fetches == 2


def test_unknown_kid_refresh_is_rate_limited() -> None:
    idp, clock = Provider(), Clock()
    cache = JwksCache(fetch=idp.jwks, clock=clock, min_refresh_interval=30.0)
    verify_oidc(idp.token("k1"), jwks=cache, issuer=ISSUER, audience=AUDIENCE)
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="kid"):
            cache.key("forged")
    assert idp.fetches == 1


@pytest.mark.parametrize(("field", "value"), [("iss", "https://evil.test"), ("aud", "other")])
def test_wrong_issuer_or_audience(field: str, value: str) -> None:
    idp = Provider()
    cache = JwksCache(fetch=idp.jwks)
    with pytest.raises(AuthenticationError):
        verify_oidc(idp.token("k1", **{field: value}), jwks=cache, issuer=ISSUER, audience=AUDIENCE)


def test_hs256_signed_with_the_public_key_is_rejected() -> None:
    """Algorithm confusion: an attacker signs HS256 with the provider's public key."""
    idp = Provider()
    cache = JwksCache(fetch=idp.jwks)
    public_pem = (
        idp.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = dt.datetime.now(dt.UTC)
    forged = jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "m",
            "iat": now,
            "exp": now + dt.timedelta(minutes=5),
            ROLE_CLAIM: "system",
        },
        public_pem.decode()[:64] * 2,
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(AuthenticationError, match="algorithm"):
        verify_oidc(forged, jwks=cache, issuer=ISSUER, audience=AUDIENCE)
