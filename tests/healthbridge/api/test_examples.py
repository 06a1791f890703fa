"""Every official R4 example of every supported type round-trips through the server:
PUT (create-on-update, keeping the example's id) and POST, then read, unchanged apart from
``meta.versionId``/``meta.lastUpdated`` (and the server-assigned id for POST)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.fhir import r4
from healthbridge.fhir.r4 import SUPPORTED_TYPES
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.fhir.test_r4 import KNOWN_INVALID, MAX_EXAMPLE_BYTES

H = {"Content-Type": "application/fhir+json"}


def _strip_meta(resource: dict[str, Any], *, drop_id: bool) -> dict[str, Any]:
    out = dict(resource)
    meta = {
        k: v
        for k, v in (out.pop("meta", None) or {}).items()
        if k not in ("versionId", "lastUpdated")
    }
    if meta:
        out["meta"] = meta
    if drop_id:
        out.pop("id", None)
    return out


def _server_round_trip(client: TestClient, example: dict[str, Any], name: str) -> None:
    """AuditEvents are written by the server only (docs/access.md), and Bundle,
    CapabilityStatement and OperationOutcome are not writable through the API
    (docs/fhir_server.md): the API refuses them; stored by the server they still round-trip
    unchanged."""
    rtype = example["resourceType"]
    url = f"/fhir/{rtype}/{example['id']}"
    assert client.put(url, json=example, headers=H).status_code == 405, name
    assert client.post(f"/fhir/{rtype}", json=example, headers=H).status_code == 405, name
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        txn.update(rtype, example["id"], example)
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        stored = txn.read(rtype, example["id"]).resource
    assert _strip_meta(stored, drop_id=False) == _strip_meta(example, drop_id=False), name


@pytest.mark.parametrize("rtype", SUPPORTED_TYPES)
def test_examples_round_trip(rtype: str, client: TestClient, examples_dir: Path) -> None:
    paths = [
        p
        for p in sorted(examples_dir.glob(f"{rtype}-*.json"))
        if p.stat().st_size <= MAX_EXAMPLE_BYTES and p.name not in KNOWN_INVALID
    ]
    checked = 0
    for path in paths:
        example = json.loads(path.read_text())
        if example.get("resourceType") != rtype or "id" not in example:
            continue
        if rtype == "AuditEvent" or not r4.is_writable(rtype):
            _server_round_trip(client, example, path.name)
            checked += 1
            continue
        put = client.put(f"/fhir/{rtype}/{example['id']}", json=example, headers=H)
        assert put.status_code in (200, 201), (path.name, put.text[:500])
        read = client.get(f"/fhir/{rtype}/{example['id']}").json()
        assert _strip_meta(read, drop_id=False) == _strip_meta(example, drop_id=False), path.name
        post = client.post(f"/fhir/{rtype}", json=example, headers=H)
        assert post.status_code == 201, (path.name, post.text[:500])
        again = client.get(f"/fhir/{rtype}/{post.json()['id']}").json()
        assert _strip_meta(again, drop_id=True) == _strip_meta(example, drop_id=True), path.name
        checked += 1
    assert checked > 0
