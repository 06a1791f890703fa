"""Numbers and dates beyond what the index and the calendar hold (issue 20 item 6): never a
5xx. A FHIR decimal is arbitrary precision (R4 datatypes §2.24.0.1 ``decimal``), so a valid
but huge ``valueQuantity.value`` is stored as sent; only its search index row is left out
(a double cannot hold it), so it is simply not found by a numeric search."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests import factories as f

HUGE = "9" * 400


def _observation_text(patient: str) -> str:
    body = f.observation(patient, value=1.5)
    return json.dumps(body).replace('"value": 1.5', f'"value": {HUGE}')


def test_huge_quantity_is_stored_without_a_5xx(client: TestClient) -> None:
    kid = client.post("/fhir/Patient", json=f.child()).json()["id"]
    headers = {"Content-Type": "application/fhir+json"}
    got = client.post(
        "/fhir/Observation", content=_observation_text(f"Patient/{kid}"), headers=headers
    )
    assert got.status_code < 500, got.text[:300]
    assert got.status_code == 201, got.text[:300]
    back = client.get(f"/fhir/Observation/{got.json()['id']}")
    assert back.status_code == 200
    assert str(back.json()["valueQuantity"]["value"]) == HUGE
    # a numeric search neither fails nor finds it
    found = client.get(f"/fhir/Observation?subject=Patient/{kid}&value-quantity=gt1")
    assert found.status_code == 200
    assert found.json().get("total") == 0


def test_huge_quantity_in_a_transaction_and_exponent_overflow(client: TestClient) -> None:
    kid = client.post("/fhir/Patient", json=f.child()).json()["id"]
    entry = json.loads(_observation_text(f"Patient/{kid}"))
    bundle = json.dumps(f.transaction(f.post(entry)))
    headers = {"Content-Type": "application/fhir+json"}
    got = client.post("/fhir", content=bundle, headers=headers)
    assert got.status_code == 200, got.text[:300]
    # 1e400 is not a finite double: refused as input (4xx), not a 500
    text = _observation_text(f"Patient/{kid}").replace(HUGE, "1e400")
    inf = client.post("/fhir/Observation", content=text, headers=headers)
    assert 400 <= inf.status_code < 500, inf.text[:300]
    assert inf.json()["resourceType"] == "OperationOutcome"


def test_number_parameter_overflow() -> None:
    from healthbridge.fhir.fhirpath import Node
    from healthbridge.fhir.index_rows import _number_rows

    rows: list[dict[str, object]] = []
    _number_rows("probability", Node(int(HUGE), "decimal"), rows)
    assert rows == []
    _number_rows("probability", Node(0.5, "decimal"), rows)
    assert rows == [{"param": "probability", "value": 0.5}]


def test_dates_at_the_calendar_ends(client: TestClient) -> None:
    kid = client.post("/fhir/Patient", json=f.child()).json()["id"]
    for query in (
        "date=gt9999-12-31T23:59:59Z",
        "date=lt0001-01-01T00:00:00%2B08:00",
        "date=ge9999-12-31T23:59:59.999Z",
    ):
        got = client.get(f"/fhir/Observation?{query}")
        assert got.status_code == 200, (query, got.text[:300])
    late = f.observation(f"Patient/{kid}", date="9999-12-31T23:59:59Z")
    assert client.post("/fhir/Observation", json=late).status_code == 201
    for day in ("0001-01-01", "9999-12-31"):
        report = client.get(f"/fhir/Patient/{kid}/$parent-report?date={day}")
        assert report.status_code == 400, report.text[:300]
        assert "date=" in report.json()["issue"][0]["diagnostics"]


def test_date_range_holds_at_the_ends() -> None:
    from healthbridge.fhir.values import date_range

    low, high = date_range("9999-12-31T23:59:59Z")
    assert low.startswith("9999-12-31T23:59:59")
    assert high.startswith("9999-12-31T23:59:59.999999")
    low, _ = date_range("0001-01-01T00:00:00+08:00")
    assert low.startswith("0001-01-01T00:00:00")
