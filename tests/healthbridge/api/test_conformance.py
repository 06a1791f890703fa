"""FHIR conformance details users hit (issue 14 item 6): supportedProfile, $everything paging,
types clients cannot write."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_profiles.loader import profile_urls, structure_definition
from tests import factories as f


def test_capability_statement_names_our_profiles_and_the_read_only_types(
    client: TestClient,
) -> None:
    statement = client.get("/fhir/metadata").json()
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    advertised = {p.split("|")[0] for r in by_type.values() for p in r.get("supportedProfile", ())}
    assert advertised == set(profile_urls())  # every profile, each on its own type
    for url in profile_urls():
        sd = structure_definition(url)
        assert any(p.startswith(url + "|") for p in by_type[sd["type"]]["supportedProfile"])
    for rtype in ("Bundle", "CapabilityStatement", "OperationOutcome"):
        codes = {i["code"] for i in by_type[rtype]["interaction"]}
        assert not codes & {"create", "update"}, rtype
        assert by_type[rtype]["updateCreate"] is False
        assert by_type[rtype]["conditionalCreate"] is False
    assert {"create", "update"} <= {i["code"] for i in by_type["Observation"]["interaction"]}
    assert {"code": "transaction"} in statement["rest"][0]["interaction"]


def test_writes_to_read_only_types_are_refused(client: TestClient) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid"}],
    }
    for body in (
        outcome,
        {"resourceType": "Bundle", "type": "collection"},
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-01-01",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
        },
    ):
        rtype = body["resourceType"]
        r = client.post(f"/fhir/{rtype}", json=body)
        assert r.status_code == 405, r.text
        assert r.json()["resourceType"] == "OperationOutcome"
        assert "cannot be created or updated" in r.text
        r = client.put(f"/fhir/{rtype}/x1", json={**body, "id": "x1"})
        assert r.status_code == 405, r.text
        assert client.get(f"/fhir/{rtype}/x1").status_code == 404  # nothing written
    # inside a batch only that entry fails; a transaction writes nothing
    kid = client.post("/fhir/Patient", json=f.child()).json()["id"]
    weight = f.observation(f"Patient/{kid}")
    r = client.post("/fhir", json=f.transaction(f.post(outcome), f.post(weight), kind="batch"))
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["405", "201"]
    r = client.post("/fhir", json=f.transaction(f.post(weight), f.post(outcome)))
    assert r.status_code == 405
    assert client.get(f"/fhir/Observation?subject=Patient/{kid}").json()["total"] == 1
    # the base still takes batch and transaction Bundles
    assert client.post("/fhir", json=f.transaction(f.post(weight))).status_code == 200


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["resourceType"] + "/" + e["resource"]["id"] for e in bundle["entry"]]


def test_everything_pages_with_count_and_next_links(client: TestClient) -> None:
    kid = client.post("/fhir/Patient", json=f.child()).json()["id"]
    for k in range(7):
        r = client.post("/fhir/Observation", json=f.observation(f"Patient/{kid}", value=9 + k))
        assert r.status_code == 201
    whole = client.get(f"/fhir/Patient/{kid}/$everything").json()
    assert whole["total"] == len(whole["entry"]) == 8
    first = client.get(f"/fhir/Patient/{kid}/$everything?_count=3").json()
    assert first["type"] == "searchset"
    assert first["total"] == 8
    assert len(first["entry"]) == 3
    assert _ids(first)[0] == f"Patient/{kid}"
    seen = _ids(first)
    page = first
    while True:
        links = {link["relation"]: link["url"] for link in page["link"]}
        if "next" not in links:
            break
        assert "_count=3" in links["next"]
        path = links["next"].split("://", 1)[1].split("/", 1)[1]
        page = client.get("/" + path).json()
        assert page["total"] == 8
        seen += _ids(page)
    assert len(seen) == 8
    assert sorted(seen) == sorted(_ids(whole))  # every resource once, no overlap
    assert {link["relation"] for link in page["link"]} == {"self", "previous"}
    assert client.get(f"/fhir/Patient/{kid}/$everything?_count=x").status_code == 400
    assert client.get(f"/fhir/Patient/{kid}/$everything?_count=0").json()["entry"] == []
