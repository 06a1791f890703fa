"""The base-R4 door on every write path (issue 14): create, update, conditional create and
update, transaction (all or nothing, derived z-scores included), batch (only the bad entry
fails) and ``$validate`` (the same verdict). Runs on both databases."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import factories as f
from tests.conftest import AppFactory
from tests.settle import settling

H = {"Content-Type": "application/fhir+json"}
CHILD = "Patient/c1"


def weight(value: float = 9.5, date: str = "2025-03-01", **overrides: Any) -> dict[str, Any]:
    """A body weight of c1 with ``overrides`` replacing whole elements."""
    return {**f.observation(CHILD, value=value, date=date), **overrides}


#: The issue's examples: (resource, FHIRPath location of the expected issue)
BAD: list[tuple[dict[str, Any], str]] = [
    (weight(status="not-a-status"), "Observation.status"),
    (weight(code={}), "Observation.code"),
    (f.child(gender="robot"), "Patient.gender"),
    (f.child(name=[{}]), "Patient.name[0]"),
    (weight(extension=[{"url": "http://example.org/x"}]), "Observation.extension[0]"),
    (weight(category=[]), "Observation.category"),
]


def _expressions(outcome: dict[str, Any]) -> list[str]:
    assert outcome["resourceType"] == "OperationOutcome"
    return [e for i in outcome["issue"] if i["severity"] == "error" for e in i["expression"]]


def _total(client: TestClient, rtype: str) -> int:
    r = client.get(f"/fhir/{rtype}?_summary=count")
    assert r.status_code == 200
    total: int = r.json()["total"]
    return total


def _put_child(client: TestClient) -> None:
    r = client.put(
        "/fhir/Patient/c1", json={**f.child(birth_date="2024-03-01"), "id": "c1"}, headers=H
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(("resource", "where"), BAD)
def test_create_update_and_conditional_writes_refuse_invalid_r4(
    client: TestClient, resource: dict[str, Any], where: str
) -> None:
    rtype = resource["resourceType"]
    r = client.post(f"/fhir/{rtype}", json=resource, headers=H)
    assert r.status_code == 422, r.text
    assert where in _expressions(r.json())
    r = client.put(f"/fhir/{rtype}/x1", json={**resource, "id": "x1"}, headers=H)
    assert r.status_code == 422
    assert where in _expressions(r.json())
    conditional = {**H, "If-None-Exist": "identifier=urn:x|1"}
    r = client.post(f"/fhir/{rtype}", json=resource, headers=conditional)
    assert r.status_code == 422
    assert where in _expressions(r.json())
    r = client.put(f"/fhir/{rtype}?identifier=urn:x|1", json=resource, headers=H)
    assert r.status_code == 422
    assert where in _expressions(r.json())
    assert _total(client, rtype) == 0


@pytest.mark.parametrize(("resource", "where"), BAD)
def test_validate_operation_gives_the_same_verdict(
    client: TestClient, resource: dict[str, Any], where: str
) -> None:
    rtype = resource["resourceType"]
    r = client.post(f"/fhir/{rtype}/$validate", json=resource, headers=H)
    assert r.status_code == 200
    assert where in _expressions(r.json())
    fixed = client.post(f"/fhir/{rtype}/$validate", json=f.child(), headers=H)
    if rtype == "Patient":
        assert _expressions(fixed.json()) == []


def test_every_issue_is_listed_with_its_location(client: TestClient) -> None:
    bad = weight(status="bogus", category=[], valueQuantity={"value": "9.5"})
    r = client.post("/fhir/Observation", json=bad, headers=H)
    assert r.status_code == 422
    assert set(_expressions(r.json())) >= {
        "Observation.status",
        "Observation.category",
        "Observation.valueQuantity.value",
    }


def test_unparseable_json_is_400(client: TestClient) -> None:
    r = client.post("/fhir/Patient", content=b'{"resourceType": "Patient",', headers=H)
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


@pytest.fixture
def pclient(app_factory: AppFactory) -> Iterator[TestClient]:
    """An app with the clinical pipeline (derived z-scores) on."""
    with TestClient(app_factory(clinical_ruleset="cn-child-health@2026.1/CN")) as c:
        yield settling(c)  # each write waits for its derived scores (default: the outbox)


def test_transaction_with_an_invalid_entry_writes_nothing_not_even_derived_scores(
    pclient: TestClient,
) -> None:
    client = pclient
    born = dt.date.today() - dt.timedelta(days=300)
    child = f.put({**f.child(birth_date=born.isoformat()), "id": "c1"}, CHILD)
    first = f.post(weight(value=8.5, date=dt.date.today().isoformat()))
    invalid = f.post(weight(status="not-a-status"))
    r = client.post("/fhir", json=f.transaction(child, first, invalid), headers=H)
    assert r.status_code == 422, r.text
    assert "Observation.status" in _expressions(r.json())
    assert _total(client, "Patient") == 0
    assert _total(client, "Observation") == 0  # neither the weight nor its z-scores
    # the same transaction without the invalid entry commits the weight and its z-scores
    r = client.post("/fhir", json=f.transaction(child, first), headers=H)
    assert r.status_code == 200, r.text
    assert _total(client, "Observation") > 1


def test_batch_fails_only_the_invalid_entry(client: TestClient) -> None:
    _put_child(client)
    good = f.post(weight())
    invalid = f.post(weight(code={}))
    r = client.post(
        "/fhir", json=f.transaction(good, invalid, copy.deepcopy(good), kind="batch"), headers=H
    )
    assert r.status_code == 200, r.text
    statuses = [e["response"]["status"] for e in r.json()["entry"]]
    assert statuses[0].startswith("201")
    assert statuses[2].startswith("201")
    assert statuses[1].startswith("422")
    outcome = r.json()["entry"][1]["response"]["outcome"]
    assert "Observation.code" in _expressions(outcome)
