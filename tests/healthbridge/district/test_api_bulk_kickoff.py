"""Bulk Data kick-off by POST with a Parameters body, ``_typeFilter``, and the
CapabilityStatement's ``$export`` advertisement (both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from tests.healthbridge.district.test_api_bulk import ASYNC, _download, _run, _seed

BULK = "http://hl7.org/fhir/uv/bulkdata"
WEIGHT = "http://loinc.org|29463-7"


def _parameters(*pairs: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": n, kind: v} for n, kind, v in pairs],
    }


def _run_post(client: TestClient, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    if body is None:
        kick = client.post(path, content=b"", headers=ASYNC)
    else:
        kick = client.post(path, json=body, headers=ASYNC)
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["content-location"]
    for _ in range(400):
        status = client.get(status_url)
        if status.status_code != 202:
            break
        time.sleep(0.05)
    assert status.status_code == 200, status.text
    manifest: dict[str, Any] = status.json()
    return manifest


def test_post_kick_off_at_every_level(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    ids = _seed(client)
    body = _parameters(
        ("_type", "valueString", "Patient"),
        ("_type", "valueString", "Observation"),
        ("_outputFormat", "valueString", "application/fhir+ndjson"),
        ("_since", "valueInstant", "2000-01-01T00:00:00Z"),
    )
    system = _download(client, _run_post(client, "/fhir/$export", body))
    assert {t: len(v) for t, v in system.items()} == {"Patient": 3, "Observation": 6}
    patients = _download(client, _run_post(client, "/fhir/Patient/$export", body))
    assert len(patients["Patient"]) == 3
    group = _download(client, _run_post(client, "/fhir/Group/centre-1/$export", body))
    assert [p["id"] for p in group["Patient"]] == [ids["a"]]
    assert len(group["Observation"]) == 2
    # an empty body is an export without parameters
    everything = _download(client, _run_post(client, "/fhir/$export", None))
    assert {"Patient", "Observation", "Organization", "Encounter"} <= set(everything)


def test_post_kick_off_errors(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    _seed(client)
    bad_bodies: list[Any] = [
        {"resourceType": "Patient"},
        _parameters(("patient", "valueString", "Patient/x")),  # not supported: refused
        _parameters(("_since", "valueInstant", "a"), ("_since", "valueInstant", "b")),
        _parameters(("_type", "valueString", "Nope")),
        {"resourceType": "Parameters", "parameter": [{"name": "_type"}]},
    ]
    for body in bad_bodies:
        got = client.post("/fhir/$export", json=body, headers=ASYNC)
        assert got.status_code == 400, (body, got.text)
        assert got.json()["resourceType"] == "OperationOutcome"
    assert client.post("/fhir/$export", content=b"{oops", headers=ASYNC).status_code == 400
    no_prefer = client.post("/fhir/$export", json=_parameters())
    assert no_prefer.status_code == 400


def test_type_filter(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    ids = _seed(client)
    heavy = f"Observation?code={WEIGHT}&value-quantity=gt9.2"
    files = _download(
        client, _run(client, f"/fhir/$export?_type=Observation,Patient&_typeFilter={quote(heavy)}")
    )
    assert sorted(o["valueQuantity"]["value"] for o in files["Observation"]) == [9.5, 9.5, 9.5]
    assert len(files["Patient"]) == 3  # no filter for Patient: all of them
    # two filters of one type are ORed, without duplicates
    subject = quote(f"Observation?subject=Patient/{ids['a']}")
    either = f"_typeFilter={quote(heavy)}&_typeFilter={subject}"
    both = _download(client, _run(client, f"/fhir/$export?_type=Observation&{either}"))
    assert sorted(o["valueQuantity"]["value"] for o in both["Observation"]) == [9.0, 9.5, 9.5, 9.5]
    # at group level the filter narrows the centre's children's resources
    group = _download(
        client,
        _run(
            client,
            f"/fhir/Group/centre-1/$export?_type=Observation&_typeFilter={quote(heavy)}",
        ),
    )
    assert [o["subject"]["reference"] for o in group["Observation"]] == [f"Patient/{ids['a']}"]
    # by POST, too
    body = _parameters(
        ("_type", "valueString", "Observation"), ("_typeFilter", "valueString", heavy)
    )
    posted = _download(client, _run_post(client, "/fhir/$export", body))
    assert len(posted["Observation"]) == 3


def test_type_filter_errors(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    for value in (
        "Observation",  # no search
        "Encounter?status=finished",  # not among _type
        "Observation?no-such-param=1",
        "Observation?_count=5",
        "Observation?date=yesterday",
    ):
        got = client.get(f"/fhir/$export?_type=Observation&_typeFilter={value}", headers=ASYNC)
        assert got.status_code == 400, (value, got.text)


def test_capability_statement_advertises_export(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    cs = client.get("/fhir/metadata").json()
    assert f"{BULK}/CapabilityStatement/bulk-data" in cs["instantiates"]
    rest = cs["rest"][0]
    assert {"name": "export", "definition": f"{BULK}/OperationDefinition/export"} in rest[
        "operation"
    ]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert {
        "name": "export",
        "definition": f"{BULK}/OperationDefinition/patient-export",
    } in by_type["Patient"]["operation"]
    assert by_type["Group"]["operation"] == [
        {"name": "export", "definition": f"{BULK}/OperationDefinition/group-export"}
    ]
    assert "interaction" not in by_type["Group"]  # Group is not a stored type
