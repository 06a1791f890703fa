"""Shared constants and tiny builders for the profile sources."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

BASE = "https://healthbridge.github.io/fhir"
VERSION = "0.1.0"
DATE = "2026-11-22"
PUBLISHER = "HealthBridge"
FHIR_VERSION = "4.0.1"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CVX = "http://hl7.org/fhir/sid/cvx"
ATC = "http://www.whocc.no/atc"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_ACT_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
CORE = "http://hl7.org/fhir/StructureDefinition/"
TRANSLATION_EXT = "http://hl7.org/fhir/StructureDefinition/translation"

SID_CHILD = f"{BASE}/sid/child-id"
SID_RESIDENT = f"{BASE}/sid/resident-id"
SID_ORG = f"{BASE}/sid/org-code"


def sd_url(sd_id: str) -> str:
    """Canonical URL of one of our StructureDefinitions."""
    return f"{BASE}/StructureDefinition/{sd_id}"


def cs_url(cs_id: str) -> str:
    """Canonical URL of one of our CodeSystems."""
    return f"{BASE}/CodeSystem/{cs_id}"


def vs_url(vs_id: str) -> str:
    """Canonical URL of one of our ValueSets."""
    return f"{BASE}/ValueSet/{vs_id}"


def cm_url(cm_id: str) -> str:
    """Canonical URL of one of our ConceptMaps."""
    return f"{BASE}/ConceptMap/{cm_id}"


def q_url(q_id: str) -> str:
    """Canonical URL of one of our Questionnaires."""
    return f"{BASE}/Questionnaire/{q_id}"


def path_of(element_id: str) -> str:
    """The element path for an element id: slice names (``:name``) removed."""
    return ".".join(part.split(":", 1)[0] for part in element_id.split("."))


def el(element_id: str, **props: Any) -> JSON:
    """One differential ElementDefinition; ``path`` is derived from ``id``."""
    out: JSON = {"id": element_id, "path": path_of(element_id)}
    out.update(props)
    return out


def required(vs: str) -> JSON:
    """A required binding to one of our ValueSets (by id) or any canonical URL."""
    url = vs if vs.startswith("http") else vs_url(vs)
    return {"strength": "required", "valueSet": url}


def coding_slice(coding: str, name: str, value_set: str, system: str) -> list[JSON]:
    """A ``coding`` array sliced by system with one required slice ``name`` (bound to
    ``value_set``, its system fixed to ``system``): the four elements every coded profile
    of ours repeats."""
    return [
        el(
            coding,
            min=1,
            slicing={
                "discriminator": [{"type": "value", "path": "system"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(f"{coding}:{name}", sliceName=name, min=1, max="1", binding=required(value_set)),
        el(f"{coding}:{name}.system", min=1, fixedUri=system),
        el(f"{coding}:{name}.code", min=1),
    ]


def ref(*targets: str) -> list[JSON]:
    """A Reference type restricted to target profiles (our ids or core type names)."""
    profiles = [
        t if t.startswith("http") else (sd_url(t) if t.startswith("hb-") else CORE + t)
        for t in targets
    ]
    return [{"code": "Reference", "targetProfile": profiles}]


def inv(key: str, human: str, expression: str, severity: str = "error") -> JSON:
    """One of our invariants (ElementDefinition.constraint); checked in Python, see
    ``healthbridge/fhir/profile_invariants.py``."""
    return {
        "key": key,
        "severity": severity,
        "human": human,
        "expression": expression,
        "source": "",  # filled with the profile URL by the builder
    }


def coding(system: str, code: str, display: str | None = None) -> JSON:
    """A Coding dict."""
    out: JSON = {"system": system, "code": code}
    if display is not None:
        out["display"] = display
    return out


def quantity(value: float, code: str, unit: str | None = None) -> JSON:
    """A UCUM Quantity dict."""
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}
