"""Issue 14's examples through the real door: an enrolment naming its centre by absolute URL to
this server, or by a versioned reference, is read as that centre by access reach, the district
reports and the batch reader alike; a foreign server's URL by none; an unknown growth unit is
refused with 422."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.district.gather import gather
from healthbridge.pipeline.batch import read_district
from healthbridge.pipeline.scoring import score_columns
from tests import factories as f
from tests.healthbridge.access import world
from tests.settle import settling

BASE = "https://hb.example.org/fhir"
CENTRE_REFS = {
    "kid-abs": f"{BASE}/Organization/centre-a",
    "kid-ver": "Organization/centre-a/_history/2",
    "kid-abs-ver": f"{BASE}/Organization/centre-a/_history/1",
    "kid-far": "https://other.example/fhir/Organization/centre-a",
}


def _enrolled(kid: str, ref: str) -> dict[str, Any]:
    return {
        **f.child(child_id=kid),
        "id": kid,
        "extension": [
            {
                "url": world.ENROL,
                "extension": [
                    {"url": "centre", "valueReference": {"reference": ref}},
                    {"url": "period", "valuePeriod": {"start": "2026-01-05"}},
                ],
            }
        ],
    }


@pytest.fixture
def started(app_factory: Any) -> Any:
    app = app_factory(
        authenticated=True, base_url=BASE, clinical_ruleset="cn-child-health@2026.1/CN"
    )
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        yield settling(client)  # each write waits for its derived scores


def test_enrolment_is_read_alike_by_reach_reports_and_batch(started: Any) -> None:
    system = f.RoleClient(started, f.auth_headers("system"))
    world.load(system)
    for kid, ref in CENTRE_REFS.items():
        r = system.put(f"/fhir/Patient/{kid}", json=_enrolled(kid, ref))
        assert r.status_code == 201, r.text
    # the door stores references to this server in relative form, a foreign one as sent
    stored = system.get("/fhir/Patient/kid-abs").json()
    assert stored["extension"][0]["extension"][0]["valueReference"] == {
        "reference": "Organization/centre-a"
    }
    far = system.get("/fhir/Patient/kid-far").json()
    assert far["extension"][0]["extension"][0]["valueReference"]["reference"].startswith(
        "https://other.example/"
    )
    # access reach: the centre's staff see the children enrolled by any local form
    staff = f.RoleClient(
        started,
        f.auth_headers(
            "centre-staff",
            user="user-cs",
            fhir_user="PractitionerRole/cs-a-role",
            org="Organization/centre-a",
        ),
    )
    for kid in ("kid-abs", "kid-ver", "kid-abs-ver"):
        assert staff.get(f"/fhir/Patient/{kid}").status_code == 200, kid
    assert staff.get("/fhir/Patient/kid-far").status_code == 404
    # the district reports: enrolled at centre-a (and the foreign one is not)
    repo = started.app.state.repository
    children = gather(repo).children.set_index("child_id")
    for kid in ("kid-abs", "kid-ver", "kid-abs-ver"):
        assert children.loc[kid, "centre"] == "centre-a", kid
    assert children.loc["kid-far", "centre"] != "centre-a"
    # the batch reader, from the rule-input table and from the documents
    for source in ("table", "documents"):
        read = read_district(repo, source=source)  # type: ignore[arg-type]
        for kid in ("kid-abs", "kid-ver", "kid-abs-ver"):
            assert read.patients[kid].centre_id == "centre-a", (source, kid)
        assert read.patients["kid-far"].centre_id is None


def test_growth_units_at_the_door(started: Any) -> None:
    system = f.RoleClient(started, f.auth_headers("system"))
    kid = system.post("/fhir/Patient", json=f.child()).json()["id"]
    bad = f.observation(f"Patient/{kid}", value=21, unit="lb")
    r = system.post("/fhir/Observation", json=bad)
    assert r.status_code == 422, r.text
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Observation.valueQuantity.code"]
    assert "lb" in outcome["issue"][0]["diagnostics"]
    assert system.get(f"/fhir/Observation?subject=Patient/{kid}").json()["total"] == 0
    foreign = f.observation(f"Patient/{kid}", value=9.5)
    foreign["valueQuantity"]["system"] = "http://snomed.info/sct"
    assert system.post("/fhir/Observation", json=foreign).status_code == 422
    # a batch refuses only that entry; the pounds are read as kilograms by every reader
    pounds = f.observation(f"Patient/{kid}", value=20, unit="[lb_av]", date="2025-03-01")
    r = system.post("/fhir", json=f.transaction(f.post(bad), f.post(pounds), kind="batch"))
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["422", "201"]
    # the write-time pipeline scored 20 lb as 9.07 kg; the batch reader reads the same
    found = system.get(
        f"/fhir/Observation?subject=Patient/{kid}&code={t.CS_GROWTH_INDICATOR}|wfa-z"
    ).json()
    (entry,) = found["entry"]
    z = entry["resource"]["valueQuantity"]["value"]
    kg = score_columns(
        {
            "sex": [1],
            "age_days": [(dt.date(2025, 3, 1) - dt.date(2024, 3, 1)).days],
            "weight_kg": [20 * 0.45359237],
            "lenhei_cm": [None],
            "measure": [""],
            "headc_cm": [None],
            "gestational_age_weeks": [None],
        }
    )
    assert z == pytest.approx(float(kg["zwei"].iloc[0]))
    repo = started.app.state.repository
    for source in ("table", "documents"):
        growth = read_district(repo, source=source).data.growth  # type: ignore[arg-type]
        assert growth.loc[growth["child_id"] == kid, "zwei"].tolist() == [pytest.approx(z)]
