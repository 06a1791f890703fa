"""Accepted session rows as one FHIR R4 transaction Bundle (plain dicts, no model imports).

Per row: an ``Encounter`` of type ``centre-growth`` (CodeSystem ``checkup-visit``) and one
``Observation`` per measurement, coded as the FHIR R4 vital-signs profiles do
(http://hl7.org/fhir/R4/observation-vitalsigns.html): LOINC 29463-7 body weight [kg],
8306-3 body length lying / 8302-2 body height standing [cm], 9843-4 head circumference [cm],
8310-5 body temperature [Cel]; units in UCUM. Each resource claims its HealthBridge profile
in ``meta.profile`` (:data:`PROFILES`; the tests validate the built resources against them and
against the ``fhir.resources`` model, which lets the server write them on its trusted path).

Idempotency: every resource carries an ``identifier`` in system ``{base}/sid/session-import``
whose value is ``<file sha256>/<row number>/<kind>``, and its entry is a conditional create
(``request.ifNoneExist``; http://hl7.org/fhir/R4/http.html#ccreate). Re-importing the same
file therefore creates nothing new; inside the transaction, references to the Encounter's
``urn:uuid`` resolve to the existing Encounter when its condition matches
(http://hl7.org/fhir/R4/http.html#trules). ``fullUrl``\\ s are UUID-5 of the identifier, so the
same file always yields the same Bundle.

:func:`session_resources` gives the same resources ready to write one by one (ids assigned,
the Observations referring to their Encounter by ``Encounter/<id>``), leaving out those of an
earlier import of the file: the server's import writes them straight into one database
transaction instead of building a transaction Bundle and processing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from healthbridge.exchange.session_import import SessionImport, SessionRow, iter_measurements
from healthbridge.terminology import (
    CANONICAL_BASE,
    CS_CHECKUP_VISIT,
    LOINC,
    LOINC_BODY_HEIGHT,
    LOINC_BODY_LENGTH,
    LOINC_BODY_TEMPERATURE,
    LOINC_BODY_WEIGHT,
    LOINC_HEAD_CIRCUMFERENCE,
    OBSERVATION_CATEGORY,
    UCUM,
    V3_ACT_CODE,
)

#: Identifier system of resources created by a session import.
SID_SESSION_IMPORT = f"{CANONICAL_BASE}/sid/session-import"
CENTRE_GROWTH = "centre-growth"

_PROFILE = f"{CANONICAL_BASE}/StructureDefinition/"
#: The profile (fhir_profiles/StructureDefinition) each resource kind of a row claims.
PROFILES: dict[str, str] = {
    "encounter": _PROFILE + "hb-checkup-encounter",
    "weight": _PROFILE + "hb-body-weight",
    "length": _PROFILE + "hb-body-length",
    "height": _PROFILE + "hb-body-height",
    "head": _PROFILE + "hb-head-circumference",
    "temperature": _PROFILE + "hb-body-temperature",
}

_CODES: dict[str, tuple[str, str, str, str]] = {
    # field: (kind, LOINC code, display, UCUM unit)
    "weight_kg": ("weight", LOINC_BODY_WEIGHT, "Body weight", "kg"),
    "headc_cm": ("head", LOINC_HEAD_CIRCUMFERENCE, "Head Occipital-frontal circumference", "cm"),
    "temperature_c": ("temperature", LOINC_BODY_TEMPERATURE, "Body temperature", "Cel"),
}
_VITAL_SIGNS = {"system": OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
_LENHEI = {
    "l": ("length", LOINC_BODY_LENGTH, "Body height --lying", "cm"),
    "h": ("height", LOINC_BODY_HEIGHT, "Body height", "cm"),
}


def import_identifier(sha256: str, row_number: int, kind: str) -> str:
    """Identifier value for one resource of one row of one file."""
    return f"{sha256}/{row_number}/{kind}"


def _full_url(value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{SID_SESSION_IMPORT}|{value}')}"


def _entry(resource: dict[str, Any], value: str) -> dict[str, Any]:
    return {
        "fullUrl": _full_url(value),
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={SID_SESSION_IMPORT}|{value}",
        },
    }


def _encounter(row: SessionRow, value: str, centre_reference: str | None) -> dict[str, Any]:
    day = row.date.isoformat()
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "meta": {"profile": [PROFILES["encounter"]]},
        "identifier": [{"system": SID_SESSION_IMPORT, "value": value}],
        "status": "finished",
        "class": {"system": V3_ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "type": [{"coding": [{"system": CS_CHECKUP_VISIT, "code": CENTRE_GROWTH}]}],
        "subject": {"reference": row.patient_reference},
        "period": {"start": day, "end": day},
    }
    if centre_reference is not None:
        resource["serviceProvider"] = {"reference": centre_reference}
    return resource


def _observation(
    row: SessionRow,
    value: str,
    encounter_url: str,
    code: tuple[str, str, str, str],
    quantity: float,
    performer_reference: str | None,
) -> dict[str, Any]:
    kind, loinc, display, unit = code
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [PROFILES[kind]]},
        "identifier": [{"system": SID_SESSION_IMPORT, "value": value}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": OBSERVATION_CATEGORY,
                        "code": "vital-signs",
                        "display": "Vital Signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
        "subject": {"reference": row.patient_reference},
        "encounter": {"reference": encounter_url},
        "effectiveDateTime": row.date.isoformat(),
        "valueQuantity": {"value": quantity, "unit": unit, "system": UCUM, "code": unit},
    }
    if performer_reference is not None:
        resource["performer"] = [{"reference": performer_reference}]
    return resource


def session_bundle(
    result: SessionImport,
    *,
    centre_reference: str | None = None,
    performer_reference: str | None = None,
) -> dict[str, Any]:
    """A ``transaction`` Bundle with every accepted row (an Encounter plus Observations).

    ``centre_reference`` (e.g. ``Organization/123``) becomes the Encounter's
    ``serviceProvider``; ``performer_reference`` the Observations' ``performer``.
    """
    entries: list[dict[str, Any]] = []
    for row in result.accepted:
        enc_value = import_identifier(result.sha256, row.row_number, "encounter")
        enc_url = _full_url(enc_value)
        entries.append(_entry(_encounter(row, enc_value, centre_reference), enc_value))
        for name, quantity in iter_measurements(row):
            code = _LENHEI[row.measure or "l"] if name == "lenhei_cm" else _CODES[name]
            value = import_identifier(result.sha256, row.row_number, code[0])
            obs = _observation(row, value, enc_url, code, quantity, performer_reference)
            entries.append(_entry(obs, value))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


@dataclass(frozen=True)
class SessionResource:
    """One resource to create for an accepted row; ``identifier`` is its import identifier."""

    row_number: int
    kind: str  # encounter, weight, length, height, head, temperature
    identifier: str
    resource: dict[str, Any]


def session_resources(
    result: SessionImport,
    *,
    new_id: Callable[[], str],
    existing: Mapping[str, str] | None = None,
    centre_reference: str | None = None,
    performer_reference: str | None = None,
) -> list[SessionResource]:
    """The Encounter and Observations of every accepted row, as in :func:`session_bundle`,
    each with an ``id`` from ``new_id``.

    ``existing`` maps import identifiers already stored (an earlier import of the same file)
    to their ``Type/id``: those resources are left out, and the Observations of such a row
    refer to the stored Encounter.
    """
    known = existing or {}
    out: list[SessionResource] = []
    for row in result.accepted:
        enc_value = import_identifier(result.sha256, row.row_number, "encounter")
        enc_ref = known.get(enc_value)
        if enc_ref is None:
            encounter = _encounter(row, enc_value, centre_reference)
            encounter["id"] = new_id()
            enc_ref = f"Encounter/{encounter['id']}"
            out.append(SessionResource(row.row_number, "encounter", enc_value, encounter))
        for name, quantity in iter_measurements(row):
            code = _LENHEI[row.measure or "l"] if name == "lenhei_cm" else _CODES[name]
            value = import_identifier(result.sha256, row.row_number, code[0])
            if value in known:
                continue
            obs = _observation(row, value, enc_ref, code, quantity, performer_reference)
            obs["id"] = new_id()
            out.append(SessionResource(row.row_number, code[0], value, obs))
    return out
