"""Derived growth-score Observations: values, traceability, idempotency, retraction."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import growth_standards as gs
from healthbridge import terminology as t
from healthbridge.fhir import r4
from healthbridge.fhir.profile_validation import validate_against_profiles
from tests.healthbridge.pipeline.conftest import (
    active_flags,
    child,
    days_ago,
    measurement,
    put,
    search,
)


@pytest.fixture(params=["outbox", "inline"])
def pipeline_mode(request: pytest.FixtureRequest) -> str:
    """The core pipeline tests hold in both modes: the default (outbox, the queue drained
    after each write) and inline (evaluated in the write's transaction)."""
    return str(request.param)


WEIGHT, LENGTH, HEAD = t.LOINC_BODY_WEIGHT, t.LOINC_BODY_LENGTH, t.LOINC_HEAD_CIRCUMFERENCE


def scores(client: TestClient, cid: str) -> dict[str, dict[str, Any]]:
    """Current (not retracted) derived scores of a child by code."""
    out = {}
    for obs in search(client, "Observation", subject=f"Patient/{cid}"):
        coding = obs["code"]["coding"][0]
        if coding["system"] == t.CS_GROWTH_INDICATOR and obs["status"] != "entered-in-error":
            assert coding["code"] not in out, "one score per code and session"
            out[coding["code"]] = obs
    return out


def expected(age_days: int, **values: Any) -> pd.Series:
    """growth_standards' scores with z to 2 decimals, as the derived Observations carry them."""
    frame = pd.DataFrame([{"sex": 1, "age_days": age_days, **values}])
    out = gs.score(frame, corrected_age=True)
    for column in ("zwei", "zlen", "zwfl", "zbmi", "zhc"):
        out[column] = gs.round_z(out[column].to_numpy(dtype=float))
    return out.iloc[0]


@pytest.mark.parametrize(("z", "shown", "flagged"), [(5.004, 5.0, False), (5.006, 5.01, True)])
def test_derived_z_is_the_2_decimal_z_that_is_flagged(
    pclient: TestClient, z: float, shown: float, flagged: bool
) -> None:
    """WHO anthro/anthroplus flag the z rounded to 2 decimals: "5.00" is not implausible."""
    put(pclient, child("c1", days_ago(200)))
    weight = float(gs.value_at_z("wfa", 1, 200, z))
    put(pclient, measurement("w1", "c1", WEIGHT, weight, days_ago(0)))
    got = scores(pclient, "c1")["wfa-z"]
    assert got["valueQuantity"]["value"] == shown
    tags = [x["code"] for x in got["meta"].get("tag", [])]
    assert ("implausible" in tags) is flagged
    flags = active_flags(pclient, "Patient/c1")
    assert ("implausible-measurement" in flags) is flagged


def test_scores_equal_growth_standards_and_are_traceable(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(200)))
    put(pclient, measurement("w1", "c1", WEIGHT, 7.4, days_ago(0), encounter="e1"))
    put(pclient, measurement("l1", "c1", LENGTH, 66.0, days_ago(0), encounter="e1"))
    put(pclient, measurement("h1", "c1", HEAD, 42.5, days_ago(0), encounter="e1"))
    got = scores(pclient, "c1")
    # one Observation per indicator: the z-score, its percentile the one component
    assert set(got) == {f"{i}-z" for i in ("wfa", "lhfa", "wfl", "bfa", "hcfa")}
    ref = expected(200, weight_kg=7.4, lenhei_cm=66.0, measure="l", headc_cm=42.5)
    for code, column in (
        ("wfa", "wei"),
        ("lhfa", "len"),
        ("wfl", "wfl"),
        ("bfa", "bmi"),
        ("hcfa", "hc"),
    ):
        assert math.isclose(got[f"{code}-z"]["valueQuantity"]["value"], ref[f"z{column}"])
        (component,) = got[f"{code}-z"]["component"]
        assert component["code"]["coding"] == [
            {"system": t.CS_GROWTH_INDICATOR, "code": f"{code}-p"}
        ]
        assert component["valueQuantity"]["code"] == "%"
        assert math.isclose(component["valueQuantity"]["value"], ref[f"p{column}"])
    assert got["wfa-z"]["derivedFrom"] == [{"reference": "Observation/w1"}]
    assert got["wfl-z"]["derivedFrom"] == [
        {"reference": "Observation/l1"},
        {"reference": "Observation/w1"},
    ]
    assert got["hcfa-z"]["method"]["coding"][0]["code"] == "who-2006"
    for obs in got.values():
        errors = [i for i in validate_against_profiles(obs) if i.severity == "error"]
        assert errors == [], errors


def test_every_derived_shape_passes_the_r4_model_and_the_profiles(pclient: TestClient) -> None:
    """The pipeline writes its scores through the store's trusted path (no model validation at
    write time), so the builder is checked here: every kind it makes — paired and unpaired,
    length and height, implausible (tagged, with a note), preterm-corrected, retracted —
    must pass the R4 model and the profiles it claims."""
    put(pclient, child("c1", days_ago(200)))
    put(pclient, measurement("w1", "c1", WEIGHT, 7.4, days_ago(0), encounter="e1"))
    put(pclient, measurement("l1", "c1", LENGTH, 66.0, days_ago(0), encounter="e1"))
    put(pclient, measurement("h1", "c1", HEAD, 42.5, days_ago(0), encounter="e1"))
    put(pclient, child("c2", days_ago(900), gender="female", weeks=32))
    put(pclient, measurement("w2", "c2", WEIGHT, 40.0, days_ago(3)))  # implausible
    put(pclient, measurement("l2", "c2", t.LOINC_BODY_HEIGHT, 88.0, days_ago(3)))
    put(pclient, measurement("w3", "c2", WEIGHT, 12.0, days_ago(1)))
    put(pclient, measurement("w3", "c2", WEIGHT, 12.0, days_ago(1), status="entered-in-error"))
    derived = [
        obs
        for cid in ("c1", "c2")
        for obs in search(pclient, "Observation", subject=f"Patient/{cid}")
        if obs["code"]["coding"][0]["system"] == t.CS_GROWTH_INDICATOR
    ]
    statuses = {obs["status"] for obs in derived}
    tags = {tag["code"] for obs in derived for tag in obs.get("meta", {}).get("tag", [])}
    assert {"final", "entered-in-error"} <= statuses
    assert "implausible" in tags
    for obs in derived:
        r4.validate(obs)  # the door, though the pipeline writes on the trusted path
        errors = [i for i in validate_against_profiles(obs) if i.severity == "error"]
        assert errors == [], (obs["id"], errors)


def test_weight_and_length_on_different_days_are_not_paired(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(300)))
    put(pclient, measurement("w1", "c1", WEIGHT, 8.5, days_ago(1)))
    put(pclient, measurement("l1", "c1", LENGTH, 70.0, days_ago(0)))
    got = scores(pclient, "c1")
    assert {"wfa-z", "lhfa-z"} <= set(got)
    assert "wfl-z" not in got
    assert "bfa-z" not in got


def test_resending_changes_nothing(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(200)))
    weight = measurement("w1", "c1", WEIGHT, 5.0, days_ago(0))
    put(pclient, weight)
    before = {c: (o["id"], o["meta"]["versionId"]) for c, o in scores(pclient, "c1").items()}
    flags_before = search(pclient, "Flag", subject="Patient/c1")
    put(pclient, weight)
    put(pclient, weight)
    after = {c: (o["id"], o["meta"]["versionId"]) for c, o in scores(pclient, "c1").items()}
    assert after == before
    assert len(search(pclient, "Flag", subject="Patient/c1")) == len(flags_before)


def test_entered_in_error_retracts_and_correction_recomputes(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(200)))
    put(pclient, measurement("w1", "c1", WEIGHT, 7.4, days_ago(0), encounter="e1"))
    put(pclient, measurement("l1", "c1", LENGTH, 66.0, days_ago(0), encounter="e1"))
    first = scores(pclient, "c1")
    # correcting the weight recomputes the same resources (new version, new value)
    put(pclient, measurement("w1", "c1", WEIGHT, 8.0, days_ago(0), encounter="e1"))
    corrected = scores(pclient, "c1")
    assert corrected["wfa-z"]["id"] == first["wfa-z"]["id"]
    assert corrected["wfa-z"]["meta"]["versionId"] == "2"
    ref = expected(200, weight_kg=8.0, lenhei_cm=66.0, measure="l")
    assert math.isclose(corrected["wfa-z"]["valueQuantity"]["value"], ref["zwei"])
    assert corrected["lhfa-z"]["meta"]["versionId"] == "1"  # untouched by the weight
    # entered-in-error: what was derived from the weight is retracted, length stays
    put(
        pclient,
        measurement(
            "w1", "c1", WEIGHT, 8.0, days_ago(0), encounter="e1", status="entered-in-error"
        ),
    )
    left = scores(pclient, "c1")
    assert set(left) == {"lhfa-z"}
    retracted = pclient.get(f"/fhir/Observation/{first['wfa-z']['id']}").json()
    assert retracted["status"] == "entered-in-error"
    # deleting the length retracts the rest
    assert pclient.delete("/fhir/Observation/l1").status_code == 204
    assert scores(pclient, "c1") == {}


def test_implausible_value_is_stored_flagged_and_asks_for_remeasure(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(200)))
    put(pclient, measurement("w1", "c1", WEIGHT, 30.0, days_ago(0)))
    got = scores(pclient, "c1")
    assert got["wfa-z"]["valueQuantity"]["value"] > 5
    assert {"system": f"{t.CANONICAL_BASE}/CodeSystem/pipeline-tag", "code": "implausible"} in got[
        "wfa-z"
    ]["meta"]["tag"]
    flags = active_flags(pclient, "Patient/c1")
    assert "implausible-measurement" in flags
    assert not {"obesity", "overweight", "underweight"} & set(flags)


def test_preterm_child_is_scored_at_corrected_age(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(120), weeks=32.0))
    put(pclient, measurement("w1", "c1", WEIGHT, 4.6, days_ago(0)))
    got = scores(pclient, "c1")
    ref = expected(120, weight_kg=4.6, gestational_age_weeks=32.0)
    assert ref["cage_days"] == 120 - 56
    assert math.isclose(got["wfa-z"]["valueQuantity"]["value"], ref["zwei"])
    term = expected(120, weight_kg=4.6)
    assert not math.isclose(ref["zwei"], term["zwei"])
    assert "corrected age 64 days" in got["wfa-z"]["note"][0]["text"]
    # changing the gestational age on the Patient recomputes
    put(pclient, child("c1", days_ago(120)))
    assert math.isclose(scores(pclient, "c1")["wfa-z"]["valueQuantity"]["value"], term["zwei"])


def test_weight_for_length_and_height_name_both_measurements(pclient: TestClient) -> None:
    """Issue 14: a weight-for-length/height score is derived from the weight AND the
    length/height — paired by encounter whatever the reference form (versioned here), or by
    day without one, in any accepted unit."""
    put(pclient, child("c5", days_ago(200)))
    weight = measurement("w5", "c5", WEIGHT, 7400, days_ago(0), unit="g", encounter="e5")
    weight["encounter"] = {"reference": "Encounter/e5/_history/1"}
    put(pclient, weight)
    put(pclient, measurement("l5", "c5", LENGTH, 660, days_ago(0), unit="mm", encounter="e5"))
    got = scores(pclient, "c5")
    assert got["wfl-z"]["derivedFrom"] == [
        {"reference": "Observation/l5"},
        {"reference": "Observation/w5"},
    ]
    ref = expected(200, weight_kg=7.4, lenhei_cm=66.0, measure="l")
    assert math.isclose(got["wfl-z"]["valueQuantity"]["value"], ref["zwfl"])
    put(pclient, child("c6", days_ago(900)))
    put(pclient, measurement("w6", "c6", WEIGHT, 12.5, days_ago(1)))
    put(pclient, measurement("h6", "c6", t.LOINC_BODY_HEIGHT, 88.0, days_ago(1)))
    got = scores(pclient, "c6")
    assert got["wfh-z"]["component"][0]["code"]["coding"][0]["code"] == "wfh-p"
    for code in ("wfh-z", "bfa-z"):
        assert got[code]["derivedFrom"] == [
            {"reference": "Observation/h6"},
            {"reference": "Observation/w6"},
        ], code
    assert "wfl-z" not in got
    ref = expected(899, weight_kg=12.5, lenhei_cm=88.0, measure="h")
    assert math.isclose(got["wfh-z"]["valueQuantity"]["value"], ref["zwfl"])
