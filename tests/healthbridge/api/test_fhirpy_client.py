"""A real FHIR client from PyPI (fhirpy) against uvicorn on a loopback port (both backends)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound, ResourceNotFound

from healthbridge.config import Settings
from healthbridge.server.app import create_app
from tests import factories as f


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    """Serve the app with uvicorn on 127.0.0.1 in a background thread."""
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/fhir"
    server.should_exit = True
    thread.join(timeout=10)


def test_fhirpy_round_trip(server_url: str) -> None:
    token = f.auth_headers("system", user="fhirpy")["Authorization"]
    client = SyncFHIRClient(server_url, authorization=token)
    patient = client.resource(
        "Patient", **{k: v for k, v in f.child(child_id="FP1").items() if k != "resourceType"}
    )
    patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"

    fetched = client.reference("Patient", patient.id).to_resource()
    assert fetched["name"][0]["family"] == "王"

    found = client.resources("Patient").search(identifier=f"{f.CHILD_ID}|FP1").fetch()
    assert [p.id for p in found] == [patient.id]

    # update with If-Match: the current version succeeds, a stale one gets 412
    serialized = fetched.serialize()  # type: ignore[no-untyped-call]
    data = {k: v for k, v in serialized.items() if k != "resourceType"}
    data["gender"] = "female"
    v1 = SyncFHIRClient(server_url, authorization=token, extra_headers={"If-Match": 'W/"1"'})
    v1.resource("Patient", **data).save()
    assert client.reference("Patient", patient.id).to_resource()["meta"]["versionId"] == "2"
    with pytest.raises(MultipleResourcesFound):  # fhirpy's exception for HTTP 412
        v1.resource("Patient", **data).save()

    # transaction
    p = f.post(f.child(child_id="FP2"))
    bundle: dict[str, Any] = f.transaction(p, f.post(f.observation(p["fullUrl"], value=7.7)))
    response = client.execute("", method="post", data=bundle)
    assert response["type"] == "transaction-response"
    new_pid = response["entry"][0]["response"]["location"].split("/")[1]
    obs = client.resources("Observation").search(subject=f"Patient/{new_pid}").fetch_all()
    assert [o["valueQuantity"]["value"] for o in obs] == [7.7]

    # $everything
    everything = client.execute(f"Patient/{new_pid}/$everything", method="get")
    assert sorted(e["resource"]["resourceType"] for e in everything["entry"]) == [
        "Observation",
        "Patient",
    ]

    client.reference("Patient", patient.id).to_resource().delete()  # type: ignore[no-untyped-call]
    with pytest.raises(ResourceNotFound):
        client.reference("Patient", patient.id).to_resource()
