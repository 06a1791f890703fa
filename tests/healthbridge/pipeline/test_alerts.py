"""Alerts (Flag + review Task) from realistic histories, through the FHIR API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import growth_standards as gs
from healthbridge import terminology as t
from healthbridge.errors import ForbiddenError
from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.store.hooks import ReadEvent, StoreHooks
from healthbridge.store.repository import Transaction
from tests.conftest import AppFactory
from tests.healthbridge.pipeline.conftest import (
    FHIR_JSON,
    RULESET,
    active_flags,
    child,
    days_ago,
    health_manager_role,
    immunization,
    measurement,
    organization,
    put,
    review_task,
    search,
    task_inputs,
)
from tests.settle import settling


@pytest.fixture(params=["outbox", "inline"])
def pipeline_mode(request: pytest.FixtureRequest) -> str:
    """The core pipeline tests hold in both modes: the default (outbox, the queue drained
    after each write) and inline (evaluated in the write's transaction)."""
    return str(request.param)


def weight_at(age_days: int, z: float) -> float:
    return round(float(gs.value_at_z("wfa", 1, [age_days], z)[0]), 3)


def _errors(resource: dict[str, Any]) -> list[Any]:
    return [i for i in validate_against_profiles(resource) if i.severity == "error"]


def test_child_who_falters_then_recovers(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(365)))
    # NICE NG75: birth weight unknown (9th-91st band) -> a fall across 2 centile spaces (1.33)
    for n, (age, z) in enumerate(((180, 0.0), (240, -1.4))):
        put(
            pclient,
            measurement(f"w{n}", "c1", t.LOINC_BODY_WEIGHT, weight_at(age, z), days_ago(365 - age)),
        )
    flags = active_flags(pclient, "Patient/c1")
    assert "growth-faltering" in flags
    faltering = flags["growth-faltering"]
    assert _errors(faltering) == []
    task = review_task(pclient, faltering)
    assert _errors(task) == []
    assert task["status"] == "requested"
    assert task_inputs(task)["rule"].startswith("velocity@")
    assert task_inputs(task)["ruleset"] == "cn-child-health@2026.1/CN"
    assert {
        "url": "http://hl7.org/fhir/StructureDefinition/flag-detail",
        "valueReference": {"reference": "Observation/w1"},
    } in faltering["extension"]
    # a new finding of the same condition updates the alert instead of adding another
    put(pclient, measurement("w1", "c1", t.LOINC_BODY_WEIGHT, weight_at(240, -1.5), days_ago(125)))
    assert active_flags(pclient, "Patient/c1")["growth-faltering"]["id"] == faltering["id"]
    # recovery to within 2 spaces of the earlier 0.0: the alert clears and the Task records it
    put(pclient, measurement("w2", "c1", t.LOINC_BODY_WEIGHT, weight_at(300, -0.5), days_ago(65)))
    assert "growth-faltering" not in active_flags(pclient, "Patient/c1")
    cleared = pclient.get(f"/fhir/Flag/{faltering['id']}").json()
    assert cleared["status"] == "inactive"
    assert "end" in cleared["period"]
    task = review_task(pclient, faltering)
    assert task["status"] == "completed"
    assert task["output"][-1]["type"]["text"] == "condition-cleared"
    assert _errors(task) == []


def test_missed_dtap_dose_then_catch_up(pclient: TestClient) -> None:
    birth = days_ago(100)
    put(pclient, child("c1", birth))
    given = (("HepB", 0, 1), ("BCG", 0, 1), ("HepB", 31, 2), ("IPV", 62, 1), ("IPV", 93, 2))
    for n, (vaccine, day, dose) in enumerate(given):
        put(pclient, immunization(f"i{n}", "c1", vaccine, days_ago(100 - day), dose))
    flags = active_flags(pclient, "Patient/c1")
    overdue = flags["vaccine-overdue"]
    assert "DTP-1" in task_inputs(review_task(pclient, overdue))["items"].split()
    put(pclient, immunization("i9", "c1", "DTaP", days_ago(0), 1))
    assert "vaccine-overdue" not in active_flags(pclient, "Patient/c1")
    assert pclient.get(f"/fhir/Flag/{overdue['id']}").json()["status"] == "inactive"


def test_class_fever_cluster_raises_one_centre_alert(pclient: TestClient) -> None:
    put(pclient, organization("cc1"))
    put(pclient, health_manager_role("hm1", "cc1"))
    for n in range(3):
        put(
            pclient, child(f"k{n}", days_ago(800), centre="cc1", klass="room1", since=days_ago(100))
        )
    for n in range(2):
        put(pclient, measurement(f"t{n}", f"k{n}", t.LOINC_BODY_TEMPERATURE, 38.5, days_ago(0)))
    assert active_flags(pclient, "Organization/cc1") == {}
    put(pclient, measurement("t2", "k2", t.LOINC_BODY_TEMPERATURE, 38.6, days_ago(0)))
    centre = active_flags(pclient, "Organization/cc1")
    assert set(centre) == {"outbreak-cluster"}
    task = review_task(pclient, centre["outbreak-cluster"])
    assert task["owner"] == {"reference": "PractitionerRole/hm1"}
    for n in range(3):
        assert "fever" in active_flags(pclient, f"Patient/k{n}")
    # one more febrile child updates the same centre alert
    put(pclient, child("k3", days_ago(800), centre="cc1", klass="room1", since=days_ago(100)))
    put(pclient, measurement("t3", "k3", t.LOINC_BODY_TEMPERATURE, 38.2, days_ago(0)))
    again = active_flags(pclient, "Organization/cc1")
    assert again["outbreak-cluster"]["id"] == centre["outbreak-cluster"]["id"]
    assert len(search(pclient, "Flag", subject="Organization/cc1")) == 1


def test_positive_warning_sign_screen(pclient: TestClient) -> None:
    put(pclient, child("c1", days_ago(380)))
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr1",
        "questionnaire": f"{t.CANONICAL_BASE}/Questionnaire/warning-signs",
        "status": "completed",
        "subject": {"reference": "Patient/c1"},
        "authored": f"{days_ago(0).isoformat()}T09:30:00+08:00",
        "item": [
            {
                "linkId": "group-12m",
                "item": [
                    {"linkId": f"12m-{i}", "answer": [{"valueBoolean": i == 2}]}
                    for i in range(1, 5)
                ],
            },
            {"linkId": "regression", "answer": [{"valueBoolean": False}]},
        ],
    }
    put(pclient, response)
    flags = active_flags(pclient, "Patient/c1")
    assert flags["warning-sign-positive"]["extension"][0]["valueCode"] == "high"
    evidence = [
        e["valueReference"]["reference"] for e in flags["warning-sign-positive"]["extension"][1:]
    ]
    assert evidence == ["QuestionnaireResponse/qr1"]


def _setup_anaemic_child(client: TestClient) -> dict[str, Any]:
    put(client, organization("cc1"))
    put(client, organization("hosp1", "mch-hospital"))
    put(client, health_manager_role("hm1", "cc1"))
    put(client, {"resourceType": "Practitioner", "id": "doc1", "name": [{"text": "李医生"}]})
    patient = child("c1", days_ago(365), centre="cc1", klass="room1", since=days_ago(30))
    patient["generalPractitioner"] = [{"reference": "Practitioner/doc1"}]
    put(client, patient)
    put(client, measurement("hb1", "c1", t.LOINC_HAEMOGLOBIN, 55.0, days_ago(0)))
    return active_flags(client, "Patient/c1")


def test_severe_anaemia_is_referred_to_the_hospital(pclient: TestClient) -> None:
    flags = _setup_anaemic_child(pclient)
    anaemia = flags["anaemia"]
    task = review_task(pclient, anaemia)
    assert task["owner"] == {"reference": "PractitionerRole/hm1"}
    assert task["restriction"]["recipient"] == [{"reference": "Practitioner/doc1"}]
    assert "refer" in task_inputs(task)["items"].split()
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "performer", "valueString": "Organization/hosp1"},
            {"name": "reason", "valueString": "重度贫血，请儿科评估"},
        ],
    }
    r = pclient.post(f"/fhir/Task/{task['id']}/$refer", json=params, headers=FHIR_JSON)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["status"] == "in-progress"
    referral_ref = updated["output"][-1]["valueReference"]["reference"]
    referrals = search(pclient, "ServiceRequest", performer="Organization/hosp1", status="active")
    assert [f"ServiceRequest/{s['id']}" for s in referrals] == [referral_ref]
    referral = referrals[0]
    assert referral["subject"] == {"reference": "Patient/c1"}
    assert referral["requester"] == {"reference": "PractitionerRole/hm1"}
    assert {"reference": f"Flag/{anaemia['id']}"} in referral["supportingInfo"]
    assert _errors(referral) == []


def test_worklist_sorted_and_review_actions(pclient: TestClient) -> None:
    _setup_anaemic_child(pclient)
    r = pclient.get("/fhir/Organization/cc1/$worklist")
    assert r.status_code == 200, r.text
    bundle = r.json()
    tasks = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    flags = {
        e["resource"]["id"]: e["resource"]
        for e in bundle["entry"]
        if e["search"]["mode"] == "include"
    }
    assert bundle["total"] == len(tasks) >= 2
    rank = {"high": 3, "moderate": 2, "low": 1}
    keys = [
        (
            -rank[flags[t_["focus"]["reference"].split("/")[1]]["extension"][0]["valueCode"]],
            t_["restriction"]["period"]["end"],
        )
        for t_ in tasks
    ]
    assert keys == sorted(keys)
    first = tasks[0]
    assert (
        flags[first["focus"]["reference"].split("/")[1]]["code"]["coding"][0]["code"] == "anaemia"
    )
    url = f"/fhir/Task/{first['id']}"
    r = pclient.post(f"{url}/$acknowledge", json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert r.status_code == 200
    assert r.json()["status"] == "accepted"
    note = {
        "resourceType": "Parameters",
        "parameter": [{"name": "text", "valueString": "已通知家长"}],
    }
    r = pclient.post(f"{url}/$note", json=note, headers=FHIR_JSON)
    assert r.json()["note"][-1]["text"] == "已通知家长"
    bad = pclient.post(f"{url}/$resolve", json={"resourceType": "Parameters"}, headers=FHIR_JSON)
    assert bad.status_code == 400
    outcome = {
        "resourceType": "Parameters",
        "parameter": [{"name": "outcome", "valueString": "铁剂治疗，1个月后复查"}],
    }
    r = pclient.post(f"{url}/$resolve", json=outcome, headers=FHIR_JSON)
    resolved = r.json()
    assert resolved["status"] == "completed"
    assert resolved["output"][-1]["valueString"].startswith("铁剂")
    assert _errors(resolved) == []
    remaining = pclient.get("/fhir/Organization/cc1/$worklist").json()
    assert first["id"] not in {e["resource"]["id"] for e in remaining["entry"]}
    # a plain update of a Task works too
    second = dict(tasks[1])
    second["status"] = "on-hold"
    assert put(pclient, second)["status"] == "on-hold"


def test_pipeline_reads_are_not_subject_to_read_hooks(app_factory: AppFactory) -> None:
    """An access filter refusing the caller's reads of staff must not break the rules."""

    def refuse_staff(_txn: Transaction, event: ReadEvent) -> None:
        if any(r.resource_type == "PractitionerRole" for r in event.resources):
            raise ForbiddenError("staff are not visible to this caller")

    hooks = StoreHooks()
    hooks.add_read_hook(refuse_staff)
    app = app_factory(hooks=hooks, clinical_ruleset=RULESET)
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        settling(client)
        put(client, organization("cc1"))
        put(client, health_manager_role("hm1", "cc1"))
        put(client, child("c1", days_ago(400), centre="cc1", klass="room1", since=days_ago(30)))
        put(client, measurement("t1", "c1", t.LOINC_BODY_TEMPERATURE, 38.4, days_ago(0)))
        assert client.get("/fhir/PractitionerRole/hm1").status_code == 403
        fever = active_flags(client, "Patient/c1")["fever"]
        assert review_task(client, fever)["owner"] == {"reference": "PractitionerRole/hm1"}


def test_server_made_flags_and_tasks_pass_the_validators(pclient: TestClient) -> None:
    """The pipeline writes its Flags and Tasks through the trusted path: they must pass the
    base-R4 validator and the profiles they claim."""
    from healthbridge.fhir.base_validation import validate_base

    _setup_anaemic_child(pclient)
    made = search(pclient, "Flag") + search(pclient, "Task")
    assert {r["resourceType"] for r in made} == {"Flag", "Task"}
    for resource in made:
        assert validate_base(resource) == [], resource["id"]
        assert _errors(resource) == [], resource["id"]
