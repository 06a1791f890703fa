"""The extension points: write validators, write interceptors, read hooks, $operations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.api.default_operations import default_registry
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.errors import ForbiddenError, Issue
from healthbridge.operations import OperationCall
from healthbridge.store.hooks import ReadEvent, StoreHooks, WriteContext, WriteEvent
from healthbridge.store.repository import Transaction
from tests import factories as f

H = f.FHIR_JSON


def _no_unnamed_patients(resource: dict[str, Any], _ctx: WriteContext) -> Iterable[Issue]:
    if resource["resourceType"] == "Patient" and not resource.get("name"):
        yield Issue("error", "required", "Patient.name is required here", ("Patient.name",))
    if resource["resourceType"] == "Patient" and not resource.get("birthDate"):
        yield Issue(
            "error", "required", "Patient.birthDate is required here", ("Patient.birthDate",)
        )


def test_write_validator_lists_every_issue(app_factory: Any) -> None:
    hooks = StoreHooks()
    hooks.add_validator(_no_unnamed_patients)
    with TestClient(app_factory(hooks=hooks)) as client:
        r = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=H)
        assert r.status_code == 422
        assert [i["expression"] for i in r.json()["issue"]] == [
            ["Patient.name"],
            ["Patient.birthDate"],
        ]
        # also inside a transaction, rolling back the whole Bundle
        bundle = f.transaction(f.post(f.organization()), f.post({"resourceType": "Patient"}))
        assert client.post("/fhir", json=bundle, headers=H).status_code == 422
        assert client.get("/fhir/Organization").json()["total"] == 0
        assert client.post("/fhir/Patient", json=f.child(), headers=H).status_code == 201


def _derive_flag(txn: Transaction, event: WriteEvent) -> None:
    """Test hook: a weight below 3 kg creates a Flag for the child (like the clinical pipeline)."""
    res = event.stored.resource
    if event.action == "delete" or res is None or res["resourceType"] != "Observation":
        return
    if res["valueQuantity"]["value"] < 3:
        subject = res["subject"]["reference"]
        # the hook can search inside the same transaction
        existing = txn.search_params("Flag", [("subject", subject)]).matches
        if not existing:
            txn.create(f.flag(subject, kind="underweight"))
    if res["valueQuantity"]["value"] < 0:
        raise ValueError("impossible weight")


def test_interceptor_writes_in_same_transaction(app_factory: Any) -> None:
    hooks = StoreHooks()
    hooks.add_interceptor(_derive_flag)
    with TestClient(app_factory(hooks=hooks), raise_server_exceptions=False) as client:
        pid = client.post("/fhir/Patient", json=f.child(), headers=H).json()["id"]
        client.post("/fhir/Observation", json=f.observation(f"Patient/{pid}", value=2.5), headers=H)
        client.post("/fhir/Observation", json=f.observation(f"Patient/{pid}", value=2.4), headers=H)
        flags = client.get(f"/fhir/Flag?subject=Patient/{pid}").json()
        assert flags["total"] == 1
        # a raising hook rolls back the whole transaction Bundle, derived data included
        p = f.post(f.child(child_id="R"))
        bundle = f.transaction(
            p,
            f.post(f.observation(p["fullUrl"], value=2.0)),
            f.post(f.observation(p["fullUrl"], value=-1.0)),
        )
        r = client.post("/fhir", json=bundle, headers=H)
        assert r.status_code == 500
        assert r.json()["resourceType"] == "OperationOutcome"
        assert client.get(f"/fhir/Patient?identifier={f.CHILD_ID}|R").json()["total"] == 0
        assert client.get("/fhir/Flag").json()["total"] == 1


def test_read_hook_sees_reads_and_can_refuse(app_factory: Any) -> None:
    seen: list[tuple[str, int]] = []

    def audit(_txn: Transaction, event: ReadEvent) -> None:
        seen.append((event.interaction, len(event.resources)))
        if any(r.resource and r.resource.get("gender") == "unknown" for r in event.resources):
            raise ForbiddenError("not yours")

    hooks = StoreHooks()
    hooks.add_read_hook(audit)
    with TestClient(app_factory(hooks=hooks)) as client:
        pid = client.post("/fhir/Patient", json=f.child(), headers=H).json()["id"]
        client.get(f"/fhir/Patient/{pid}")
        client.get("/fhir/Patient")
        assert seen == [("read", 1), ("search", 1)]
        hidden = client.post("/fhir/Patient", json=f.child(gender="unknown"), headers=H).json()[
            "id"
        ]
        assert client.get(f"/fhir/Patient/{hidden}").status_code == 403


def test_custom_operation_levels(app_factory: Any) -> None:
    registry = default_registry(DEFAULT_RULESET_KEY)

    def echo(call: OperationCall) -> dict[str, Any]:
        return {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "level", "valueString": call.level},
                {"name": "x", "valueString": str(call.get("x"))},
            ],
        }

    registry.register("echo", echo, levels={"system", "type", "instance"})
    with TestClient(app_factory(operations=registry)) as client:
        pid = client.post("/fhir/Patient", json=f.child(), headers=H).json()["id"]
        for url, level in [
            ("/fhir/$echo", "system"),
            ("/fhir/Patient/$echo", "type"),
            (f"/fhir/Patient/{pid}/$echo", "instance"),
        ]:
            out = client.get(url + "?x=1").json()
            assert out["parameter"] == [
                {"name": "level", "valueString": level},
                {"name": "x", "valueString": "1"},
            ]
        body = {"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "2"}]}
        assert (
            client.post("/fhir/$echo", json=body, headers=H).json()["parameter"][1]["valueString"]
            == "2"
        )
        assert client.get("/fhir/$nope").status_code == 404
        assert client.get("/fhir/Patient/missing/$echo").status_code == 404
        names = [o["name"] for o in client.get("/fhir/metadata").json()["rest"][0]["operation"]]
        # export: Bulk Data, always advertised; expunge: the admins' system-level $expunge
        assert names == ["echo", "expunge", "export"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("echo", echo, levels={"system"})


def test_everything(client: TestClient) -> None:
    org = client.post("/fhir/Organization", json=f.organization(), headers=H).json()["id"]
    pid = client.post(
        "/fhir/Patient",
        json=f.child(managingOrganization={"reference": f"Organization/{org}"}),
        headers=H,
    ).json()["id"]
    other = client.post("/fhir/Patient", json=f.child(), headers=H).json()["id"]
    enc = client.post("/fhir/Encounter", json=f.encounter(f"Patient/{pid}"), headers=H).json()["id"]
    client.post(
        "/fhir/Observation",
        json=f.observation(f"Patient/{pid}", encounter={"reference": f"Encounter/{enc}"}),
        headers=H,
    )
    client.post("/fhir/Immunization", json=f.immunization(f"Patient/{pid}"), headers=H)
    client.post("/fhir/RelatedPerson", json=f.guardian(f"Patient/{pid}"), headers=H)
    client.post("/fhir/Observation", json=f.observation(f"Patient/{other}"), headers=H)
    out = client.get(f"/fhir/Patient/{pid}/$everything").json()
    types = sorted(e["resource"]["resourceType"] for e in out["entry"])
    assert types == [
        "Encounter",
        "Immunization",
        "Observation",
        "Organization",
        "Patient",
        "RelatedPerson",
    ]
    only = client.get(f"/fhir/Patient/{pid}/$everything?_type=Observation").json()
    assert [e["resource"]["resourceType"] for e in only["entry"]] == ["Observation"]
    assert client.get("/fhir/Patient/missing/$everything").status_code == 404
    assert client.get("/fhir/Observation/x/$everything").status_code in (404,)


def test_error_mapping_for_operations(app_factory: Any) -> None:
    """Typed errors keep their status (409 here); unknown exceptions become a 500 outcome."""
    from healthbridge.errors import ConflictError

    registry = default_registry(DEFAULT_RULESET_KEY)

    def conflict(_call: OperationCall) -> dict[str, Any]:
        raise ConflictError("version conflict")

    def broken(_call: OperationCall) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    registry.register("conflict", conflict, levels={"system"})
    registry.register("broken", broken, levels={"system"})
    registry.register("write", conflict, levels={"system"}, affects_state=True)
    with TestClient(app_factory(operations=registry), raise_server_exceptions=False) as client:
        r = client.get("/fhir/$conflict")
        assert r.status_code == 409
        assert r.json()["issue"][0]["code"] == "conflict"
        crash = client.get("/fhir/$broken")
        assert crash.status_code == 500
        assert crash.json()["resourceType"] == "OperationOutcome"
        assert "secret" not in crash.text
        assert client.get("/fhir/$write").status_code == 405
