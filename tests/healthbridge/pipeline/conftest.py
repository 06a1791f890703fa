"""Fixtures and builders for the pipeline tests: an app with the pipeline on, FHIR builders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.pipeline.engine import today_in_china
from tests.conftest import AppFactory
from tests.settle import settling

RULESET = "cn-child-health@2026.1/CN"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def pipeline_mode() -> str:
    """The pipeline mode of :func:`pclient`: the default (``outbox``). A module whose tests
    must hold in both modes overrides this fixture with ``params=["outbox", "inline"]``."""
    return "outbox"


@pytest.fixture
def vapp(app_factory: AppFactory) -> FastAPI:
    """An app in outbox mode without the worker thread: the test drains the queue itself."""
    return app_factory(
        clinical_ruleset=RULESET, pipeline_mode="outbox", pipeline_worker_thread=False
    )


@pytest.fixture
def vclient(vapp: FastAPI) -> Iterator[TestClient]:
    with TestClient(vapp, headers={"Accept": "application/fhir+json"}) as c:
        yield c


@pytest.fixture
def pclient(app_factory: AppFactory, pipeline_mode: str) -> Iterator[TestClient]:
    """A started TestClient on an app with the clinical pipeline installed. In the outbox mode
    every write request waits for the queue to drain (:func:`tests.settle.settling`), so a
    test reads the results the way the user who wrote will see them."""
    app = app_factory(clinical_ruleset=RULESET, pipeline_mode=pipeline_mode)
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as c:
        yield settling(c)


def today() -> dt.date:
    return today_in_china()


def days_ago(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


def put(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    """PUT a resource at its id; returns the stored resource."""
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON
    )
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def search(client: TestClient, rtype: str, **params: str) -> list[dict[str, Any]]:
    r = client.get(f"/fhir/{rtype}", params={"_count": "1000", **params})
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", []) if e["search"]["mode"] == "match"]


def child(
    cid: str,
    birth: dt.date,
    *,
    gender: str = "male",
    weeks: float | None = None,
    centre: str | None = None,
    klass: str | None = None,
    since: dt.date | None = None,
) -> dict[str, Any]:
    ext: list[dict[str, Any]] = []
    if weeks is not None:
        ext.append(
            {
                "url": f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age",
                "valueQuantity": {"value": weeks, "unit": "wk", "system": t.UCUM, "code": "wk"},
            }
        )
    if centre is not None:
        parts: list[dict[str, Any]] = [
            {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
            {"url": "period", "valuePeriod": {"start": (since or birth).isoformat()}},
        ]
        if klass is not None:
            parts.append({"url": "class", "valueReference": {"reference": f"Location/{klass}"}})
        ext.append(
            {
                "url": f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment",
                "extension": parts,
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": cid,
        "meta": {"profile": [f"{t.CANONICAL_BASE}/StructureDefinition/hb-child"]},
        "identifier": [{"system": t.SID_CHILD_ID, "value": cid}],
        "name": [{"family": "王", "given": ["小明"], "text": "王小明"}],
        "gender": gender,
        "birthDate": birth.isoformat(),
    }
    if ext:
        resource["extension"] = ext
    return resource


def measurement(
    oid: str,
    cid: str,
    code: str,
    value: float,
    on: dt.date,
    *,
    unit: str | None = None,
    encounter: str | None = None,
    status: str = "final",
) -> dict[str, Any]:
    unit = unit or {t.LOINC_BODY_WEIGHT: "kg", t.LOINC_HAEMOGLOBIN: "g/L"}.get(code, "cm")
    if code == t.LOINC_BODY_TEMPERATURE:
        unit = "Cel"
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "category": [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": t.LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{cid}"},
        "effectiveDateTime": f"{on.isoformat()}T09:00:00+08:00",
        "valueQuantity": {"value": value, "unit": unit, "system": t.UCUM, "code": unit},
    }
    if encounter:
        resource["encounter"] = {"reference": f"Encounter/{encounter}"}
    return resource


def immunization(iid: str, cid: str, vaccine: str, on: dt.date, dose: int) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "id": iid,
        "status": "completed",
        "vaccineCode": {"coding": [{"system": t.CS_NIP_VACCINE, "code": vaccine}]},
        "patient": {"reference": f"Patient/{cid}"},
        "occurrenceDateTime": f"{on.isoformat()}T10:00:00+08:00",
        "lotNumber": "L1",
        "protocolApplied": [{"doseNumberPositiveInt": dose}],
    }


def organization(oid: str, kind: str = "childcare-centre") -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": oid,
        "identifier": [{"system": t.SID_ORG_CODE, "value": oid}],
        "type": [{"coding": [{"system": t.CS_ORG_KIND, "code": kind}]}],
        "name": oid,
    }


def health_manager_role(rid: str, centre: str) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": rid,
        "organization": {"reference": f"Organization/{centre}"},
        "code": [
            {
                "coding": [
                    {
                        "system": f"{t.CANONICAL_BASE}/CodeSystem/staff-role",
                        "code": "health-manager",
                    }
                ]
            }
        ],
    }


def active_flags(client: TestClient, subject: str) -> dict[str, dict[str, Any]]:
    """Active Flags of a subject by alert kind."""
    out = {}
    for flag in search(client, "Flag", subject=subject):
        if flag["status"] == "active":
            out[flag["code"]["coding"][0]["code"]] = flag
    return out


def review_task(client: TestClient, flag: dict[str, Any]) -> dict[str, Any]:
    r = client.get(f"/fhir/Task/review-{flag['id']}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def task_inputs(task: dict[str, Any]) -> dict[str, str]:
    return {i["type"]["text"]: i["valueString"] for i in task["input"] if "valueString" in i}
