"""Profiles for people and places: child, guardian, organisation, visit (their extensions are
in :mod:`.profiles_extensions`)."""

from __future__ import annotations

from .common import (
    CORE,
    JSON,
    ORG_TYPE,
    SID_CHILD,
    SID_ORG,
    SID_RESIDENT,
    SNOMED,
    V3_ACT_CODE,
    V3_ROLE,
    coding,
    cs_url,
    el,
    inv,
    quantity,
    ref,
    required,
    sd_url,
)
from .spec import CHILD_REF, Invalid, Profile, meta


def child() -> Profile:
    pid = "hb-child"
    c1 = inv(
        "hb-child-1",
        "The child has a HealthBridge child health record number.",
        f"identifier.where(system='{SID_CHILD}').exists()",
    )
    elements = [
        el(
            "Patient",
            short="Child (0-6 years)",
            definition=(
                "A child whose health record is shared by hospitals, childcare centres and parents."
            ),
            constraint=[c1],
        ),
        el(
            "Patient.extension",
            slicing={
                "discriminator": [{"type": "value", "path": "url"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Patient.extension:birthWeight",
            sliceName="birthWeight",
            min=0,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("birth-weight")]}],
        ),
        el("Patient.extension:birthWeight.url", fixedUri=sd_url("birth-weight")),
        el(
            "Patient.extension:gestationalAge",
            sliceName="gestationalAge",
            min=0,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("gestational-age")]}],
        ),
        el("Patient.extension:gestationalAge.url", fixedUri=sd_url("gestational-age")),
        el(
            "Patient.extension:maternalHbsag",
            sliceName="maternalHbsag",
            min=0,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("maternal-hbsag")]}],
        ),
        el("Patient.extension:maternalHbsag.url", fixedUri=sd_url("maternal-hbsag")),
        el(
            "Patient.extension:enrollment",
            sliceName="enrollment",
            min=0,
            max="*",
            type=[{"code": "Extension", "profile": [sd_url("childcare-enrollment")]}],
        ),
        el("Patient.extension:enrollment.url", fixedUri=sd_url("childcare-enrollment")),
        el("Patient.identifier", min=1),
        el("Patient.name", min=1),
        el("Patient.gender", min=1),
        el("Patient.birthDate", min=1),
        el("Patient.link.other", type=ref("hb-guardian", "Patient")),
    ]
    valid: JSON = {
        "resourceType": "Patient",
        "id": "child-1",
        "meta": meta(pid),
        "extension": [
            {"url": sd_url("birth-weight"), "valueQuantity": quantity(3250, "g")},
            {"url": sd_url("gestational-age"), "valueQuantity": quantity(39, "wk")},
            {
                "url": sd_url("childcare-enrollment"),
                "extension": [
                    {"url": "centre", "valueReference": {"reference": "Organization/centre-1"}},
                    {"url": "class", "valueReference": {"reference": "Location/class-1"}},
                    {"url": "period", "valuePeriod": {"start": "2026-03-01"}},
                    {"url": "admission-check-state", "valueCode": "assessed_incomplete"},
                ],
            },
            {"url": sd_url("maternal-hbsag"), "valueCode": "negative"},
        ],
        "identifier": [
            {"system": SID_CHILD, "value": "C-2025-000123"},
            {"system": SID_RESIDENT, "value": "110105********0021"},
        ],
        "name": [{"text": "王小雨", "family": "王", "given": ["小雨"]}],
        "gender": "female",
        "birthDate": "2025-06-03",
        "link": [{"other": {"reference": "RelatedPerson/guardian-1"}, "type": "seealso"}],
    }
    invalid = [
        Invalid(
            "no-birth-date", [("del", ["birthDate"], None)], [("Patient.birthDate", "required")]
        ),
        Invalid(
            "birth-weight-kg",
            [("set", ["extension", 0, "valueQuantity"], quantity(3.25, "kg"))],
            [("Patient.extension[0].valueQuantity.code", "value")],
        ),
        Invalid(
            "enrollment-without-centre",
            [("del", ["extension", 2, "extension", 0], None)],
            [("Patient.extension[2].extension", "required")],
        ),
        Invalid(
            "unknown-maternal-hbsag",
            [("set", ["extension", 3, "valueCode"], "maybe")],
            [("Patient.extension[3].valueCode", "code-invalid")],
        ),
        Invalid(
            "unknown-admission-state",
            [("set", ["extension", 2, "extension", 3, "valueCode"], "approved")],
            [("Patient.extension[2].extension[3].valueCode", "code-invalid")],
        ),
        Invalid(
            "no-child-id",
            [("set", ["identifier"], [{"system": SID_RESIDENT, "value": "110105********0021"}])],
            [("Patient", "invariant")],
        ),
        Invalid(
            "bad-birth-date",
            [("set", ["birthDate"], "2025/06/03")],
            [("Patient.birthDate", "value")],
            base_r4=True,
        ),
        Invalid(
            "unknown-element",
            [("set", ["birthWeight"], 3250)],
            [("Patient.birthWeight", "structure")],
            base_r4=True,
        ),
    ]
    return Profile(
        pid,
        "Patient",
        CORE + "Patient",
        "Child",
        (
            "The child: birth date, sex, birth weight and gestational age, a child "
            "health record number and a link to the guardian."
        ),
        elements,
        valid=valid,
        invalid=invalid,
    )


def guardian() -> Profile:
    pid = "hb-guardian"
    elements = [
        el(
            "RelatedPerson",
            short="Guardian",
            definition=(
                "A parent or other legal guardian of the child (监护人), who consents to "
                "sharing and sees the child's record."
            ),
        ),
        el("RelatedPerson.patient", type=ref("hb-child")),
        el("RelatedPerson.relationship", min=1, binding=required("guardian-relationship")),
        el("RelatedPerson.name", min=1),
        el("RelatedPerson.telecom", min=1),
    ]
    valid: JSON = {
        "resourceType": "RelatedPerson",
        "id": "guardian-1",
        "meta": meta(pid),
        "active": True,
        "patient": CHILD_REF,
        "relationship": [{"coding": [coding(V3_ROLE, "MTH", "mother")]}],
        "name": [{"text": "李娟", "family": "李", "given": ["娟"]}],
        "telecom": [{"system": "phone", "value": "138-0000-0000", "use": "mobile"}],
    }
    invalid = [
        Invalid(
            "neighbour",
            [("set", ["relationship"], [{"coding": [coding(V3_ROLE, "NBOR", "neighbor")]}])],
            [("RelatedPerson.relationship[0]", "code-invalid")],
        ),
        Invalid(
            "no-telecom", [("del", ["telecom"], None)], [("RelatedPerson.telecom", "required")]
        ),
        Invalid(
            "no-patient",
            [("del", ["patient"], None)],
            [("RelatedPerson.patient", "required")],
            base_r4=True,
        ),
    ]
    return Profile(
        pid,
        "RelatedPerson",
        CORE + "RelatedPerson",
        "Guardian",
        "The child's parent or guardian.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def organization() -> Profile:
    pid = "hb-organization"
    o1 = inv(
        "hb-org-1",
        "The organisation has an organisation code.",
        f"identifier.where(system='{SID_ORG}').exists()",
    )
    elements = [
        el(
            "Organization",
            short="Childcare centre or health institution",
            definition=(
                "A childcare centre, kindergarten, hospital, health centre or CDC "
                "taking part in the record."
            ),
            constraint=[o1],
        ),
        el(
            "Organization.extension",
            slicing={
                "discriminator": [{"type": "value", "path": "url"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Organization.extension:places",
            sliceName="places",
            min=0,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("childcare-places")]}],
        ),
        el("Organization.extension:places.url", fixedUri=sd_url("childcare-places")),
        el(
            "Organization.extension:population",
            sliceName="population",
            min=0,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("area-population")]}],
        ),
        el("Organization.extension:population.url", fixedUri=sd_url("area-population")),
        el(
            "Organization.extension:agreement",
            sliceName="agreement",
            min=0,
            max="*",
            type=[{"code": "Extension", "profile": [sd_url("childcare-agreement")]}],
        ),
        el("Organization.extension:agreement.url", fixedUri=sd_url("childcare-agreement")),
        el("Organization.identifier", min=1),
        el("Organization.type", min=1, binding=required("organization-kind")),
        el("Organization.name", min=1),
    ]
    valid: JSON = {
        "resourceType": "Organization",
        "id": "centre-1",
        "meta": meta(pid),
        "extension": [
            {"url": sd_url("childcare-places"), "valueInteger": 80},
            {
                "url": sd_url("childcare-agreement"),
                "extension": [
                    {"url": "hospital", "valueReference": {"reference": "Organization/chc-1"}},
                    {"url": "period", "valuePeriod": {"start": "2026-01-01"}},
                ],
            },
        ],
        "active": True,
        "identifier": [{"system": SID_ORG, "value": "TY-110105-0007"}],
        "type": [
            {
                "coding": [
                    coding(
                        cs_url("organization-kind"),
                        "childcare-centre",
                        "Childcare centre (托育机构)",
                    )
                ]
            }
        ],
        "name": "朝阳区小太阳托育中心",
    }
    invalid = [
        Invalid(
            "hl7-type-only",
            [("set", ["type"], [{"coding": [coding(ORG_TYPE, "prov")]}])],
            [("Organization.type[0]", "code-invalid")],
        ),
        Invalid("no-name", [("del", ["name"], None)], [("Organization.name", "required")]),
        Invalid(
            "agreement-without-hospital",
            [("del", ["extension", 1, "extension", 0], None)],
            [("Organization.extension[1].extension", "required")],
        ),
        Invalid(
            "places-as-text",
            [("set", ["extension", 0], {"url": sd_url("childcare-places"), "valueString": "80"})],
            [
                ("Organization.extension[0].valueString", "structure"),
                ("Organization.extension[0].value", "required"),
            ],
        ),
        Invalid(
            "no-org-code",
            [("set", ["identifier"], [{"system": "urn:oid:1.2.3", "value": "x"}])],
            [("Organization", "invariant")],
        ),
    ]
    return Profile(
        pid,
        "Organization",
        CORE + "Organization",
        "Organisation",
        "A childcare centre or health institution, typed by organization-kind.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def encounter() -> Profile:
    pid = "hb-checkup-encounter"
    e1 = inv(
        "hb-enc-1",
        "A finished visit does not end before it starts.",
        "period.end.exists() implies period.start <= period.end",
    )
    elements = [
        el(
            "Encounter",
            short="Checkup visit",
            definition=(
                "A child health checkup, an admission examination, a centre growth "
                "measurement or a daily health check."
            ),
            constraint=[e1],
        ),
        el("Encounter.class", patternCoding={"system": V3_ACT_CODE, "code": "AMB"}),
        el("Encounter.type", min=1, max="1", binding=required("checkup-visit")),
        el("Encounter.subject", min=1, type=ref("hb-child")),
        el("Encounter.period", min=1),
        el("Encounter.period.start", min=1),
        el("Encounter.serviceProvider", type=ref("hb-organization")),
    ]
    valid: JSON = {
        "resourceType": "Encounter",
        "id": "checkup-1",
        "meta": meta(pid),
        "status": "finished",
        "class": coding(V3_ACT_CODE, "AMB", "ambulatory"),
        "type": [{"coding": [coding(cs_url("checkup-visit"), "12m", "12-month checkup")]}],
        "subject": CHILD_REF,
        "period": {"start": "2026-06-05T09:00:00+08:00", "end": "2026-06-05T09:40:00+08:00"},
        "serviceProvider": {"reference": "Organization/chc-1"},
    }
    invalid = [
        Invalid(
            "wrong-type",
            [("set", ["type"], [{"coding": [coding(SNOMED, "410620009")]}])],
            [("Encounter.type[0]", "code-invalid")],
        ),
        Invalid(
            "ends-before-start",
            [("set", ["period", "end"], "2026-06-05T08:00:00+08:00")],
            [("Encounter", "invariant")],
        ),
        Invalid(
            "inpatient",
            [("set", ["class"], coding(V3_ACT_CODE, "IMP"))],
            [("Encounter.class", "value")],
        ),
        Invalid(
            "no-start",
            [("del", ["period", "start"], None)],
            [("Encounter.period.start", "required"), ("Encounter", "invariant")],
        ),
    ]
    return Profile(
        pid,
        "Encounter",
        CORE + "Encounter",
        "Checkup visit",
        "A checkup visit typed by checkup-visit.",
        elements,
        valid=valid,
        invalid=invalid,
    )
