"""CRUD, versioning, history and HTTP status codes through the real app (both backends)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests import factories as f

H = f.FHIR_JSON


def _create(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=H)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_create_read_vread_headers(client: TestClient) -> None:
    r = client.post("/fhir/Patient", json=f.child(child_id="C1", id="ignored"), headers=H)
    assert r.status_code == 201
    body = r.json()
    assert body["id"] != "ignored"  # server-assigned id
    assert body["meta"]["versionId"] == "1"
    assert r.headers["etag"] == 'W/"1"'
    assert r.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert "GMT" in r.headers["last-modified"]

    read = client.get(f"/fhir/Patient/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == 'W/"1"'
    assert client.get(f"/fhir/Patient/{body['id']}/_history/1").json() == body


def test_update_versions_and_if_match(client: TestClient) -> None:
    p = _create(client, f.child())
    pid = p["id"]
    p["gender"] = "female"
    r = client.put(f"/fhir/Patient/{pid}", json=p, headers={**H, "If-Match": 'W/"1"'})
    assert r.status_code == 200
    assert r.json()["meta"]["versionId"] == "2"
    # stale If-Match → 412 and nothing written
    p["gender"] = "other"
    stale = client.put(f"/fhir/Patient/{pid}", json=p, headers={**H, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Patient/{pid}").json()["gender"] == "female"
    v1 = client.get(f"/fhir/Patient/{pid}/_history/1").json()
    assert v1["gender"] == "male"
    hist = client.get(f"/fhir/Patient/{pid}/_history").json()
    assert hist["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in hist["entry"]] == ["2", "1"]


def test_create_on_update_and_id_mismatch(client: TestClient) -> None:
    r = client.put("/fhir/Patient/child-1", json=f.child(id="child-1"), headers=H)
    assert r.status_code == 201
    assert r.json()["id"] == "child-1"
    mismatch = client.put("/fhir/Patient/child-1", json=f.child(id="other"), headers=H)
    assert mismatch.status_code == 400
    bad_id = client.put("/fhir/Patient/bad_id!", json=f.child(id="bad_id!"), headers=H)
    assert bad_id.status_code == 400


def test_delete_gone_and_history(client: TestClient) -> None:
    pid = _create(client, f.child())["id"]
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 204
    gone = client.get(f"/fhir/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 204  # idempotent
    assert client.delete("/fhir/Patient/never-was").status_code == 404
    hist = client.get(f"/fhir/Patient/{pid}/_history").json()
    assert [e["request"]["method"] for e in hist["entry"]] == ["DELETE", "POST"]
    assert client.get("/fhir/Patient?_id=" + pid).json()["total"] == 0
    # re-create after delete continues the version sequence
    again = client.put(f"/fhir/Patient/{pid}", json=f.child(id=pid), headers=H)
    assert again.status_code == 201
    assert again.json()["meta"]["versionId"] == "3"


def test_type_and_system_history(client: TestClient) -> None:
    a = _create(client, f.child())
    _create(client, f.organization())
    th = client.get("/fhir/Patient/_history").json()
    assert th["total"] == 1
    assert th["entry"][0]["resource"]["id"] == a["id"]
    sh = client.get("/fhir/_history?_count=1").json()
    assert sh["total"] == 2
    assert len(sh["entry"]) == 1


def test_conditional_create(client: TestClient) -> None:
    headers = {**H, "If-None-Exist": f"identifier={f.CHILD_ID}|C42"}
    first = client.post("/fhir/Patient", json=f.child(child_id="C42"), headers=headers)
    assert first.status_code == 201
    second = client.post("/fhir/Patient", json=f.child(child_id="C42"), headers=headers)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_conditional_update(client: TestClient) -> None:
    url = f"/fhir/Patient?identifier={f.CHILD_ID}|C7"
    created = client.put(url, json=f.child(child_id="C7"), headers=H)
    assert created.status_code == 201
    updated = client.put(url, json=f.child(child_id="C7", gender="female"), headers=H)
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"
    _create(client, f.child(child_id="dup"))
    _create(client, f.child(child_id="dup"))
    multi = client.put(f"/fhir/Patient?identifier={f.CHILD_ID}|dup", json=f.child(), headers=H)
    assert multi.status_code == 412


def test_prefer_return_minimal(client: TestClient) -> None:
    r = client.post("/fhir/Patient", json=f.child(), headers={**H, "Prefer": "return=minimal"})
    assert r.status_code == 201
    assert r.content == b""
    assert r.headers["location"]


def test_error_statuses(client: TestClient) -> None:
    def oo(r: Any, status: int) -> None:
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/fhir+json")
        assert r.json()["resourceType"] == "OperationOutcome"

    oo(client.get("/fhir/Patient/nope"), 404)
    oo(client.get("/fhir/Unknown/1"), 404)
    oo(client.get("/not-fhir"), 404)
    oo(client.patch("/fhir/Patient/1", json={}), 405)
    oo(client.post("/fhir/Patient/abc", json=f.child(), headers=H), 405)
    oo(
        client.post(
            "/fhir/Patient", content=b"<Patient/>", headers={"Content-Type": "application/xml"}
        ),
        415,
    )
    oo(client.post("/fhir/Patient", content=b"{not json", headers=H), 400)
    oo(client.post("/fhir/Patient", json=f.observation("Patient/1"), headers=H), 400)
    invalid = client.post(
        "/fhir/Patient", json={"resourceType": "Patient", "gender": 5, "birthDate": "x"}, headers=H
    )
    oo(invalid, 422)
    assert len(invalid.json()["issue"]) >= 2  # every issue listed
    oo(client.get("/fhir/Patient?birthdate=notadate"), 400)


def test_request_size_limit(app_factory: Any) -> None:
    with TestClient(app_factory(max_request_bytes=200)) as small:
        r = small.post(
            "/fhir/Patient",
            json=f.child(
                text={
                    "status": "generated",
                    "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * 500 + "</div>",
                }
            ),
            headers=H,
        )
        assert r.status_code == 413
        assert r.json()["resourceType"] == "OperationOutcome"


def test_metadata_lists_what_works(client: TestClient) -> None:
    cs = client.get("/fhir/metadata").json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    types = {r["type"]: r for r in rest["resource"]}
    assert "Patient" in types
    assert "Observation" in types
    obs_params = {p["name"] for p in types["Observation"]["searchParam"]}
    assert {
        "subject",
        "code",
        "date",
        "patient",
        "value-quantity",
        "_id",
        "_lastUpdated",
    } <= obs_params
    # composite parameters are not supported, hence not advertised
    assert "code-value-quantity" not in obs_params
    assert "near" not in {p["name"] for p in types["Location"]["searchParam"]}
    assert types["Patient"]["operation"][0]["name"] == "everything"
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "history-system"}


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/fhir/metadata" in client.get("/openapi.json").json()["paths"]
