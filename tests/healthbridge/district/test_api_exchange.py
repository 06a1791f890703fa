"""POST /exchange/session (accept / reject / all-or-nothing) and GET /exchange/anthro.csv."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from healthbridge.errors import Issue
from healthbridge.store.hooks import StoreHooks, WriteContext
from tests import factories
from tests.healthbridge.district.conftest import AS_OF

HEADER = "儿童编号,测量日期,体重(kg),身长/身高(cm),测量方式,头围(cm),体温\n"


def _children(client: TestClient) -> dict[str, str]:
    ids = {}
    for number, birth in (("HB-001", "2025-01-10"), ("HB-002", "2024-01-10")):
        got = client.post("/fhir/Patient", json=factories.child(child_id=number, birth_date=birth))
        assert got.status_code == 201, got.text
        ids[number] = got.json()["id"]
    return ids


def _upload(client: TestClient, text: str, name: str = "session.csv", **form: str) -> Any:
    return client.post(
        "/exchange/session",
        files={"file": (name, text.encode("utf-8"), "text/csv")},
        data=form,
    )


def _count(client: TestClient, rtype: str) -> int:
    total: int = client.get(f"/fhir/{rtype}?_summary=count").json()["total"]
    return total


def test_import_accepts_rejects_and_is_idempotent(make_client: Callable[..., TestClient]) -> None:
    client = make_client("health-manager")
    ids = _children(client)
    text = HEADER + (
        "HB-001,2026-05-01,9.8,76.5,卧位,45.2,36.6\n"  # accepted
        "HB-002,2026/5/1,13.1,92.0,,,\n"  # accepted, measure imputed (standing from 731 d)
        "HB-404,2026-05-01,9.0,75,l,,\n"  # unknown child
        "HB-001,2026-05-02,abc,300,x,,\n"  # bad number, out of range, unknown measure
        ",2026-05-01,9,,,,\n"  # missing identifier
    )
    got = _upload(client, text, centre="Organization/centre-1")
    assert got.status_code == 200, got.text
    report = got.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (5, 2, 3)
    assert [r["row"] for r in report["accepted_rows"]] == [2, 3]
    assert report["accepted_rows"][0]["patient"] == f"Patient/{ids['HB-001']}"
    reasons = {r["row"]: {p["reason"] for p in r["problems"]} for r in report["rejected_rows"]}
    assert reasons[4] == {"unknown-identifier"}
    assert {"bad-number", "out-of-range", "unknown-measure"} <= reasons[5]
    assert reasons[6] == {"missing-identifier"}
    problem = report["rejected_rows"][0]["problems"][0]
    assert problem["message_zh"]
    assert problem["message_en"]
    assert problem["message_zh"] != problem["message_en"]
    # 2 Encounters; 4 + 2 Observations
    assert report["created"] == 2 + 6
    assert report["unchanged"] == 0
    assert _count(client, "Encounter") == 2
    assert _count(client, "Observation") == 6
    obs = client.get(f"/fhir/Observation?subject=Patient/{ids['HB-002']}&code=8302-2").json()
    assert obs["total"] == 1  # standing height
    enc = client.get(f"/fhir/Encounter?subject=Patient/{ids['HB-001']}").json()["entry"][0]
    assert enc["resource"]["serviceProvider"]["reference"] == "Organization/centre-1"

    again = _upload(client, text).json()
    assert again["created"] == 0
    assert again["unchanged"] == 8
    assert _count(client, "Observation") == 6


def test_a_write_failure_rolls_back_the_whole_file(app_factory: Callable[..., Any]) -> None:
    def refuse_13_13(resource: dict[str, Any], ctx: WriteContext) -> Iterable[Issue]:
        del ctx
        if resource.get("valueQuantity", {}).get("value") == 13.13:
            yield Issue("error", "business-rule", "refused by a test validator")

    hooks = StoreHooks()
    hooks.add_validator(refuse_13_13)
    from tests.healthbridge.district.conftest import as_role

    with TestClient(app_factory(hooks=hooks)) as client:
        as_role(client, "system")
        _children(client)
        text = HEADER + "HB-001,2026-05-01,9.8,76.5,l,,\nHB-002,2026-05-01,13.13,92,h,,\n"
        got = _upload(client, text)
        assert got.status_code == 422
        assert got.json()["resourceType"] == "OperationOutcome"
        assert _count(client, "Encounter") == 0
        assert _count(client, "Observation") == 0


def test_excel_upload_and_file_errors(make_client: Callable[..., TestClient]) -> None:
    from openpyxl import Workbook

    client = make_client("centre-staff")
    _children(client)
    book = Workbook()
    sheet = book.active
    sheet.append(["identifier", "date", "weight", "length/height", "measure"])
    sheet.append(["HB-001", pd.Timestamp("2026-04-30").to_pydatetime(), 9.5, 75.0, "l"])
    buffer = io.BytesIO()
    book.save(buffer)
    got = client.post(
        "/exchange/session",
        files={"file": ("session.xlsx", buffer.getvalue(), "application/octet-stream")},
    )
    assert got.status_code == 200, got.text
    assert got.json()["accepted"] == 1

    missing = _upload(client, "weight\n9.5\n")
    assert missing.status_code == 400
    assert missing.json()["resourceType"] == "OperationOutcome"
    wrong_type = _upload(client, "x", name="session.pdf")
    assert wrong_type.status_code == 400


@pytest.mark.parametrize("role", ["", "district-official", "parent"])
def test_import_needs_a_clinical_role(make_client: Callable[..., TestClient], role: str) -> None:
    client = make_client(*([role] if role else []))
    assert _upload(client, HEADER).status_code == 403


def test_anthro_export_of_a_centre(make_client: Callable[..., TestClient]) -> None:
    from healthbridge.demo.population import generate
    from tests.healthbridge.district.conftest import DEMO_CHILDREN

    client = make_client("health-manager", demo=True)
    district = generate(children=DEMO_CHILDREN, as_of=AS_OF)
    enrolled = [c for c in district.children if c.centre_id]
    centre = enrolled[0].centre_id
    members = {c.id: c for c in enrolled if c.centre_id == centre}
    got = client.get(f"/exchange/anthro.csv?centre=Organization/{centre}")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(got.text))
    assert list(table.columns) == [
        "id",
        "sex",
        "age",
        "weight",
        "lenhei",
        "measure",
        "headc",
        "armc",
        "triskin",
        "subskin",
        "oedema",
        "othergr",
    ]
    visits = district.visits[district.visits["child_id"].isin(members)]
    assert len(table) == len(visits) > 0
    assert set(table["id"]) == set(visits["child_id"])
    assert set(table["othergr"]) == {centre}
    assert set(table["measure"]) <= {"l", "h"}
    first = table.iloc[0]
    child = members[first["id"]]
    assert first["sex"] == int(child.sex)
    assert (table["age"] >= 0).all()

    start = client.get(f"/exchange/anthro.csv?centre=Organization/{centre}&start=2026-06-01")
    assert 0 < len(pd.read_csv(io.StringIO(start.text))) < len(table)
    assert client.get("/exchange/anthro.csv?centre=Organization/nope").status_code == 404
    assert client.get("/exchange/anthro.csv?centre=Patient/x").status_code == 400
    as_official = make_client("district-official")
    assert as_official.get(f"/exchange/anthro.csv?centre=Organization/{centre}").status_code == 403
