"""The ``Host`` header never ends up in links (issue 20 item 7): the configured base URL is
used, or the request's own only when its host is allowed (``settings.allowed_hosts``)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests import factories as f


def test_forged_host_is_refused_not_copied(app_factory: Any) -> None:
    with TestClient(app_factory()) as client:
        client.post("/fhir/Patient", json=f.child())
        ok = client.get("/fhir/Patient")
        assert ok.status_code == 200
        assert ok.json()["link"][0]["url"].startswith("http://testserver/fhir/")
        forged = client.get("/fhir/Patient", headers={"Host": "evil.example"})
        assert forged.status_code == 400, forged.text[:300]
        assert forged.json()["resourceType"] == "OperationOutcome"
        assert "HEALTHBRIDGE_BASE_URL" in forged.text


def test_configured_base_url_wins_over_host(app_factory: Any) -> None:
    app = app_factory(base_url="https://fhir.example.org/fhir")
    with TestClient(app) as client:
        client.post("/fhir/Patient", json=f.child())
        got = client.get("/fhir/Patient", headers={"Host": "evil.example"})
        assert got.status_code == 200
        assert "evil.example" not in got.text
        assert got.json()["link"][0]["url"].startswith("https://fhir.example.org/fhir/")


def test_any_host_when_allowed_explicitly(app_factory: Any) -> None:
    with TestClient(app_factory(allowed_hosts=["*"])) as client:
        got = client.get("/fhir/Patient", headers={"Host": "proxy.internal"})
        assert got.status_code == 200
        assert got.json()["link"][0]["url"].startswith("http://proxy.internal/fhir/")
