"""Attempts to escape access control through the real app, on both databases: bad tokens,
guessed ids, ``_include``/chaining tricks, references to other centres' children inside
Bundles, withdrawn consent, forged organisation claims; and the audit trail."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from healthbridge.access.tokens import Role, mint_token
from tests import factories as f
from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS


def _as(client_as: Any, name: str, **extra: Any) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **{**caller.claims, **extra})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_bad_tokens_get_401_and_public_paths_stay_open(client_as: Any) -> None:
    c = client_as("system")
    raw = c.client
    expired = mint_token(
        secret=f.TEST_SECRET,
        role=Role.SYSTEM,
        subject="old",
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        lifetime=dt.timedelta(hours=1),
    )
    forged = mint_token(secret="x" * 40, role=Role.SYSTEM, subject="mallory")
    claims = {"sub": "mallory", "healthbridge_role": "system", "scope": "system/*.cruds"}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    for headers in (
        {},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Bearer {unsigned}"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {forged}"},
    ):
        r = raw.get("/fhir/Patient", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["resourceType"] == "OperationOutcome"
        assert raw.post("/fhir", json=f.transaction(), headers=headers).status_code == 401
    for public in ("/fhir/metadata", "/docs", "/openapi.json"):
        assert raw.get(public).status_code == 200, public


def test_out_of_reach_looks_like_nonexistent(client_as: Any) -> None:
    world.load(client_as("system"))
    parent = _as(client_as, "parent")
    for real, fake in [
        ("/fhir/Patient/kid-b", "/fhir/Patient/kid-zz"),
        ("/fhir/Observation/obs-b", "/fhir/Observation/obs-zz"),
        ("/fhir/Patient/kid-b/_history", "/fhir/Patient/kid-zz/_history"),
        ("/fhir/Patient/kid-b/$everything", "/fhir/Patient/kid-zz/$everything"),
        ("/fhir/Observation/obs-b/_history/1", "/fhir/Observation/obs-zz/_history/1"),
    ]:
        a, b = parent.get(real), parent.get(fake)
        assert a.status_code == b.status_code == 404, real
        assert a.text.replace("kid-b", "X").replace("obs-b", "X") == b.text.replace(
            "kid-zz", "X"
        ).replace("obs-zz", "X")
    # writes too: updating or deleting a record out of reach is "not found"
    body = {**f.observation("Patient/kid-a"), "id": "obs-b"}
    assert (
        _as(client_as, "health-manager").put("/fhir/Observation/obs-b", json=body).status_code
        == 404
    )
    assert _as(client_as, "health-manager").delete("/fhir/Observation/obs-b").status_code == 404
    # a centre whose child left is no longer in reach
    assert _as(client_as, "health-manager").get("/fhir/Patient/kid-old").status_code == 404


def test_include_revinclude_chaining_and_everything_do_not_leak(client_as: Any) -> None:
    world.load(client_as("system"))
    parent = _as(client_as, "parent")
    system = client_as("system")

    def refs(bundle: dict[str, Any]) -> set[str]:
        return {e["fullUrl"].split("/fhir/")[1] for e in bundle.get("entry", [])}

    r = parent.get("/fhir/Observation?subject=Patient/kid-a&_include=Observation:focus").json()
    assert "Observation/obs-a-focus" in refs(r)
    assert "Patient/kid-b" not in refs(r)
    r = parent.get("/fhir/Observation?_include=*").json()
    assert not {x for x in refs(r) if x.endswith("-b") or x.endswith("-old")}
    r = parent.get("/fhir/Patient?_revinclude=Observation:subject&_revinclude=Consent:patient")
    assert refs(r.json()) == {
        "Patient/kid-a",
        "Observation/obs-a",
        "Observation/obs-a-focus",
        "Consent/consent-a-h",
    }
    # chaining into a child out of reach reveals nothing (the system role sees the match)
    chain = "/fhir/Observation?focus:Patient.name=贝贝"
    assert system.get(chain).json()["total"] == 1
    assert parent.get(chain).json()["total"] == 0
    assert parent.get("/fhir/Observation?focus:Patient.name=安安").json()["total"] == 0
    assert parent.get("/fhir/RelatedPerson?patient.name=贝贝").json()["total"] == 0
    # $everything of one's own child does not follow references out of reach
    everything = refs(parent.get("/fhir/Patient/kid-a/$everything").json())
    assert "Observation/obs-a-focus" in everything
    assert "Patient/kid-b" not in everything
    # totals and paging count only what is in reach
    assert parent.get("/fhir/Observation?_summary=count").json()["total"] == 2
    assert system.get("/fhir/Observation?_summary=count").json()["total"] == 4
    page = parent.get("/fhir/Observation?_count=1").json()
    assert page["total"] == 2
    assert len(page["entry"]) == 1


def test_bundles_referring_to_other_centres_children(client_as: Any) -> None:
    world.load(client_as("system"))
    hm = _as(client_as, "health-manager")
    mine, theirs = f.observation("Patient/kid-a"), f.observation("Patient/kid-b")
    r = hm.post("/fhir", json=f.transaction(f.post(mine), f.post(theirs)))
    assert r.status_code == 404
    assert "Patient/kid-b not found" in r.text
    assert hm.get("/fhir/Observation?subject=Patient/kid-a").json()["total"] == 2  # unchanged
    # a batch refuses only the entry out of reach
    r = hm.post("/fhir", json=f.transaction(f.post(mine), f.post(theirs), kind="batch"))
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["201", "404"]
    # conditional update cannot reach another centre's record (evaluated within reach)
    body = f.observation("Patient/kid-a", value=1.0)
    assert hm.put("/fhir/Observation?_id=obs-b", json=body).status_code == 404
    weight = client_as("system").get("/fhir/Observation/obs-b").json()["valueQuantity"]["value"]
    assert weight == 9.2
    # a centre registers a new child enrolled with it and records a measurement, in one go
    kid_a = next(r for r in world.resources() if r["id"] == "kid-a")
    new = f.post({**f.child(child_id="NEW"), "extension": kid_a["extension"]})
    r = hm.post("/fhir", json=f.transaction(new, f.post(f.observation(new["fullUrl"]))))
    assert r.status_code == 200, r.text
    assert hm.get(f"/fhir/Patient?identifier={f.CHILD_ID}|NEW").json()["total"] == 1
    # a reference hidden in a new child's record: a centre cannot register another's child
    kid_b = next(r for r in world.resources() if r["id"] == "kid-b")
    other = {**f.child(child_id="N"), "extension": kid_b["extension"]}
    assert hm.post("/fhir/Patient", json=other).status_code == 403


def test_consent_withdrawal_takes_effect_on_next_request(client_as: Any) -> None:
    world.load(client_as("system"))
    doctor = _as(client_as, "paediatrician-consent")
    parent = _as(client_as, "parent")
    assert doctor.get("/fhir/Patient/kid-a").status_code == 200
    withdrawn = world.consent("consent-a-h", "kid-a", "hosp-h", status="inactive")
    assert parent.put("/fhir/Consent/consent-a-h", json=withdrawn).status_code == 200
    assert doctor.get("/fhir/Patient/kid-a").status_code == 404
    assert doctor.get("/fhir/Observation?subject=Patient/kid-a").json()["total"] == 0
    # a new consent restores access; a parent cannot consent for someone else's child
    again = {k: v for k, v in world.consent("c2", "kid-a", "hosp-h").items() if k != "id"}
    assert parent.post("/fhir/Consent", json=again).status_code == 201
    assert doctor.get("/fhir/Patient/kid-a").status_code == 200
    foreign = {k: v for k, v in world.consent("c3", "kid-b", "hosp-h").items() if k != "id"}
    assert parent.post("/fhir/Consent", json=foreign).status_code == 404
    assert parent.delete("/fhir/Consent/consent-a-h").status_code == 403
    # ending a referral closes the receiving hospital's access
    referral = _as(client_as, "paediatrician-referral")
    assert referral.get("/fhir/Patient/kid-b").status_code == 200
    sr = client_as("system").get("/fhir/ServiceRequest/ref-b-g").json()
    client_as("system").put("/fhir/ServiceRequest/ref-b-g", json={**sr, "status": "revoked"})
    assert referral.get("/fhir/Patient/kid-b").status_code == 404


def test_identity_claims_are_checked_against_the_record(client_as: Any) -> None:
    world.load(client_as("system"))
    lying = _as(client_as, "paediatrician-consent", org="Organization/hosp-g")
    assert lying.get("/fhir/Organization").status_code == 401
    stranger = client_as("parent", fhir_user="RelatedPerson/nobody")
    assert stranger.get("/fhir/Patient").status_code == 401
    unnamed = client_as("parent")
    assert unnamed.get("/fhir/Patient").status_code == 401
    # system scopes in a non-system token grant nothing
    sneaky = _as(client_as, "parent", scopes="system/*.cruds")
    assert sneaky.get("/fhir/Patient/kid-a").status_code == 403
    # narrower scopes narrow
    narrow = _as(client_as, "paediatrician-consent", scopes="user/Patient.rs")
    assert narrow.get("/fhir/Patient/kid-a").status_code == 200
    assert narrow.get("/fhir/Observation/obs-a").status_code == 403
    everything = narrow.get("/fhir/Patient/kid-a/$everything").json()
    assert {e["resource"]["resourceType"] for e in everything["entry"]} <= {
        "Patient",
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "Questionnaire",
    }


def test_accesses_are_audited_and_audit_is_immutable(client_as: Any) -> None:
    world.load(client_as("system"))
    parent = _as(client_as, "parent")
    admin = client_as("admin", user="admin-1")
    before = admin.get("/fhir/AuditEvent?entity=Patient/kid-a&_summary=count").json()["total"]
    assert parent.get("/fhir/Patient/kid-a").status_code == 200
    assert parent.get("/fhir/Patient/kid-b").status_code == 404
    found = admin.get("/fhir/AuditEvent?entity=Patient/kid-a&_sort=-date").json()
    assert found["total"] == before + 1
    event = found["entry"][0]["resource"]
    assert event["agent"][0]["altId"] == "user-parent"
    assert event["agent"][0]["who"]["reference"] == "RelatedPerson/rp-a"
    assert event["subtype"][0]["code"] == "read"
    assert event["agent"][0]["network"]["address"]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "PATRQT"
    # the refused read of kid-b is recorded as a failure (outcome 4), never as a success
    entity_b = admin.get("/fhir/AuditEvent?entity=Patient/kid-b").json()["entry"]
    by_parent = [
        e["resource"] for e in entity_b if e["resource"]["agent"][0]["altId"] == "user-parent"
    ]
    assert by_parent
    assert all(e["outcome"] == "4" for e in by_parent)
    # a search lists its hits; writes are audited with the same request
    parent.get("/fhir/Observation?subject=Patient/kid-a")
    hits = admin.get("/fhir/AuditEvent?entity=Observation/obs-a-focus&subtype=search-type")
    assert hits.json()["total"] >= 1
    # nobody changes or deletes audit records, nor writes them, nor do other roles read them
    aid = event["id"]
    for who in (admin, client_as("system")):
        assert who.put(f"/fhir/AuditEvent/{aid}", json=event).status_code == 405
        assert who.delete(f"/fhir/AuditEvent/{aid}").status_code == 405
        assert who.post("/fhir/AuditEvent", json=event).status_code == 405
    assert client_as("system").get(f"/fhir/AuditEvent/{aid}").status_code == 403
    assert parent.get("/fhir/AuditEvent").status_code == 403
    assert admin.get("/fhir/Patient/kid-a").status_code == 403


def _hs256(claims: dict[str, Any], key: bytes, kid: str) -> str:
    import hashlib
    import hmac

    signing = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_oidc_tokens(app_factory: Any) -> None:
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]

    def jwk(index: int) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys[index].public_key()))
        return {**data, "kid": f"k{index}", "use": "sig", "alg": "RS256"}

    published = [jwk(0), jwk(1)]  # key 2 is not published
    issuer, audience = "https://idp.example.test/realms/district", "healthbridge-api"
    app = app_factory(
        authenticated=True,
        auth_mode="oidc",
        oidc_issuer=issuer,
        oidc_audience=audience,
        oidc_jwks_url="https://idp.example.test/jwks",
        jwks_fetcher=lambda: {"keys": list(published)},
    )
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": "svc",
        "iat": now,
        "exp": now + 600,
        "healthbridge_role": "system",
        "scope": "system/*.cruds",
    }

    def token(index: int, **extra: Any) -> str:
        return jwt.encode(
            {**claims, **extra}, keys[index], algorithm="RS256", headers={"kid": f"k{index}"}
        )

    pem = (
        keys[0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with TestClient(app) as c:

        def status(tok: str) -> int:
            code: int = c.get(
                "/fhir/Patient", headers={"Authorization": f"Bearer {tok}"}
            ).status_code
            return code

        assert status(token(0)) == 200
        assert status(token(1)) == 200
        assert status(token(2)) == 401  # signed by a key the provider does not publish
        assert status(token(0, aud="someone-else")) == 401
        assert status(token(0, iss="https://evil.example.test")) == 401
        assert status(token(0, exp=now - 3600)) == 401
        assert status(_hs256(claims, pem, "k0")) == 401  # algorithm confusion
        assert status(f"{_b64({'alg': 'none', 'kid': 'k0'})}.{_b64(claims)}.") == 401
        # a local token is not accepted in OIDC mode
        assert c.get("/fhir/Patient", headers=f.auth_headers("system")).status_code == 401
