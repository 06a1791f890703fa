"""Turn a synthetic :class:`~healthbridge.demo.population.District` into FHIR R4 Bundles.

Every resource gets a deterministic id and is written with ``PUT`` (update-as-create,
http://hl7.org/fhir/R4/http.html#upsert), so loading the demo twice changes nothing but
version numbers. One transaction Bundle holds the district's organisations, classes and staff;
then one transaction Bundle per child holds the child, the guardians, the consent, the visits
with their measurements and the morning checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd

from healthbridge import terminology as t
from healthbridge.demo.organisations import jurisdictions, officials
from healthbridge.demo.population import (
    CLASS_NAMES_ZH,
    Child,
    ClassRoom,
    District,
    Guardian,
    Organization,
    OrgKind,
    Practitioner,
)
from healthbridge.fhir.screening_result import screening_observations

Resource = dict[str, Any]

#: Beijing time: dates become instants at a plausible local clock time.
CST = dt.timezone(dt.timedelta(hours=8))
ENROLLMENT_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
#: The enrolment's part carrying the entry-check state (CodeSystem ``admission-check-state``).
ADMISSION_STATE_PART = "admission-check-state"
PLACES_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-places"
POPULATION_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/area-population"
AGREEMENT_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-agreement"
BIRTH_WEIGHT_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/birth-weight"
GESTATIONAL_AGE_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age"
NIP_CONCEPT_MAP = f"{t.CANONICAL_BASE}/ConceptMap/nip-vaccine-cvx-atc"


def _meta(profile: str) -> dict[str, list[str]]:
    """``meta.profile`` claiming one of our profiles (validated on write)."""
    return {"profile": [f"{t.CANONICAL_BASE}/StructureDefinition/{profile}"]}


_ORG_KIND_DISPLAY = {
    OrgKind.MCH_HOSPITAL: "妇幼保健院",
    OrgKind.COMMUNITY_HEALTH_CENTRE: "社区卫生服务中心",
    OrgKind.CHILDCARE_CENTRE: "托育机构",
    OrgKind.PROVINCE: "省",
    OrgKind.CITY: "市",
    OrgKind.DISTRICT: "县/区",
}
_STAFF_ROLE_DISPLAY = {
    "paediatrician": "儿科医生",
    "health-manager": "保健员",
    "district-official": "卫生健康行政人员",
}
_RELATIONSHIP_DISPLAY = {"MTH": "mother", "FTH": "father", "GRMTH": "grandmother"}
_MEASUREMENT_CODES = {
    "weight_kg": (t.LOINC_BODY_WEIGHT, "Body weight", "kg", "kg"),
    "headc_cm": (t.LOINC_HEAD_CIRCUMFERENCE, "Head Occipital-frontal circumference", "cm", "cm"),
}
_LENGTH = (t.LOINC_BODY_LENGTH, "Body height --lying")
_HEIGHT = (t.LOINC_BODY_HEIGHT, "Body height")


def instant(day: dt.date, hour: int = 9) -> str:
    """An ISO-8601 instant in Beijing time on ``day`` at ``hour``:00."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=CST).isoformat()


def _put(resource: Resource) -> dict[str, Any]:
    path = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": path, "resource": resource, "request": {"method": "PUT", "url": path}}


def _bundle(entries: list[dict[str, Any]]) -> Resource:
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def organization(org: Organization) -> Resource:
    """An Organization typed by our organisation-kind code system; a centre with its places
    (``childcare-places``) and agreements with hospitals (``childcare-agreement``)."""
    resource: Resource = {
        "resourceType": "Organization",
        "id": org.id,
        "meta": _meta("hb-organization"),
        "identifier": [{"system": t.SID_ORG_CODE, "value": org.code}],
        "active": True,
        "type": [{"coding": [_coding(t.CS_ORG_KIND, org.kind.value, _ORG_KIND_DISPLAY[org.kind])]}],
        "name": org.name_zh,
        "alias": [org.name_en],
    }
    extensions: list[dict[str, Any]] = []
    if org.places is not None:
        extensions.append({"url": PLACES_EXTENSION, "valueInteger": org.places})
    if org.population is not None:
        extensions.append({"url": POPULATION_EXTENSION, "valuePositiveInt": org.population})
    for agreement in org.agreements:
        period = {"start": agreement.start.isoformat()}
        if agreement.end is not None:
            period["end"] = agreement.end.isoformat()
        extensions.append(
            {
                "url": AGREEMENT_EXTENSION,
                "extension": [
                    {
                        "url": "hospital",
                        "valueReference": {"reference": f"Organization/{agreement.hospital_id}"},
                    },
                    {"url": "period", "valuePeriod": period},
                ],
            }
        )
    if extensions:
        resource["extension"] = extensions
    if org.part_of is not None:
        resource["partOf"] = {"reference": f"Organization/{org.part_of}"}
    return resource


def location(room: ClassRoom) -> Resource:
    """A class (班级) as a Location managed by its childcare centre."""
    return {
        "resourceType": "Location",
        "id": room.id,
        "status": "active",
        "name": room.name_zh,
        "type": [
            {"coding": [_coding(t.CS_CLASS_KIND, room.kind.value, CLASS_NAMES_ZH[room.kind])]}
        ],
        "physicalType": {
            "coding": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/location-physical-type", "ro", "Room"
                )
            ]
        },
        "managingOrganization": {"reference": f"Organization/{room.centre_id}"},
    }


def practitioner(person: Practitioner) -> list[Resource]:
    """A Practitioner and their PractitionerRole at their organisation."""
    role_code = (person.role, _STAFF_ROLE_DISPLAY[person.role])
    return [
        {
            "resourceType": "Practitioner",
            "id": person.id,
            "identifier": [{"system": t.SID_STAFF_ID, "value": person.id}],
            "active": True,
            "name": [{"text": person.name, "family": person.name[0], "given": [person.name[1:]]}],
            "gender": person.gender,
        },
        {
            "resourceType": "PractitionerRole",
            "id": f"{person.id}-role",
            "active": True,
            "practitioner": {"reference": f"Practitioner/{person.id}"},
            "organization": {"reference": f"Organization/{person.org_id}"},
            "code": [
                {
                    "coding": [
                        _coding(
                            f"{t.CANONICAL_BASE}/CodeSystem/staff-role", role_code[0], role_code[1]
                        )
                    ]
                }
            ],
        },
    ]


def district_bundle(district: District) -> Resource:
    """The transaction Bundle with the areas (province > city > district), the
    organisations, classes, staff and the areas' health officials."""
    entries = [_put(organization(o)) for o in jurisdictions()]
    entries += [_put(organization(o)) for o in district.organizations]
    entries += [_put(location(r)) for r in district.classes]
    for person in [*district.practitioners, *officials()]:
        entries += [_put(r) for r in practitioner(person)]
    return _bundle(entries)


def patient(child: Child, guardians: list[Guardian], birth_weight_kg: float | None) -> Resource:
    """The child as a Patient: birth weight, gestational age, enrolment, guardian links."""
    extensions: list[dict[str, Any]] = []
    if birth_weight_kg is not None:
        extensions.append(
            {
                "url": BIRTH_WEIGHT_EXTENSION,
                "valueQuantity": {
                    "value": round(birth_weight_kg * 1000),
                    "unit": "g",
                    "system": t.UCUM,
                    "code": "g",
                },
            }
        )
    extensions.append(
        {
            "url": GESTATIONAL_AGE_EXTENSION,
            "valueQuantity": {
                "value": child.gestational_age_weeks,
                "unit": "wk",
                "system": t.UCUM,
                "code": "wk",
            },
        }
    )
    resource: Resource = {
        "resourceType": "Patient",
        "id": child.id,
        "meta": _meta("hb-child"),
        "extension": extensions,
        "identifier": [{"system": t.SID_CHILD_ID, "value": child.record_number}],
        "active": True,
        "name": [
            {
                "text": child.family_name + child.given_name,
                "family": child.family_name,
                "given": [child.given_name],
            }
        ],
        "gender": "male" if int(child.sex) == 1 else "female",
        "birthDate": child.birth_date.isoformat(),
        "link": [
            {"other": {"reference": f"RelatedPerson/{g.id}"}, "type": "seealso"} for g in guardians
        ],
    }
    if not guardians:
        del resource["link"]
    if child.centre_id and child.class_id and child.enrolled_since:
        extensions.append(
            {
                "url": ENROLLMENT_EXTENSION,
                "extension": [
                    {
                        "url": "centre",
                        "valueReference": {"reference": f"Organization/{child.centre_id}"},
                    },
                    {"url": "class", "valueReference": {"reference": f"Location/{child.class_id}"}},
                    {"url": "period", "valuePeriod": {"start": child.enrolled_since.isoformat()}},
                    *(
                        [{"url": ADMISSION_STATE_PART, "valueCode": child.admission_state}]
                        if child.admission_state
                        else []
                    ),
                ],
            }
        )
    return resource


def related_person(guardian: Guardian) -> Resource:
    """A guardian (监护人) linked to the child."""
    return {
        "resourceType": "RelatedPerson",
        "id": guardian.id,
        "meta": _meta("hb-guardian"),
        "active": True,
        "patient": {"reference": f"Patient/{guardian.child_id}"},
        "relationship": [
            {
                "coding": [
                    _coding(
                        t.V3_ROLE_CODE,
                        guardian.relationship,
                        _RELATIONSHIP_DISPLAY[guardian.relationship],
                    ),
                ]
            }
        ],
        "name": [
            {
                "text": guardian.family_name + guardian.given_name,
                "family": guardian.family_name,
                "given": [guardian.given_name],
            }
        ],
        "telecom": [{"system": "phone", "value": guardian.phone, "use": "mobile"}],
        "gender": guardian.gender,
    }


def consent(child: Child, guardian: Guardian, as_of: dt.date) -> Resource:
    """The guardian's consent to share the child's record with the child's hospital."""
    return {
        "resourceType": "Consent",
        "id": f"consent-{child.id}-{child.hospital_id}",
        "meta": _meta("hb-data-sharing-consent"),
        "status": "active",
        "scope": {
            "coding": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/consentscope",
                    "patient-privacy",
                    "Privacy Consent",
                )
            ]
        },
        "category": [{"coding": [_coding(t.LOINC, "59284-0", "Patient Consent")]}],
        "patient": {"reference": f"Patient/{child.id}"},
        "dateTime": instant(child.enrolled_since or child.birth_date),
        "performer": [{"reference": f"RelatedPerson/{guardian.id}"}],
        "organization": [{"reference": f"Organization/{child.hospital_id}"}],
        "policyRule": {"coding": [_coding(t.V3_ACT_CODE, "OPTIN", "opt-in")]},
        "provision": {
            "type": "permit",
            "period": {
                "start": (child.enrolled_since or child.birth_date).isoformat(),
                "end": dt.date(as_of.year + 3, 12, 31).isoformat(),
            },
            "actor": [
                {
                    "role": {
                        "coding": [
                            _coding(
                                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "IRCP",
                                "information recipient",
                            )
                        ]
                    },
                    "reference": {"reference": f"Organization/{child.hospital_id}"},
                }
            ],
            "purpose": [
                _coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT", "treatment")
            ],
        },
    }


#: Our profile for each LOINC measurement code.
_PROFILE_BY_LOINC = {
    t.LOINC_BODY_WEIGHT: "hb-body-weight",
    t.LOINC_BODY_LENGTH: "hb-body-length",
    t.LOINC_BODY_HEIGHT: "hb-body-height",
    t.LOINC_HEAD_CIRCUMFERENCE: "hb-head-circumference",
    t.LOINC_HAEMOGLOBIN: "hb-haemoglobin",
    t.LOINC_BODY_TEMPERATURE: "hb-body-temperature",
}


def _observation(
    oid: str,
    child_id: str,
    code: tuple[str, str],
    when: str,
    *,
    category: str = "vital-signs",
    encounter: str | None = None,
    performer: str | None = None,
) -> Resource:
    resource: Resource = {"resourceType": "Observation", "id": oid}
    if code[0] in _PROFILE_BY_LOINC:
        resource["meta"] = _meta(_PROFILE_BY_LOINC[code[0]])
    resource |= {
        "status": "final",
        "category": [{"coding": [_coding(t.OBSERVATION_CATEGORY, category)]}],
        "code": {"coding": [_coding(t.LOINC, code[0], code[1])], "text": code[1]},
        "subject": {"reference": f"Patient/{child_id}"},
        "effectiveDateTime": when,
    }
    if encounter:
        resource["encounter"] = {"reference": f"Encounter/{encounter}"}
    if performer:
        resource["performer"] = [{"reference": f"Practitioner/{performer}"}]
    return resource


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": t.UCUM, "code": unit}


def visit_resources(visit: pd.Series, n: int) -> list[Resource]:
    """One checkup or centre measurement session: the Encounter and its Observations."""
    child_id = str(visit["child_id"])
    day: dt.date = visit["date"]
    enc_id = f"enc-{child_id}-{n:02d}"
    when = instant(day)
    enc: Resource = {
        "resourceType": "Encounter",
        "id": enc_id,
        "meta": _meta("hb-checkup-encounter"),
        "status": "finished",
        # the checkup profile fixes class AMB, also for home visits and centre sessions
        "class": _coding(t.V3_ACT_CODE, "AMB", "ambulatory"),
        "type": [{"coding": [_coding(t.CS_CHECKUP_VISIT, str(visit["visit"]))]}],
        "subject": {"reference": f"Patient/{child_id}"},
        "participant": [{"individual": {"reference": f"Practitioner/{visit['practitioner_id']}"}}],
        "period": {"start": when, "end": when},
        "serviceProvider": {"reference": f"Organization/{visit['place_id']}"},
    }
    out = [enc]
    common = {"encounter": enc_id, "performer": str(visit["practitioner_id"])}
    weight = _observation(
        f"obs-{child_id}-{n:02d}-wt", child_id, _MEASUREMENT_CODES["weight_kg"][:2], when, **common
    )
    weight["valueQuantity"] = _quantity(float(visit["weight_kg"]), "kg")
    out.append(weight)
    code = _LENGTH if visit["measure"] == "l" else _HEIGHT
    length = _observation(f"obs-{child_id}-{n:02d}-len", child_id, code, when, **common)
    length["valueQuantity"] = _quantity(float(visit["lenhei_cm"]), "cm")
    out.append(length)
    if pd.notna(visit["headc_cm"]):
        hc = _observation(
            f"obs-{child_id}-{n:02d}-hc",
            child_id,
            _MEASUREMENT_CODES["headc_cm"][:2],
            when,
            **common,
        )
        hc["valueQuantity"] = _quantity(float(visit["headc_cm"]), "cm")
        out.append(hc)
    if pd.notna(visit["hb_g_l"]):
        hb = _observation(
            f"obs-{child_id}-{n:02d}-hb",
            child_id,
            (t.LOINC_HAEMOGLOBIN, "Hemoglobin [Mass/volume] in Blood"),
            when,
            category="laboratory",
            **common,
        )
        hb["valueQuantity"] = _quantity(float(visit["hb_g_l"]), "g/L")
        out.append(hb)
    # the screenings of the visit, as the visit form writes them
    entries = visit.get("screenings")
    for obs in screening_observations(
        tuple(entries) if isinstance(entries, tuple) else (),
        patient={"reference": f"Patient/{child_id}"},
        encounter={"reference": f"Encounter/{enc_id}"},
        when=when,
        performer=[{"reference": f"Practitioner/{visit['practitioner_id']}"}],
    ):
        obs["id"] = f"obs-{child_id}-{n:02d}-{obs['code']['coding'][0]['code']}"
        out.append(obs)
    return out


def daily_check_resources(check: pd.Series, n: int) -> list[Resource]:
    """A morning check (晨检): the axillary temperature and any symptoms seen."""
    child_id = str(check["child_id"])
    when = instant(check["date"], hour=8)
    temp = _observation(
        f"obs-{child_id}-dc{n:03d}-temp",
        child_id,
        (t.LOINC_BODY_TEMPERATURE, "Body temperature"),
        when,
    )
    temp["valueQuantity"] = _quantity(float(check["temperature_c"]), "Cel")
    temp["bodySite"] = {"coding": [_coding(t.SNOMED, "91470000", "Axillary region")]}
    out = [temp]
    for k, symptom in enumerate(check["symptoms"]):
        obs = _observation(
            f"obs-{child_id}-dc{n:03d}-sym{k}",
            child_id,
            ("75325-1", "Symptom"),
            when,
            category="survey",
        )
        obs["valueCodeableConcept"] = {"coding": [_coding(t.CS_SYMPTOM, symptom)]}
        out.append(obs)
    return out


def immunization(dose: pd.Series, schedule: str) -> Resource:
    """One NIP dose as an Immunization, coded in our NIP system and mapped to CVX."""
    from fhir_profiles.terminology import translate

    vaccine = str(dose["vaccine"])
    codings = [_coding(t.CS_NIP_VACCINE, vaccine)]
    for target in translate(NIP_CONCEPT_MAP, t.CS_NIP_VACCINE, vaccine, t.CVX):
        if target.code is not None and target.equivalence in ("equivalent", "equal"):
            codings.append(_coding(t.CVX, target.code))
    day: dt.date = dose["date"]
    return {
        "resourceType": "Immunization",
        "id": f"imm-{dose['child_id']}-{dose['series']}-{int(dose['dose'])}",
        "meta": _meta("hb-immunization"),
        "status": "completed",
        "vaccineCode": {"coding": codings},
        "patient": {"reference": f"Patient/{dose['child_id']}"},
        "occurrenceDateTime": instant(day, hour=10),
        "lotNumber": str(dose["lot"]),
        "performer": [{"actor": {"reference": f"Organization/{dose['place_id']}"}}],
        "protocolApplied": [
            {"series": f"NIP {schedule}", "doseNumberPositiveInt": int(dose["dose"])}
        ],
    }


def child_bundles(district: District) -> Iterator[Resource]:
    """One transaction Bundle per child, in child order."""
    guardians: dict[str, list[Guardian]] = {}
    for g in district.guardians:
        guardians.setdefault(g.child_id, []).append(g)
    visits_by_child = dict(tuple(district.visits.groupby("child_id", sort=False)))
    checks_by_child = dict(tuple(district.daily_checks.groupby("child_id", sort=False)))
    doses_by_child = dict(tuple(district.doses.groupby("child_id", sort=False)))
    edition = district.schedule.removeprefix("nip-")
    for child in district.children:
        child_visits = visits_by_child.get(child.id)
        birth_weight = None
        if child_visits is not None:
            birth = child_visits[child_visits["visit"] == "birth"]
            if len(birth):
                birth_weight = float(birth["weight_kg"].iloc[0])
        entries = [_put(patient(child, guardians.get(child.id, []), birth_weight))]
        entries += [_put(related_person(g)) for g in guardians.get(child.id, [])]
        if child.consent_to_hospital and guardians.get(child.id):
            entries.append(_put(consent(child, guardians[child.id][0], district.as_of)))
        if child_visits is not None:
            for n, (_i, row) in enumerate(child_visits.iterrows(), start=1):
                entries += [_put(r) for r in visit_resources(row, n)]
        checks = checks_by_child.get(child.id)
        if checks is not None:
            for n, (_i, row) in enumerate(checks.iterrows(), start=1):
                entries += [_put(r) for r in daily_check_resources(row, n)]
        doses = doses_by_child.get(child.id)
        if doses is not None:
            entries += [_put(immunization(row, edition)) for _i, row in doses.iterrows()]
        yield _bundle(entries)


def bundles(district: District) -> Iterator[Resource]:
    """All transaction Bundles for the district: organisations first, then each child."""
    yield district_bundle(district)
    yield from child_bundles(district)
