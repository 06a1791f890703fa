"""The vaccination forecast published as ImmunizationRecommendation, searchable by patient."""

from __future__ import annotations

from fastapi.testclient import TestClient

from healthbridge import terminology as t
from tests.healthbridge.pipeline.conftest import child, days_ago, immunization, put, search

STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"


def _doses(rec: dict) -> dict[tuple[str, int], str]:  # type: ignore[type-arg]
    return {
        (r["vaccineCode"][0]["coding"][0]["code"], r["doseNumberPositiveInt"]): r["forecastStatus"][
            "coding"
        ][0]["code"]
        for r in rec["recommendation"]
        if r["vaccineCode"][0].get("coding")
    }


def test_forecast_is_published_and_follows_the_record(pclient: TestClient) -> None:
    put(pclient, child("fc1", days_ago(200)))
    found = search(pclient, "ImmunizationRecommendation", patient="Patient/fc1")
    assert len(found) == 1
    rec = found[0]
    assert rec["id"] == "forecast-fc1"
    doses = _doses(rec)
    assert doses[("HepB", 1)] == "overdue"  # a 200-day-old without the birth dose
    assert all(s in ("due", "overdue") for s in doses.values())
    first = next(r for r in rec["recommendation"] if r["doseNumberPositiveInt"] == 1)
    codes = {c["code"]["coding"][0]["code"] for c in first["dateCriterion"]}
    assert codes <= {"30981-5", "30980-7", "59778-1"}
    assert "30980-7" in codes
    assert first["vaccineCode"][0]["coding"][0]["system"] == t.CS_NIP_VACCINE
    put(pclient, immunization("fc1-hepb1", "fc1", "HepB", days_ago(199), 1))
    after = search(pclient, "ImmunizationRecommendation", patient="Patient/fc1")[0]
    assert ("HepB", 1) not in _doses(after)  # given: no longer forecast
    hepb2 = next(
        r for r in after["recommendation"]
        if r["vaccineCode"][0]["coding"][0]["code"] == "HepB" and r["doseNumberPositiveInt"] == 2
    )  # fmt: skip
    assert hepb2["supportingImmunization"] == [{"reference": "Immunization/fc1-hepb1"}]
    status = hepb2["forecastStatus"]["coding"][0]
    assert status["system"] == STATUS
    assert status["code"] in ("due", "overdue")
