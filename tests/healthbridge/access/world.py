"""A small district for access tests: two centres, two hospitals, three children.

* ``kid-a`` — enrolled at ``centre-a``; guardian ``rp-a``; consent to share with ``hosp-h``.
* ``kid-b`` — enrolled at ``centre-b``; guardian ``rp-b``; referred to ``hosp-g`` by its centre
  (``ref-b-g``), with the guardian's consent to ``hosp-g`` for coordination of care only
  (``consent-b-g``, purpose COC: the referral opens the record, nothing else does); a withdrawn
  (inactive) consent for ``hosp-h``.
* ``kid-old`` — enrolment at ``centre-a`` ended in 2025 (out of the centre's reach now).

``obs-a`` / ``obs-b`` are weights of kid-a / kid-b; ``obs-a-focus`` is kid-a's observation that
names kid-b as its focus (a reference out of reach, for ``_include`` and chaining tricks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests import factories as f

ENROL = "https://healthbridge.github.io/fhir/StructureDefinition/childcare-enrollment"


def _enrol(centre: str, start: str, end: str | None = None) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return {
        "url": ENROL,
        "extension": [
            {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
            {"url": "period", "valuePeriod": period},
        ],
    }


def _role(rid: str, org: str) -> list[dict[str, Any]]:
    return [
        {"resourceType": "Practitioner", "id": rid, "name": [{"family": "李"}]},
        {
            "resourceType": "PractitionerRole",
            "id": f"{rid}-role",
            "active": True,
            "practitioner": {"reference": f"Practitioner/{rid}"},
            "organization": {"reference": f"Organization/{org}"},
        },
    ]


def consent(
    cid: str, kid: str, org: str, *, status: str = "active", purposes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A guardian's consent to share ``kid``'s record with ``org`` (for ``purposes``, v3
    ActReason codes; none stated = care)."""
    out: dict[str, Any] = {
        "resourceType": "Consent",
        "id": cid,
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{kid}"},
        "organization": [{"reference": f"Organization/{org}"}],
        # ppc-1 (R4 Consent): a policy or a policyRule is required
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {
            "type": "permit",
            "period": {"start": "2024-01-01", "end": "2099-12-31"},
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"reference": f"Organization/{org}"},
                }
            ],
        },
    }
    if purposes:
        out["provision"]["purpose"] = [
            {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": p}
            for p in purposes
        ]
    return out


def resources() -> list[dict[str, Any]]:
    """Every resource of the world, with fixed ids."""
    out: list[dict[str, Any]] = []
    for oid, name in [
        ("centre-a", "阳光托育"),
        ("centre-b", "彩虹托育"),
        ("hosp-h", "区妇幼保健院"),
        ("hosp-g", "区人民医院"),
    ]:
        out.append({**f.organization(name=name, code=oid), "id": oid})
    out += _role("hm-a", "centre-a") + _role("cs-a", "centre-a") + _role("hm-b", "centre-b")
    out += _role("doc-h", "hosp-h") + _role("doc-g", "hosp-g")
    out.append(
        {
            **f.child(child_id="A", given="安安"),
            "id": "kid-a",
            "extension": [_enrol("centre-a", "2024-09-01")],
        }
    )
    out.append(
        {
            **f.child(child_id="B", given="贝贝", family="陈"),
            "id": "kid-b",
            "extension": [_enrol("centre-b", "2024-09-01")],
        }
    )
    out.append(
        {
            **f.child(child_id="O", given="欧欧"),
            "id": "kid-old",
            "extension": [_enrol("centre-a", "2023-09-01", "2025-01-31")],
        }
    )
    out.append({**f.guardian("Patient/kid-a"), "id": "rp-a"})
    out.append({**f.guardian("Patient/kid-b", family="陈"), "id": "rp-b"})
    out.append(consent("consent-a-h", "kid-a", "hosp-h"))
    out.append(consent("consent-b-h", "kid-b", "hosp-h", status="inactive"))
    out.append(consent("consent-b-g", "kid-b", "hosp-g", purposes=("COC",)))
    out.append(
        {
            "resourceType": "ServiceRequest",
            "id": "ref-b-g",
            "status": "active",
            "intent": "order",
            "authoredOn": "2026-01-05",
            "occurrencePeriod": {"start": "2026-01-05", "end": "2099-12-31"},
            "subject": {"reference": "Patient/kid-b"},
            "performer": [{"reference": "Organization/hosp-g"}],
        }
    )
    out.append({**f.observation("Patient/kid-a", value=9.1), "id": "obs-a"})
    out.append({**f.observation("Patient/kid-b", value=9.2), "id": "obs-b"})
    out.append({**f.observation("Patient/kid-old", value=9.3), "id": "obs-old"})
    out.append(
        {
            **f.observation("Patient/kid-a", value=9.4),
            "id": "obs-a-focus",
            "focus": [{"reference": "Patient/kid-b"}],
        }
    )
    out.append({**f.encounter("Patient/kid-a"), "id": "enc-a"})
    out.append({**f.encounter("Patient/kid-b"), "id": "enc-b"})
    return out


def load(system: Any) -> None:
    """PUT the world with a system-role client."""
    entries = [f.put(r, f"{r['resourceType']}/{r['id']}") for r in resources()]
    response = system.post("/fhir", json=f.transaction(*entries))
    assert response.status_code == 200, response.text[:500]


@dataclass(frozen=True)
class Caller:
    """A role with its token claims and the children in its reach."""

    role: str
    claims: dict[str, str]
    reach: frozenset[str]


CALLERS: dict[str, Caller] = {
    "parent": Caller("parent", {"fhir_user": "RelatedPerson/rp-a"}, frozenset({"kid-a"})),
    "health-manager": Caller(
        "health-manager", {"fhir_user": "PractitionerRole/hm-a-role"}, frozenset({"kid-a"})
    ),
    "centre-staff": Caller(
        "centre-staff",
        {"fhir_user": "PractitionerRole/cs-a-role", "org": "Organization/centre-a"},
        frozenset({"kid-a"}),
    ),
    "paediatrician-consent": Caller(
        "paediatrician", {"fhir_user": "PractitionerRole/doc-h-role"}, frozenset({"kid-a"})
    ),
    "paediatrician-referral": Caller(
        "paediatrician", {"fhir_user": "PractitionerRole/doc-g-role"}, frozenset({"kid-b"})
    ),
    "district-official": Caller("district-official", {}, frozenset()),
    "admin": Caller("admin", {}, frozenset()),
    "system": Caller("system", {}, frozenset({"kid-a", "kid-b", "kid-old"})),
}
