"""Builders of FHIR resources for tests (plain JSON dicts with sensible defaults).

Identifier systems follow docs/CONVENTIONS.md. Every builder takes keyword overrides that
are merged into the result, so tests state only what matters to them.
"""

from __future__ import annotations

import uuid
from typing import Any

BASE = "https://healthbridge.github.io/fhir"
CHILD_ID = f"{BASE}/sid/child-id"
ORG_CODE = f"{BASE}/sid/org-code"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    base.update(overrides)
    return base


def child(
    *,
    child_id: str | None = None,
    family: str = "王",
    given: str = "小明",
    birth_date: str = "2024-03-01",
    gender: str = "male",
    **overrides: Any,
) -> dict[str, Any]:
    """A child Patient with a child-health record number."""
    return _merge(
        {
            "resourceType": "Patient",
            "identifier": [{"system": CHILD_ID, "value": child_id or uuid.uuid4().hex[:12]}],
            "name": [{"family": family, "given": [given], "text": f"{family}{given}"}],
            "gender": gender,
            "birthDate": birth_date,
        },
        overrides,
    )


def guardian(
    patient_ref: str, *, family: str = "王", given: str = "芳", **overrides: Any
) -> dict[str, Any]:
    """A mother (RelatedPerson) of ``patient_ref``."""
    return _merge(
        {
            "resourceType": "RelatedPerson",
            "patient": {"reference": patient_ref},
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": "MTH",
                        }
                    ]
                }
            ],
            "name": [{"family": family, "given": [given]}],
            "telecom": [{"system": "phone", "value": "13800000000"}],
        },
        overrides,
    )


def organization(
    *, name: str = "朝阳区妇幼保健院", code: str = "ORG-1", kind: str = "prov", **overrides: Any
) -> dict[str, Any]:
    """A hospital (``prov``) or childcare centre organisation."""
    return _merge(
        {
            "resourceType": "Organization",
            "identifier": [{"system": ORG_CODE, "value": code}],
            "name": name,
            "active": True,
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                            "code": kind,
                        }
                    ]
                }
            ],
        },
        overrides,
    )


def practitioner(*, family: str = "李", given: str = "医生", **overrides: Any) -> dict[str, Any]:
    """A paediatrician."""
    return _merge(
        {"resourceType": "Practitioner", "name": [{"family": family, "given": [given]}]}, overrides
    )


def observation(
    patient_ref: str,
    *,
    code: str = "29463-7",
    display: str = "Body weight",
    value: float = 9.5,
    unit: str = "kg",
    date: str = "2025-03-01",
    **overrides: Any,
) -> dict[str, Any]:
    """A vital-signs measurement (default: body weight in kg)."""
    return _merge(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": {"reference": patient_ref},
            "effectiveDateTime": date,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        },
        overrides,
    )


def length(
    patient_ref: str, *, value: float = 75.0, date: str = "2025-03-01", **overrides: Any
) -> dict[str, Any]:
    """A body length measurement in cm."""
    return observation(
        patient_ref,
        code="8306-3",
        display="Body height lying",
        value=value,
        unit="cm",
        date=date,
        **overrides,
    )


def encounter(
    patient_ref: str, *, start: str = "2025-03-01T09:00:00+08:00", **overrides: Any
) -> dict[str, Any]:
    """A finished ambulatory checkup visit."""
    return _merge(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": patient_ref},
            "period": {"start": start},
        },
        overrides,
    )


def immunization(
    patient_ref: str, *, vaccine: str = "HepB", date: str = "2024-03-01", **overrides: Any
) -> dict[str, Any]:
    """A completed NIP vaccination."""
    return _merge(
        {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {
                "coding": [{"system": f"{BASE}/CodeSystem/nip-vaccine", "code": vaccine}]
            },
            "patient": {"reference": patient_ref},
            "occurrenceDateTime": date,
        },
        overrides,
    )


def flag(patient_ref: str, *, kind: str = "underweight", **overrides: Any) -> dict[str, Any]:
    """An active alert Flag."""
    return _merge(
        {
            "resourceType": "Flag",
            "status": "active",
            "code": {"coding": [{"system": f"{BASE}/CodeSystem/alert-kind", "code": kind}]},
            "subject": {"reference": patient_ref},
        },
        overrides,
    )


def transaction(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    """A transaction (or batch) Bundle of ``post(...)``/``put(...)`` entries."""
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(
    resource: dict[str, Any], *, full_url: str | None = None, if_none_exist: str | None = None
) -> dict[str, Any]:
    """A POST entry (``fullUrl`` defaults to a fresh ``urn:uuid:``)."""
    request: dict[str, Any] = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    return {
        "fullUrl": full_url or f"urn:uuid:{uuid.uuid4()}",
        "resource": resource,
        "request": request,
    }


def put(resource: dict[str, Any], url: str, *, if_match: str | None = None) -> dict[str, Any]:
    """A PUT entry."""
    request: dict[str, Any] = {"method": "PUT", "url": url}
    if if_match:
        request["ifMatch"] = if_match
    return {"resource": resource, "request": request}


# ----------------------------------------------------------------------------- access
#: The local token secret of test apps (conftest ``settings``).
TEST_SECRET = "healthbridge-test-secret-0123456789abcdef"


def auth_headers(
    role: str,
    *,
    user: str = "user-1",
    fhir_user: str | None = None,
    org: str | None = None,
    scopes: str | None = None,
    **mint: Any,
) -> dict[str, str]:
    """``Authorization`` header with a locally minted token for ``role``."""
    from healthbridge.access.tokens import Role, mint_token

    token = mint_token(
        secret=TEST_SECRET,
        role=Role(role),
        subject=user,
        fhir_user=fhir_user,
        organization=org,
        scopes=scopes,
        **mint,
    )
    return {"Authorization": f"Bearer {token}"}


class RoleClient:
    """A started TestClient plus one caller's headers (JSON bodies as FHIR JSON)."""

    def __init__(self, client: Any, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {**FHIR_JSON, **self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)
