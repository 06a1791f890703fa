"""Batch and transaction Bundles through the real app (both backends)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests import factories as f

H = f.FHIR_JSON


def _post(client: TestClient, bundle: dict[str, Any], **headers: str) -> Any:
    return client.post("/fhir", json=bundle, headers={**H, **headers})


def test_transaction_rewrites_urn_uuid(client: TestClient) -> None:
    p = f.post(f.child(child_id="T1"))
    o1 = f.post(f.observation(p["fullUrl"]))
    o2 = f.post(f.length(p["fullUrl"]))
    r = _post(client, f.transaction(o1, p, o2))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3
    patient_loc = body["entry"][1]["response"]["location"]
    pid = patient_loc.split("/")[1]
    subjects = {e["resource"]["subject"]["reference"] for e in (body["entry"][0], body["entry"][2])}
    assert subjects == {f"Patient/{pid}"}
    assert client.get(f"/fhir/Observation?subject=Patient/{pid}").json()["total"] == 2


def test_transaction_is_all_or_nothing(client: TestClient) -> None:
    good = f.post(f.child(child_id="OK"))
    bad = f.post(
        {"resourceType": "Observation", "code": {"text": "x"}, "valueQuantity": {"value": "abc"}}
    )
    r = _post(client, f.transaction(good, bad))
    assert r.status_code == 422
    assert "entry 1" in r.json()["issue"][0]["diagnostics"]
    assert client.get("/fhir/Patient").json()["total"] == 0
    # a failing update (stale If-Match) also rolls back the creates before it
    created = client.post("/fhir/Patient", json=f.child(), headers=H).json()
    stale = f.put({**created, "gender": "female"}, f"Patient/{created['id']}", if_match='W/"9"')
    r = _post(client, f.transaction(f.post(f.child(child_id="X")), stale))
    assert r.status_code == 412
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_transaction_conditional_create(client: TestClient) -> None:
    existing = client.post("/fhir/Patient", json=f.child(child_id="C9"), headers=H).json()
    p = f.post(f.child(child_id="C9"), if_none_exist=f"identifier={f.CHILD_ID}|C9")
    o = f.post(f.observation(p["fullUrl"]))
    body = _post(client, f.transaction(p, o)).json()
    assert body["entry"][0]["response"]["status"] == "200 OK"
    assert body["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{existing['id']}"
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_transaction_duplicate_conditional_creates_resolve_to_one(
    client: TestClient, monkeypatch: Any
) -> None:
    from healthbridge.store.repository import Transaction

    searches: list[str] = []
    original = Transaction._conditional_match

    def counting(self: Transaction, resource_type: str, criteria: str) -> Any:
        searches.append(criteria)
        return original(self, resource_type, criteria)

    monkeypatch.setattr(Transaction, "_conditional_match", counting)
    criteria = f"identifier={f.CHILD_ID}|D1"
    first = f.post(f.child(child_id="D1"), if_none_exist=criteria)
    # the same criteria with the parameters in another form of the query string
    second = f.post(f.child(child_id="D1", given="小红"), if_none_exist=f"?{criteria}")
    o1 = f.post(f.observation(first["fullUrl"]))
    o2 = f.post(f.length(second["fullUrl"]))
    body = _post(client, f.transaction(o1, first, second, o2)).json()
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "201 Created", "200 OK", "201 Created"], body
    loc1, loc2 = (body["entry"][i]["response"]["location"] for i in (1, 2))
    assert loc1 == loc2
    patient = loc1.split("/_history")[0]
    assert {body["entry"][i]["resource"]["subject"]["reference"] for i in (0, 3)} == {patient}
    assert client.get("/fhir/Patient").json()["total"] == 1
    assert client.get(f"/fhir/Observation?subject={patient}").json()["total"] == 2
    assert searches == [criteria]  # one search for the two entries, none at create time

    # the next Bundle with those criteria finds the stored Patient for both entries
    searches.clear()
    body = _post(
        client,
        f.transaction(
            f.post(f.child(child_id="D1"), if_none_exist=criteria),
            f.post(f.child(child_id="D1"), if_none_exist=criteria),
        ),
    ).json()
    assert [e["response"]["status"] for e in body["entry"]] == ["200 OK", "200 OK"]
    assert {e["response"]["location"] for e in body["entry"]} == {loc1}
    assert client.get("/fhir/Patient").json()["total"] == 1
    assert len(searches) == 1


def test_batch_duplicate_conditional_creates_resolve_to_one(client: TestClient) -> None:
    criteria = f"identifier={f.CHILD_ID}|D2"
    entries = [f.post(f.child(child_id="D2"), if_none_exist=criteria) for _ in range(2)]
    body = _post(client, f.transaction(*entries, kind="batch")).json()
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "200 OK"]
    assert body["entry"][0]["response"]["location"] == body["entry"][1]["response"]["location"]
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_transaction_put_delete_get(client: TestClient) -> None:
    a = client.post("/fhir/Patient", json=f.child(), headers=H).json()
    b = client.post("/fhir/Patient", json=f.child(), headers=H).json()
    bundle = f.transaction(
        f.put({**a, "gender": "female"}, f"Patient/{a['id']}", if_match='W/"1"'),
        {"request": {"method": "DELETE", "url": f"Patient/{b['id']}"}},
        {"request": {"method": "GET", "url": f"Patient/{a['id']}"}},
        {"request": {"method": "GET", "url": "Patient?gender=female"}},
    )
    body = _post(client, bundle).json()
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["200 OK", "204 No Content", "200 OK", "200 OK"]
    assert body["entry"][2]["resource"]["gender"] == "female"  # GET runs after PUT
    assert body["entry"][3]["resource"]["total"] == 1
    assert client.get(f"/fhir/Patient/{b['id']}").status_code == 410


def test_batch_entries_are_independent(client: TestClient) -> None:
    bundle = f.transaction(
        f.post(f.child(child_id="B1")),
        f.post({"resourceType": "Patient", "birthDate": "not a date"}),
        {"request": {"method": "GET", "url": "Patient/missing"}},
        kind="batch",
    )
    body = _post(client, bundle).json()
    assert body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1] == "422"
    assert statuses[2] == "404"
    assert body["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_bundle_limits_and_shape(app_factory: Any) -> None:
    with TestClient(app_factory(max_bundle_entries=2)) as small:
        entries = [f.post(f.child()) for _ in range(3)]
        r = small.post("/fhir", json=f.transaction(*entries), headers=H)
        assert r.status_code == 400
        assert "maximum is 2" in r.json()["issue"][0]["diagnostics"]
        collection = {"resourceType": "Bundle", "type": "collection", "entry": []}
        assert small.post("/fhir", json=collection, headers=H).status_code == 400
        assert small.post("/fhir", json=f.child(), headers=H).status_code == 400


def test_prefer_minimal_transaction(client: TestClient) -> None:
    body = _post(client, f.transaction(f.post(f.child())), Prefer="return=minimal").json()
    assert "resource" not in body["entry"][0]
    assert body["entry"][0]["response"]["location"].startswith("Patient/")
