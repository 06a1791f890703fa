"""Profile validation on write and the $validate operation, through the real app."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

EXAMPLES = Path(__file__).resolve().parents[3] / "fhir_profiles" / "examples"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
CHILD = "https://healthbridge.github.io/fhir/StructureDefinition/hb-child"


def _example(kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / kind / f"{name}.json").read_text("utf-8"))
    return data


def test_write_claiming_a_profile_is_validated(client: TestClient) -> None:
    child = _example("valid", "hb-child")
    ok = client.put("/fhir/Patient/child-1", json=child, headers=FHIR_JSON)
    assert ok.status_code == 201, ok.text
    bad = copy.deepcopy(child)
    del bad["birthDate"]
    bad["id"] = "child-2"
    refused = client.put("/fhir/Patient/child-2", json=bad, headers=FHIR_JSON)
    assert refused.status_code == 422
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(i.get("expression") == ["Patient.birthDate"] for i in outcome["issue"])
    assert client.get("/fhir/Patient/child-2").status_code == 404  # nothing half-written


def test_a_resource_without_our_profile_is_not_held_to_it(client: TestClient) -> None:
    child = _example("valid", "hb-child")
    del child["meta"], child["birthDate"]
    assert client.put("/fhir/Patient/child-1", json=child, headers=FHIR_JSON).status_code == 201


def test_transaction_with_one_invalid_entry_writes_nothing(client: TestClient) -> None:
    good = _example("valid", "hb-body-weight")
    bad = copy.deepcopy(good)
    bad["id"] = "w2"
    bad["valueQuantity"]["code"] = "[lb_av]"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": good, "request": {"method": "PUT", "url": f"Observation/{good['id']}"}},
            {"resource": bad, "request": {"method": "PUT", "url": "Observation/w2"}},
        ],
    }
    response = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert response.status_code == 422
    assert client.get(f"/fhir/Observation/{good['id']}").status_code == 404


@pytest.mark.parametrize("name", sorted(p.stem for p in (EXAMPLES / "valid").glob("*.json")))
def test_validate_operation_passes_every_valid_example(client: TestClient, name: str) -> None:
    resource = _example("valid", name)
    response = client.post(
        f"/fhir/{resource['resourceType']}/$validate", json=resource, headers=FHIR_JSON
    )
    assert response.status_code == 200
    issues = response.json()["issue"]
    assert [i["severity"] for i in issues] == ["information"], issues


def test_validate_operation_reports_every_issue_of_an_invalid_example(client: TestClient) -> None:
    resource = _example("invalid", "hb-child--enrollment-without-centre")
    response = client.post("/fhir/Patient/$validate", json=resource, headers=FHIR_JSON)
    assert response.status_code == 200
    errors = [i for i in response.json()["issue"] if i["severity"] == "error"]
    assert errors
    assert errors[0]["expression"] == ["Patient.extension[2].extension"]


def test_validate_with_an_explicit_profile_in_parameters(client: TestClient) -> None:
    child = _example("valid", "hb-child")
    del child["meta"], child["birthDate"]
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": child},
            {"name": "profile", "valueUri": CHILD},
        ],
    }
    response = client.post("/fhir/Patient/$validate", json=params, headers=FHIR_JSON)
    assert response.status_code == 200
    assert any(i["severity"] == "error" for i in response.json()["issue"])


def test_instance_validate_checks_the_stored_resource(client: TestClient) -> None:
    child = _example("valid", "hb-child")
    client.put("/fhir/Patient/child-1", json=child, headers=FHIR_JSON)
    response = client.get("/fhir/Patient/child-1/$validate")
    assert response.status_code == 200
    assert response.json()["issue"][0]["diagnostics"] == "All OK"
    assert client.get("/fhir/Patient/nobody/$validate").status_code == 404


def test_validate_rejects_a_wrong_type(client: TestClient) -> None:
    response = client.post(
        "/fhir/Observation/$validate", json=_example("valid", "hb-child"), headers=FHIR_JSON
    )
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_capability_statement_lists_validate(client: TestClient) -> None:
    names = {
        op["name"]
        for rest in client.get("/fhir/metadata").json()["rest"]
        for resource in rest.get("resource", [])
        for op in resource.get("operation", [])
    } | {
        op["name"]
        for rest in client.get("/fhir/metadata").json()["rest"]
        for op in rest.get("operation", [])
    }
    assert "validate" in names
