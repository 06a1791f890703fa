"""Referral reach (issue 20, item 3): a referral opens a child's record to the receiving
organisation only while it is active and within its window, only for the data it needs, only
under the guardian's consent covering it, and only when made by someone entitled to refer the
child — never by the receiver to itself. On both databases, through the real app."""

from __future__ import annotations

from typing import Any

from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS


def _as(client_as: Any, name: str, **extra: Any) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **{**caller.claims, **extra})


def _referral(kid: str, org: str, *, status: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/{kid}"},
        "performer": [{"reference": f"Organization/{org}"}],
        **extra,
    }


def test_self_referral_does_not_survive_consent_withdrawal(client_as: Any) -> None:
    """The reported attack: a paediatrician refers a consented child to their own hospital,
    then the guardian withdraws consent — the hospital must lose the child."""
    world.load(client_as("system"))
    doctor = _as(client_as, "paediatrician-consent")
    for status in ("completed", "active", "on-hold"):
        r = doctor.post("/fhir/ServiceRequest", json=_referral("kid-a", "hosp-h", status=status))
        assert r.status_code == 201, r.text
    withdrawn = world.consent("consent-a-h", "kid-a", "hosp-h", status="inactive")
    assert (
        _as(client_as, "parent").put("/fhir/Consent/consent-a-h", json=withdrawn).status_code == 200
    )
    for url in (
        "/fhir/Patient/kid-a",
        "/fhir/Patient/kid-a/$everything",
        "/fhir/Observation/obs-a",
    ):
        assert doctor.get(url).status_code == 404, url
    assert doctor.get("/fhir/Observation?subject=Patient/kid-a").json()["total"] == 0
    other = client_as("paediatrician", user="colleague", fhir_user="PractitionerRole/doc-h-role")
    assert other.get("/fhir/Patient/kid-a").status_code == 404


def test_referral_without_the_guardians_consent_opens_nothing(client_as: Any) -> None:
    """A health manager's referral to a hospital the guardian never consented to."""
    world.load(client_as("system"))
    hm = _as(client_as, "health-manager")
    assert hm.post("/fhir/ServiceRequest", json=_referral("kid-a", "hosp-g")).status_code == 201
    doctor_g = _as(client_as, "paediatrician-referral")
    assert doctor_g.get("/fhir/Patient/kid-a").status_code == 404
    assert doctor_g.get("/fhir/Observation/obs-a").status_code == 404
    # with the guardian's consent covering coordination of care, the referral opens it
    coc = {
        k: v
        for k, v in world.consent("x", "kid-a", "hosp-g", purposes=("COC",)).items()
        if k != "id"
    }
    assert _as(client_as, "parent").post("/fhir/Consent", json=coc).status_code == 201
    assert doctor_g.get("/fhir/Patient/kid-a").status_code == 200
    assert doctor_g.get("/fhir/Observation/obs-a").status_code == 200


def test_referral_reach_is_limited_to_the_data_it_needs(client_as: Any) -> None:
    world.load(client_as("system"))
    doctor_g = _as(client_as, "paediatrician-referral")
    for url in ("/fhir/Patient/kid-b", "/fhir/Observation/obs-b", "/fhir/Encounter/enc-b"):
        assert doctor_g.get(url).status_code == 200, url
    # the guardian's contacts and other consents are not referral data
    assert doctor_g.get("/fhir/RelatedPerson/rp-b").status_code == 404
    assert doctor_g.get("/fhir/Consent/consent-b-h").status_code == 404
    everything = doctor_g.get("/fhir/Patient/kid-b/$everything").json()
    types = {e["resource"]["resourceType"] for e in everything["entry"]}
    assert "Observation" in types
    assert not types & {"RelatedPerson", "Consent"}


def test_referral_ends_with_its_window_status_or_consent(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    doctor_g = _as(client_as, "paediatrician-referral")
    sr = system.get("/fhir/ServiceRequest/ref-b-g").json()
    # past its occurrence end plus the 30-day grace
    past = {**sr, "occurrencePeriod": {"start": "2025-01-01", "end": "2025-02-01"}}
    assert system.put("/fhir/ServiceRequest/ref-b-g", json=past).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 404
    # an old referral with no occurrence: 90 days from authoredOn (+ grace)
    old = {k: v for k, v in sr.items() if k not in ("occurrencePeriod", "meta")}
    old["authoredOn"] = "2025-01-01"
    assert system.put("/fhir/ServiceRequest/ref-b-g", json=old).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 404
    current = {k: v for k, v in sr.items() if k != "meta"}
    assert system.put("/fhir/ServiceRequest/ref-b-g", json=current).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 200
    for status in ("completed", "on-hold", "entered-in-error"):
        body = {**current, "status": status}
        assert system.put("/fhir/ServiceRequest/ref-b-g", json=body).status_code == 200
        assert doctor_g.get("/fhir/Patient/kid-b").status_code == 404, status
    assert system.put("/fhir/ServiceRequest/ref-b-g", json=current).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 200
    # withdrawing the consent that covers the referral ends it at once
    coc = world.consent("consent-b-g", "kid-b", "hosp-g", purposes=("COC",), status="inactive")
    assert system.put("/fhir/Consent/consent-b-g", json=coc).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 404


def test_the_receiver_cannot_widen_or_pass_on_a_referral(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    doctor_g = _as(client_as, "paediatrician-referral")
    sr = doctor_g.get("/fhir/ServiceRequest/ref-b-g").json()
    # the receiver may work on the referral (a note) and keeps its reach ...
    noted = {**sr, "note": [{"text": "已预约"}]}
    assert doctor_g.put("/fhir/ServiceRequest/ref-b-g", json=noted).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 200
    # ... but cannot stretch its window: the facts it had are kept, no wider
    stretched = {**noted, "occurrencePeriod": {"start": "2020-01-01", "end": "2199-12-31"}}
    stretched.pop("meta", None)
    assert doctor_g.put("/fhir/ServiceRequest/ref-b-g", json=stretched).status_code == 200
    assert (
        system.put(
            "/fhir/ServiceRequest/ref-b-g",
            json={**stretched, "occurrencePeriod": {"start": "2025-01-01", "end": "2025-02-01"}},
        ).status_code
        == 200
    )
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 404
    # a hospital that reaches a child only through a referral cannot refer it on to itself
    # again (a new request by the receiver opens nothing)
    plain = {k: v for k, v in sr.items() if k != "meta"}
    assert system.put("/fhir/ServiceRequest/ref-b-g", json=plain).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 200
    own = doctor_g.post("/fhir/ServiceRequest", json=_referral("kid-b", "hosp-g"))
    assert own.status_code == 201
    revoked = {**plain, "status": "revoked"}
    assert system.put("/fhir/ServiceRequest/ref-b-g", json=revoked).status_code == 200
    assert doctor_g.get("/fhir/Patient/kid-b").status_code == 404
