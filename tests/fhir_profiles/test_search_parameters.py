"""The custom SearchParameter ``enrollment-centre``: published, indexed on write, searchable
through the API, advertised in the CapabilityStatement, and rebuilt by ``db reindex`` for
resources stored before the parameter existed (both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from fhir_profiles import loader
from healthbridge.config import Settings
from healthbridge.fhir.searchparams import supported_params
from healthbridge.store.db import make_engine
from healthbridge.store.reindex import ReindexError, reindex
from healthbridge.store.search import index_table
from tests import factories as f

H = f.FHIR_JSON
URL = f"{loader.CANONICAL_BASE}/SearchParameter/enrollment-centre"
ENROLLMENT = f"{loader.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"


def _enrolled(centre: str, *, start: str = "2026-03-01", end: str | None = None) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "url": ENROLLMENT,
        "extension": [
            {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
            {"url": "period", "valuePeriod": period},
        ],
    }


def _create(client: TestClient, resource: dict[str, Any]) -> str:
    r = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=H)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _ids(client: TestClient, query: str) -> set[str]:
    r = client.get(f"/fhir/Patient?{query}")
    assert r.status_code == 200, r.text
    return {e["resource"]["id"] for e in r.json().get("entry", [])}


def test_published_and_registered() -> None:
    (sp,) = loader.search_parameters()
    assert (sp["url"], sp["code"], sp["base"]) == (URL, "enrollment-centre", ["Patient"])
    param = supported_params("Patient")["enrollment-centre"]
    assert (param.type, param.target) == ("reference", ("Organization",))
    assert "enrollment-centre" not in supported_params("Observation")


def test_search_by_centre(client: TestClient) -> None:
    sun = _create(client, f.organization(name="小太阳托育中心"))
    moon = _create(client, f.organization(name="月亮托育园"))
    a = _create(client, f.child(extension=[_enrolled(sun)]))
    b = _create(client, f.child(extension=[_enrolled(moon)]))
    moved = _create(client, f.child(extension=[_enrolled(sun, end="2026-05-31"), _enrolled(moon)]))
    _create(client, f.child())  # not enrolled anywhere
    assert _ids(client, f"enrollment-centre=Organization/{sun}") == {a, moved}
    assert _ids(client, f"enrollment-centre={moon}") == {b, moved}
    assert _ids(client, f"enrollment-centre=Organization/{sun},Organization/{moon}") == {
        a,
        b,
        moved,
    }
    assert _ids(client, "enrollment-centre:missing=true") - {a, b, moved}
    # chained: children of centres by name
    assert _ids(client, "enrollment-centre.name=月亮") == {b, moved}
    # an update that moves the child re-indexes it
    patient = client.get(f"/fhir/Patient/{a}").json()
    patient["extension"] = [_enrolled(moon)]
    assert client.put(f"/fhir/Patient/{a}", json=patient, headers=H).status_code == 200
    assert _ids(client, f"enrollment-centre=Organization/{sun}") == {moved}


def test_capability_statement_advertises_it(client: TestClient) -> None:
    cs = client.get("/fhir/metadata").json()
    (patient,) = [r for r in cs["rest"][0]["resource"] if r["type"] == "Patient"]
    params = {p["name"]: p for p in patient["searchParam"]}
    assert params["enrollment-centre"] == {
        "name": "enrollment-centre",
        "definition": URL,
        "type": "reference",
    }
    assert "Patient:enrollment-centre" in patient["searchInclude"]
    (org,) = [r for r in cs["rest"][0]["resource"] if r["type"] == "Organization"]
    assert "Patient:enrollment-centre" in org["searchRevInclude"]


def test_reindex_fills_rows_of_resources_stored_before(
    client: TestClient, settings: Settings
) -> None:
    sun = _create(client, f.organization())
    kids = {_create(client, f.child(extension=[_enrolled(sun)])) for _ in range(3)}
    engine = make_engine(settings.resolved_database_url())
    ref = index_table("reference")
    try:
        # as a database written before the parameter existed: no rows for it
        with engine.begin() as conn:
            conn.execute(delete(ref).where(ref.c.param == "enrollment-centre"))
        assert _ids(client, f"enrollment-centre=Organization/{sun}") == set()
        counts = list(reindex(engine, params=["enrollment-centre"], batch_size=2))
        assert [(c.resource_type, c.resources, c.rows) for c in counts] == [("Patient", 3, 3)]
        assert _ids(client, f"enrollment-centre=Organization/{sun}") == kids
        # idempotent, and other parameters' rows are untouched
        list(reindex(engine, params=["enrollment-centre"]))
        assert _ids(client, f"enrollment-centre=Organization/{sun}") == kids
        assert _ids(client, "gender=male") >= kids
    finally:
        engine.dispose()


def test_reindex_rejects_unknown_names(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url())
    try:
        with pytest.raises(ReindexError, match="no-such-param"):
            list(reindex(engine, params=["no-such-param"]))
        with pytest.raises(ReindexError, match="Spaceship"):
            list(reindex(engine, resource_types=["Spaceship"]))
    finally:
        engine.dispose()
