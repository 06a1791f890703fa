"""``$growth-chart`` and ``$parent-report`` over HTTP on both databases."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

from fastapi.testclient import TestClient
from matplotlib.image import imread

from tests import factories as f

J = f.FHIR_JSON


def _child(client: TestClient) -> str:
    r = client.put(
        "/fhir/Patient/c1",
        json={**f.child(birth_date="2025-01-10", gender="female"), "id": "c1"},
        headers=J,
    )
    assert r.status_code in (200, 201), r.text
    for n, (day, w, ln) in enumerate([("2025-01-10", 3.2, 49.5), ("2025-04-10", 6.0, 61.0)]):
        enc = {"reference": f"Encounter/e{n}"}
        client.put(
            f"/fhir/Encounter/e{n}",
            json={**f.encounter("Patient/c1", start=f"{day}T09:00:00+08:00"), "id": f"e{n}"},
            headers=J,
        )
        for res in (
            f.observation("Patient/c1", value=w, date=day, encounter=enc, id=f"w{n}"),
            f.length("Patient/c1", value=ln, date=day, encounter=enc, id=f"l{n}"),
        ):
            r = client.put(f"/fhir/Observation/{res['id']}", json=res, headers=J)
            assert r.status_code in (200, 201), r.text
    return "c1"


def test_growth_chart_png_svg_pdf(client: TestClient) -> None:
    pid = _child(client)
    png = client.get(f"/fhir/Patient/{pid}/$growth-chart?indicator=wfa&format=png&lang=en")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert imread(io.BytesIO(png.content)).shape[:2] == (600, 800)
    svg = client.get(f"/fhir/Patient/{pid}/$growth-chart?indicator=lhfa&format=svg&lines=z")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    assert "child" in ids
    assert "ref:+2 SD" in ids
    pdf = client.get(f"/fhir/Patient/{pid}/$growth-chart?indicator=wfl&format=pdf&lang=zh")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_growth_chart_plots_the_stored_measurements(client: TestClient) -> None:
    pid = _child(client)
    svg = client.get(f"/fhir/Patient/{pid}/$growth-chart?indicator=wfa&format=svg&range=0-2y")
    root = ET.fromstring(svg.content)
    ns = "{http://www.w3.org/2000/svg}"
    child = next(el for el in root.iter(f"{ns}g") if el.get("id") == "child")
    path = next(child.iter(f"{ns}path"))
    # two measurements: the joining line has two vertices (M x y L x y)
    assert path.get("d", "").count("L") == 1


def test_bad_parameters_are_400_operation_outcomes(client: TestClient) -> None:
    pid = _child(client)
    for query in ("indicator=xyz", "format=gif", "lang=fr", "lines=both", "range=0-9y"):
        r = client.get(f"/fhir/Patient/{pid}/$growth-chart?{query}")
        assert r.status_code == 400, query
        body: dict[str, Any] = r.json()
        assert body["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Patient/nobody/$growth-chart").status_code == 404


def test_parent_report_pdf(client: TestClient) -> None:
    pid = _child(client)
    r = client.get(f"/fhir/Patient/{pid}/$parent-report?lang=zh&date=2025-06-01")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert r.content.count(b"/Type /Page\n") + r.content.count(b"/Type /Page ") >= 1
    assert client.get(f"/fhir/Patient/{pid}/$parent-report?date=soon").status_code == 400


def test_growth_observations_are_the_growth_codes_only(client: TestClient) -> None:
    from healthbridge.charts.child_chart import growth_observations
    from healthbridge.store.hooks import SYSTEM_CONTEXT

    pid = _child(client)
    temperature = f.observation(
        f"Patient/{pid}", code="8310-5", display="Body temperature", value=36.8, unit="Cel"
    )
    r = client.put("/fhir/Observation/t0", json={**temperature, "id": "t0"}, headers=J)
    assert r.status_code in (200, 201), r.text
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        found = growth_observations(txn, pid)
    assert sorted(o["id"] for o in found) == ["l0", "l1", "w0", "w1"]
