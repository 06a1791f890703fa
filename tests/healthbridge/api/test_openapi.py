"""The OpenAPI description documents the generic FHIR routes (healthbridge/api/openapi.py)."""

from __future__ import annotations

from healthbridge.config import Settings
from healthbridge.fhir import r4
from healthbridge.server.app import create_app


def test_openapi_describes_types_bodies_headers_and_errors() -> None:
    schema = create_app(Settings(database_url="sqlite://")).openapi()
    paths = schema["paths"]
    read = paths["/fhir/{rtype}/{rid}"]["get"]
    rtype = next(p for p in read["parameters"] if p["name"] == "rtype")
    assert rtype["schema"]["enum"] == sorted(r4.SUPPORTED_TYPES)
    assert read["responses"]["default"]["content"]["application/fhir+json"]

    update = paths["/fhir/{rtype}/{rid}"]["put"]
    assert "If-Match" in {p["name"] for p in update["parameters"]}
    assert update["requestBody"]["content"]["application/fhir+json"]["schema"]["required"] == [
        "resourceType"
    ]
    create = paths["/fhir/{name}"]["post"]
    assert "If-None-Exist" in {p["name"] for p in create["parameters"]}
    bundle = paths["/fhir/"]["post"]["requestBody"]["content"]["application/fhir+json"]
    assert bundle["schema"]["properties"]["type"]["enum"] == ["batch", "transaction"]
    search = {p["name"] for p in paths["/fhir/{name}"]["get"]["parameters"]}
    assert {"_count", "_sort", "_include", "identifier"} <= search
    history = {p["name"] for p in paths["/fhir/{rtype}/_history"]["get"]["parameters"]}
    assert {"_count", "_since", "_offset"} <= history
