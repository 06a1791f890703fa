"""Differentials of our StructureDefinitions, with one valid and several invalid examples each.

Each invalid example is the valid one with a few edits and lists the issues the Python validator
must report (FHIRPath location and OperationOutcome issue type). ``base_r4`` marks examples that
break base R4 itself, which the independent Medplum validator must also reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import (
    CONSENT_SCOPE,
    CORE,
    JSON,
    LOINC,
    OBS_CATEGORY,
    ORG_TYPE,
    SID_CHILD,
    SID_ORG,
    SID_RESIDENT,
    SNOMED,
    UCUM,
    V3_ACT_CODE,
    V3_ACT_REASON,
    V3_INTERP,
    V3_PARTICIPATION,
    V3_ROLE,
    coding,
    cs_url,
    el,
    inv,
    q_url,
    quantity,
    ref,
    required,
    sd_url,
)

Op = tuple[str, list[str | int], Any]

#: Slicing of a repeating CodeableConcept by pattern.
PATTERN_SLICING = {
    "discriminator": [{"type": "pattern", "path": "$this"}],
    "ordered": False,
    "rules": "open",
}
#: Slicing of a choice element by type, as in the core vital-signs profiles.
TYPE_SLICING = {
    "discriminator": [{"type": "type", "path": "$this"}],
    "ordered": False,
    "rules": "closed",
}


@dataclass(frozen=True)
class Invalid:
    """An invalid example: edits applied to the valid one, and the issues expected."""

    slug: str
    ops: list[Op]
    issues: list[tuple[str, str]]
    base_r4: bool = False


@dataclass(frozen=True)
class Profile:
    """A profile's compact source."""

    id: str
    type: str
    base: str
    title: str
    description: str
    elements: list[JSON]
    kind: str = "resource"
    context: list[JSON] = field(default_factory=list)
    valid: JSON | None = None
    invalid: list[Invalid] = field(default_factory=list)


def meta(profile_id: str) -> JSON:
    return {"profile": [sd_url(profile_id)]}


CHILD_REF = {"reference": "Patient/child-1"}


def _extension(ext_id: str, title: str, description: str, value_elements: list[JSON]) -> Profile:
    return Profile(
        id=ext_id,
        type="Extension",
        base=CORE + "Extension",
        title=title,
        description=description,
        kind="complex-type",
        context=[
            {"type": "element", "expression": "Patient" if ext_id != "alert-severity" else "Flag"}
        ],
        elements=[
            el("Extension", short=title, definition=description),
            el("Extension.extension", max="0"),
            el("Extension.url", fixedUri=sd_url(ext_id)),
            *value_elements,
        ],
    )


def extensions() -> list[Profile]:
    qty = [{"code": "Quantity"}]
    return [
        _extension(
            "birth-weight",
            "Birth weight",
            "Weight at birth, in grams (出生体重).",
            [
                el("Extension.value[x]", min=1, type=qty, slicing=TYPE_SLICING),
                el("Extension.value[x]:valueQuantity", sliceName="valueQuantity", min=1, type=qty),
                el("Extension.value[x]:valueQuantity.value", min=1),
                el("Extension.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
                el("Extension.value[x]:valueQuantity.code", min=1, fixedCode="g"),
            ],
        ),
        _extension(
            "gestational-age",
            "Gestational age at birth",
            "Completed gestational age at birth, in weeks (出生胎龄); used for corrected age.",
            [
                el("Extension.value[x]", min=1, type=qty, slicing=TYPE_SLICING),
                el("Extension.value[x]:valueQuantity", sliceName="valueQuantity", min=1, type=qty),
                el("Extension.value[x]:valueQuantity.value", min=1),
                el("Extension.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
                el("Extension.value[x]:valueQuantity.code", min=1, fixedCode="wk"),
            ],
        ),
        _extension(
            "alert-severity",
            "Alert severity",
            "How urgently an early-intervention alert needs review.",
            [
                el(
                    "Extension.value[x]",
                    min=1,
                    type=[{"code": "code"}],
                    binding=required("alert-severity"),
                )
            ],
        ),
    ]


def _vital(
    pid: str,
    base: str,
    title: str,
    desc: str,
    loinc: str | None,
    unit: str,
    value: float,
    wrong_unit: str,
) -> Profile:
    """A growth / vital-sign measurement profile on a core vital-signs profile."""
    elements: list[JSON] = [el("Observation", short=title, definition=desc)]
    if loinc is not None:  # base is the generic vitalsigns profile: add the code slice
        elements += [
            el(
                "Observation.code.coding",
                slicing={
                    "discriminator": [
                        {"type": "value", "path": "code"},
                        {"type": "value", "path": "system"},
                    ],
                    "ordered": False,
                    "rules": "open",
                },
            ),
            el("Observation.code.coding:LengthCode", sliceName="LengthCode", min=1, max="1"),
            el("Observation.code.coding:LengthCode.system", min=1, fixedUri=LOINC),
            el("Observation.code.coding:LengthCode.code", min=1, fixedCode=loinc),
            el("Observation.value[x]", type=[{"code": "Quantity"}], slicing=TYPE_SLICING),
            el(
                "Observation.value[x]:valueQuantity",
                sliceName="valueQuantity",
                type=[{"code": "Quantity"}],
            ),
            el("Observation.value[x]:valueQuantity.value", min=1),
            el("Observation.value[x]:valueQuantity.unit", min=1),
            el("Observation.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
        ]
    elements += [
        el("Observation.subject", type=ref("hb-child")),
        el("Observation.encounter", type=ref("hb-checkup-encounter")),
        el("Observation.value[x]:valueQuantity.code", min=1, fixedCode=unit),
    ]
    code = {
        "hb-body-weight": ("29463-7", "Body weight"),
        "hb-body-length": ("8306-3", "Body height --lying"),
        "hb-body-height": ("8302-2", "Body height"),
        "hb-head-circumference": ("9843-4", "Head Occipital-frontal circumference"),
        "hb-bmi": ("39156-5", "Body mass index (BMI) [Ratio]"),
        "hb-body-temperature": ("8310-5", "Body temperature"),
    }[pid]
    valid: JSON = {
        "resourceType": "Observation",
        "id": f"{pid.removeprefix('hb-')}-example",
        "meta": meta(pid),
        "status": "final",
        "category": [{"coding": [coding(OBS_CATEGORY, "vital-signs", "Vital Signs")]}],
        "code": {"coding": [coding(LOINC, code[0], code[1])], "text": code[1]},
        "subject": CHILD_REF,
        "encounter": {"reference": "Encounter/checkup-1"},
        "effectiveDateTime": "2026-05-12T09:30:00+08:00",
        "valueQuantity": quantity(value, unit),
    }
    invalid = [
        Invalid(
            "wrong-unit",
            [
                ("set", ["valueQuantity", "code"], wrong_unit),
                ("set", ["valueQuantity", "unit"], wrong_unit),
            ],
            [("Observation.valueQuantity.code", "value")],
        ),
        Invalid(
            "subject-not-child",
            [("set", ["subject"], {"reference": "Group/class-1"})],
            [("Observation.subject", "invalid")],
        ),
        Invalid(
            "no-status",
            [("del", ["status"], None)],
            [("Observation.status", "required")],
            base_r4=True,
        ),
    ]
    return Profile(pid, "Observation", base, title, desc, elements, valid=valid, invalid=invalid)


def measurements() -> list[Profile]:
    return [
        _vital(
            "hb-body-weight",
            CORE + "bodyweight",
            "Child body weight",
            "Body weight (LOINC 29463-7) in kg, on the core body-weight profile.",
            None,
            "kg",
            7.9,
            "g",
        ),
        _vital(
            "hb-body-length",
            CORE + "vitalsigns",
            "Child recumbent length",
            (
                "Body length measured lying down (LOINC 8306-3) in cm; used under 2 "
                "years (WHO 0.7 cm rule)."
            ),
            "8306-3",
            "cm",
            68.4,
            "mm",
        ),
        _vital(
            "hb-body-height",
            CORE + "bodyheight",
            "Child standing height",
            "Body height measured standing (LOINC 8302-2) in cm.",
            None,
            "cm",
            86.0,
            "[in_i]",
        ),
        _vital(
            "hb-head-circumference",
            CORE + "headcircum",
            "Child head circumference",
            "Head occipital-frontal circumference (LOINC 9843-4) in cm.",
            None,
            "cm",
            44.1,
            "[in_i]",
        ),
        _vital(
            "hb-bmi",
            CORE + "bmi",
            "Child BMI",
            "Body mass index (LOINC 39156-5) in kg/m2.",
            None,
            "kg/m2",
            16.9,
            "[lb_av]/[in_i]2",
        ),
        _vital(
            "hb-body-temperature",
            CORE + "bodytemp",
            "Body temperature at the daily health check",
            (
                "Body temperature (LOINC 8310-5) in Cel, as taken at the childcare "
                "morning/noon check (晨午检) or a visit."
            ),
            None,
            "Cel",
            36.8,
            "[degF]",
        ),
    ]


def haemoglobin() -> Profile:
    pid = "hb-haemoglobin"
    lab = {"coding": [coding(OBS_CATEGORY, "laboratory")]}
    hb_code = {"coding": [coding(LOINC, "718-7")]}
    elements = [
        el(
            "Observation",
            short="Haemoglobin",
            definition=(
                "Blood haemoglobin (LOINC 718-7) in g/L, as screened at 6, 8, 18 and 30 "
                "months and yearly at the centre."
            ),
        ),
        el("Observation.category", min=1, slicing=PATTERN_SLICING),
        el("Observation.category:lab", sliceName="lab", min=1, max="1", patternCodeableConcept=lab),
        el("Observation.code", patternCodeableConcept=hb_code),
        el("Observation.subject", min=1, type=ref("hb-child")),
        el("Observation.effective[x]", min=1, type=[{"code": "dateTime"}]),
        el("Observation.value[x]", type=[{"code": "Quantity"}], slicing=TYPE_SLICING),
        el(
            "Observation.value[x]:valueQuantity",
            sliceName="valueQuantity",
            type=[{"code": "Quantity"}],
        ),
        el("Observation.value[x]:valueQuantity.value", min=1),
        el("Observation.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
        el("Observation.value[x]:valueQuantity.code", min=1, fixedCode="g/L"),
    ]
    valid: JSON = {
        "resourceType": "Observation",
        "id": "haemoglobin-example",
        "meta": meta(pid),
        "status": "final",
        "category": [{"coding": [coding(OBS_CATEGORY, "laboratory", "Laboratory")]}],
        "code": {"coding": [coding(LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood")]},
        "subject": CHILD_REF,
        "effectiveDateTime": "2026-05-12",
        "valueQuantity": quantity(118, "g/L"),
    }
    invalid = [
        Invalid(
            "g-dl",
            [("set", ["valueQuantity"], quantity(11.8, "g/dL"))],
            [("Observation.valueQuantity.code", "value")],
        ),
        Invalid(
            "no-lab-category",
            [("set", ["category"], [{"coding": [coding(OBS_CATEGORY, "vital-signs")]}])],
            [("Observation.category", "required")],
        ),
        Invalid(
            "wrong-code",
            [("set", ["code"], {"coding": [coding(LOINC, "29463-7")]})],
            [("Observation.code", "value")],
        ),
    ]
    return Profile(
        pid,
        "Observation",
        CORE + "Observation",
        "Haemoglobin",
        "Blood haemoglobin in g/L (LOINC 718-7).",
        elements,
        valid=valid,
        invalid=invalid,
    )


GS = cs_url("growth-indicator")


def growth_score() -> Profile:
    pid = "hb-growth-score"
    z = inv(
        "hb-gs-1",
        "A z-score (code ending -z) is dimensionless: valueQuantity.code = '{Z-score}'.",
        (
            f"code.coding.where(system='{GS}' and code.endsWith('-z')).exists() "
            f"implies value.ofType(Quantity).code = '{{Z-score}}'"
        ),
    )
    p = inv(
        "hb-gs-2",
        "A percentile (code ending -p) is in % between 0 and 100.",
        (
            f"code.coding.where(system='{GS}' and code.endsWith('-p')).exists() "
            f"implies (value.ofType(Quantity).code = '%' and "
            f"value.ofType(Quantity).value >= 0 and value.ofType(Quantity).value <= "
            f"100)"
        ),
    )
    elements = [
        el(
            "Observation",
            short="Growth z-score or percentile",
            definition=(
                "A z-score or percentile derived from a growth measurement against a "
                "growth standard."
            ),
            constraint=[z, p],
        ),
        el(
            "Observation.code.coding",
            min=1,
            slicing={
                "discriminator": [{"type": "value", "path": "system"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Observation.code.coding:indicator",
            sliceName="indicator",
            min=1,
            max="1",
            binding=required("growth-score-code"),
        ),
        el("Observation.code.coding:indicator.system", min=1, fixedUri=GS),
        el("Observation.code.coding:indicator.code", min=1),
        el("Observation.subject", min=1, type=ref("hb-child")),
        el("Observation.effective[x]", min=1, type=[{"code": "dateTime"}]),
        el("Observation.value[x]", min=1, type=[{"code": "Quantity"}], slicing=TYPE_SLICING),
        el(
            "Observation.value[x]:valueQuantity",
            sliceName="valueQuantity",
            min=1,
            type=[{"code": "Quantity"}],
        ),
        el("Observation.value[x]:valueQuantity.value", min=1),
        el("Observation.value[x]:valueQuantity.system", min=1, fixedUri=UCUM),
        el("Observation.value[x]:valueQuantity.code", min=1),
        el("Observation.interpretation", min=1, max="1", binding=required("growth-interpretation")),
        el("Observation.method", min=1, binding=required("growth-reference")),
        el(
            "Observation.derivedFrom",
            min=1,
            type=ref(
                "hb-body-weight",
                "hb-body-length",
                "hb-body-height",
                "hb-head-circumference",
                "hb-bmi",
            ),
        ),
    ]
    valid: JSON = {
        "resourceType": "Observation",
        "id": "growth-score-example",
        "meta": meta(pid),
        "status": "final",
        "code": {"coding": [coding(GS, "wfa-z", "Weight-for-age z-score")]},
        "subject": CHILD_REF,
        "effectiveDateTime": "2026-05-12T09:30:00+08:00",
        "valueQuantity": {"value": -0.42, "unit": "SD", "system": UCUM, "code": "{Z-score}"},
        "interpretation": [{"coding": [coding(V3_INTERP, "N", "Normal")]}],
        "method": {
            "coding": [
                coding(
                    cs_url("growth-reference"),
                    "who-2006",
                    "WHO Child Growth Standards 2006 (0-5 years)",
                )
            ]
        },
        "derivedFrom": [{"reference": "Observation/body-weight-example"}],
    }
    invalid = [
        Invalid(
            "no-derived-from",
            [("del", ["derivedFrom"], None)],
            [("Observation.derivedFrom", "required")],
        ),
        Invalid(
            "unknown-reference",
            [("set", ["method", "coding", 0, "code"], "cdc-2000")],
            [("Observation.method", "code-invalid")],
        ),
        Invalid(
            "z-in-percent",
            [("set", ["valueQuantity", "code"], "%")],
            [("Observation", "invariant")],
        ),
        Invalid(
            "percentile-over-100",
            [
                ("set", ["code", "coding", 0, "code"], "wfa-p"),
                ("set", ["valueQuantity"], quantity(130, "%")),
            ],
            [("Observation", "invariant")],
        ),
        Invalid(
            "unknown-indicator",
            [("set", ["code", "coding", 0, "code"], "wfa-x")],
            [("Observation.code.coding[0]", "code-invalid")],
        ),
        Invalid(
            "bad-interpretation",
            [("set", ["interpretation"], [{"coding": [coding(V3_INTERP, "A")]}])],
            [("Observation.interpretation[0]", "code-invalid")],
        ),
    ]
    return Profile(
        pid,
        "Observation",
        CORE + "Observation",
        "Growth z-score or percentile",
        (
            "A growth z-score or percentile derived from a measurement "
            "(derivedFrom), naming the growth reference used (method) and its "
            "interpretation."
        ),
        elements,
        valid=valid,
        invalid=invalid,
    )


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
        el("Organization.identifier", min=1),
        el("Organization.type", min=1, binding=required("organization-kind")),
        el("Organization.name", min=1),
    ]
    valid: JSON = {
        "resourceType": "Organization",
        "id": "centre-1",
        "meta": meta(pid),
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


def immunization() -> Profile:
    pid = "hb-immunization"
    i1 = inv(
        "hb-imm-1",
        "A completed dose records its lot number (疫苗追溯).",
        "status = 'completed' implies lotNumber.exists()",
    )
    nip = cs_url("nip-vaccine")
    elements = [
        el(
            "Immunization",
            short="NIP vaccine dose",
            definition="A dose of a National Immunization Programme vaccine.",
            constraint=[i1],
        ),
        el(
            "Immunization.vaccineCode.coding",
            min=1,
            slicing={
                "discriminator": [{"type": "value", "path": "system"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Immunization.vaccineCode.coding:nip",
            sliceName="nip",
            min=1,
            max="1",
            binding=required("nip-vaccine"),
        ),
        el("Immunization.vaccineCode.coding:nip.system", min=1, fixedUri=nip),
        el("Immunization.vaccineCode.coding:nip.code", min=1),
        el("Immunization.patient", type=ref("hb-child")),
        el("Immunization.occurrence[x]", type=[{"code": "dateTime"}]),
        el("Immunization.protocolApplied", min=1, max="1"),
        el("Immunization.protocolApplied.doseNumber[x]", type=[{"code": "positiveInt"}]),
    ]
    valid: JSON = {
        "resourceType": "Immunization",
        "id": "immunization-1",
        "meta": meta(pid),
        "status": "completed",
        "vaccineCode": {
            "coding": [
                coding(nip, "DTaP", "Diphtheria, tetanus and acellular pertussis vaccine"),
                coding("http://hl7.org/fhir/sid/cvx", "20"),
            ]
        },
        "patient": CHILD_REF,
        "occurrenceDateTime": "2025-08-04T10:15:00+08:00",
        "lotNumber": "202504017",
        "performer": [{"actor": {"reference": "Organization/chc-1"}}],
        "protocolApplied": [{"series": "NIP 2026", "doseNumberPositiveInt": 1}],
    }
    invalid = [
        Invalid(
            "cvx-only",
            [("set", ["vaccineCode"], {"coding": [coding("http://hl7.org/fhir/sid/cvx", "20")]})],
            [("Immunization.vaccineCode.coding", "required")],
        ),
        Invalid(
            "not-nip",
            [("set", ["vaccineCode", "coding", 0, "code"], "PCV13")],
            [("Immunization.vaccineCode.coding[0]", "code-invalid")],
        ),
        Invalid("no-lot", [("del", ["lotNumber"], None)], [("Immunization", "invariant")]),
        Invalid(
            "dose-as-text",
            [("set", ["protocolApplied", 0], {"series": "NIP 2026", "doseNumberString": "first"})],
            [
                ("Immunization.protocolApplied[0].doseNumberString", "structure"),
                ("Immunization.protocolApplied[0].doseNumber", "required"),
            ],
        ),
        Invalid(
            "dose-zero",
            [("set", ["protocolApplied", 0, "doseNumberPositiveInt"], 0)],
            [("Immunization.protocolApplied[0].doseNumberPositiveInt", "value")],
            base_r4=True,
        ),
    ]
    return Profile(
        pid,
        "Immunization",
        CORE + "Immunization",
        "NIP vaccination",
        "A dose of a China NIP vaccine, with dose number and lot.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def alert_flag() -> Profile:
    pid = "hb-alert-flag"
    kind = cs_url("alert-kind")
    elements = [
        el(
            "Flag",
            short="Early-intervention alert",
            definition=(
                "What is wrong, for which child (ARCHITECTURE.md: an alert is a Flag, "
                "its review a Task)."
            ),
        ),
        el(
            "Flag.extension",
            min=1,
            slicing={
                "discriminator": [{"type": "value", "path": "url"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Flag.extension:severity",
            sliceName="severity",
            min=1,
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("alert-severity")]}],
        ),
        el("Flag.extension:severity.url", fixedUri=sd_url("alert-severity")),
        el(
            "Flag.code.coding",
            min=1,
            slicing={
                "discriminator": [{"type": "value", "path": "system"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Flag.code.coding:kind",
            sliceName="kind",
            min=1,
            max="1",
            binding=required("alert-kind"),
        ),
        el("Flag.code.coding:kind.system", min=1, fixedUri=kind),
        el("Flag.code.coding:kind.code", min=1),
        el("Flag.subject", type=ref("hb-child")),
        el("Flag.period", min=1),
        el("Flag.period.start", min=1),
    ]
    valid: JSON = {
        "resourceType": "Flag",
        "id": "alert-1",
        "meta": meta(pid),
        "extension": [{"url": sd_url("alert-severity"), "valueCode": "moderate"}],
        "status": "active",
        "code": {
            "coding": [coding(kind, "stunting", "Stunting (length/height-for-age below -2 SD)")],
            "text": "生长迟缓",
        },
        "subject": CHILD_REF,
        "period": {"start": "2026-05-12"},
    }
    invalid = [
        Invalid(
            "bad-severity",
            [("set", ["extension", 0, "valueCode"], "urgent")],
            [("Flag.extension[0].valueCode", "code-invalid")],
        ),
        Invalid("no-severity", [("del", ["extension"], None)], [("Flag.extension", "required")]),
        Invalid(
            "unknown-kind",
            [("set", ["code", "coding", 0, "code"], "tall")],
            [("Flag.code.coding[0]", "code-invalid")],
        ),
        Invalid(
            "bad-status", [("set", ["status"], 7)], [("Flag.status", "structure")], base_r4=True
        ),
    ]
    return Profile(
        pid,
        "Flag",
        CORE + "Flag",
        "Early-intervention alert",
        "An early-intervention alert: kind (alert-kind) and severity (alert-severity extension).",
        elements,
        valid=valid,
        invalid=invalid,
    )


def review_task() -> Profile:
    pid = "hb-review-task"
    t1 = inv(
        "hb-task-1",
        "A completed review records its outcome.",
        "status = 'completed' implies output.exists()",
    )
    elements = [
        el(
            "Task",
            short="Alert review",
            definition="The review workflow of an alert: who must act, status and outcome.",
            constraint=[t1],
        ),
        el("Task.code", min=1, binding=required("task-kind")),
        el("Task.focus", min=1, type=ref("hb-alert-flag")),
        el("Task.for", min=1, type=ref("hb-child")),
        el("Task.intent", fixedCode="order"),
        el("Task.authoredOn", min=1),
    ]
    valid: JSON = {
        "resourceType": "Task",
        "id": "review-1",
        "meta": meta(pid),
        "status": "completed",
        "intent": "order",
        "code": {
            "coding": [
                coding(cs_url("task-kind"), "alert-review", "Review an early-intervention alert")
            ]
        },
        "focus": {"reference": "Flag/alert-1"},
        "for": CHILD_REF,
        "authoredOn": "2026-05-12T10:00:00+08:00",
        "owner": {"reference": "Practitioner/doctor-1"},
        "output": [
            {
                "type": {"text": "review outcome"},
                "valueString": "Confirmed; referred to the MCH hospital nutrition clinic.",
            }
        ],
    }
    invalid = [
        Invalid("plan", [("set", ["intent"], "plan")], [("Task.intent", "value")]),
        Invalid("completed-no-output", [("del", ["output"], None)], [("Task", "invariant")]),
        Invalid(
            "focus-not-flag",
            [("set", ["focus"], {"reference": "Observation/growth-score-example"})],
            [("Task.focus", "invalid")],
        ),
    ]
    return Profile(
        pid,
        "Task",
        CORE + "Task",
        "Alert review task",
        "The review Task for an early-intervention Flag.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def referral() -> Profile:
    pid = "hb-referral"
    referral_cat = {"coding": [coding(SNOMED, "3457005")]}
    elements = [
        el(
            "ServiceRequest",
            short="Referral",
            definition=(
                "A paediatrician's referral of the child (转诊), e.g. to an MCH hospital clinic."
            ),
        ),
        el("ServiceRequest.intent", fixedCode="order"),
        el("ServiceRequest.category", min=1, slicing=PATTERN_SLICING),
        el(
            "ServiceRequest.category:referral",
            sliceName="referral",
            min=1,
            max="1",
            patternCodeableConcept=referral_cat,
        ),
        el("ServiceRequest.code", min=1),
        el("ServiceRequest.subject", type=ref("hb-child")),
        el("ServiceRequest.authoredOn", min=1),
        el(
            "ServiceRequest.requester",
            min=1,
            type=ref("Practitioner", "PractitionerRole", "hb-organization"),
        ),
        el(
            "ServiceRequest.performer",
            min=1,
            type=ref("hb-organization", "Practitioner", "PractitionerRole"),
        ),
    ]
    valid: JSON = {
        "resourceType": "ServiceRequest",
        "id": "referral-1",
        "meta": meta(pid),
        "status": "active",
        "intent": "order",
        "category": [{"coding": [coding(SNOMED, "3457005", "Patient referral")]}],
        "code": {"text": "儿童营养门诊评估 (nutrition clinic assessment)"},
        "subject": CHILD_REF,
        "authoredOn": "2026-05-13T11:00:00+08:00",
        "requester": {"reference": "Practitioner/doctor-1"},
        "performer": [{"reference": "Organization/mch-1"}],
        "supportingInfo": [{"reference": "Flag/alert-1"}],
    }
    invalid = [
        Invalid(
            "no-category", [("del", ["category"], None)], [("ServiceRequest.category", "required")]
        ),
        Invalid(
            "no-requester",
            [("del", ["requester"], None)],
            [("ServiceRequest.requester", "required")],
        ),
        Invalid(
            "proposal", [("set", ["intent"], "proposal")], [("ServiceRequest.intent", "value")]
        ),
    ]
    return Profile(
        pid,
        "ServiceRequest",
        CORE + "ServiceRequest",
        "Referral",
        "A referral ServiceRequest (SNOMED CT 3457005) for a child.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def consent() -> Profile:
    pid = "hb-data-sharing-consent"
    c1 = inv(
        "hb-consent-1",
        "The consent names at least one information recipient (IRCP) it shares with.",
        (
            f"provision.actor.where(role.coding.where(system='{V3_PARTICIPATION}' "
            f"and code='IRCP').exists()).exists()"
        ),
    )
    elements = [
        el(
            "Consent",
            short="Data-sharing consent",
            definition=(
                "A guardian's separate consent (PIPL Art. 29/31) to share the child's "
                "record with an organisation for a purpose."
            ),
            constraint=[c1],
        ),
        el(
            "Consent.scope",
            patternCodeableConcept={"coding": [coding(CONSENT_SCOPE, "patient-privacy")]},
        ),
        el("Consent.category", min=1, slicing=PATTERN_SLICING),
        el(
            "Consent.category:loinc",
            sliceName="loinc",
            min=1,
            max="1",
            patternCodeableConcept={"coding": [coding(LOINC, "59284-0")]},
        ),
        el("Consent.patient", min=1, type=ref("hb-child")),
        el("Consent.dateTime", min=1),
        el("Consent.performer", min=1, type=ref("hb-guardian")),
        el("Consent.organization", min=1, type=ref("hb-organization")),
        el("Consent.policyRule", min=1),
        el("Consent.provision", min=1),
        el("Consent.provision.type", min=1),
        el("Consent.provision.actor", min=1),
        el("Consent.provision.purpose", min=1),
    ]
    valid: JSON = {
        "resourceType": "Consent",
        "id": "consent-1",
        "meta": meta(pid),
        "status": "active",
        "scope": {"coding": [coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")]},
        "category": [{"coding": [coding(LOINC, "59284-0", "Patient Consent")]}],
        "patient": CHILD_REF,
        "dateTime": "2026-03-01T08:30:00+08:00",
        "performer": [{"reference": "RelatedPerson/guardian-1"}],
        "organization": [{"reference": "Organization/centre-1"}],
        "policyRule": {"coding": [coding(V3_ACT_CODE, "OPTIN", "opt-in")]},
        "provision": {
            "type": "permit",
            "period": {"start": "2026-03-01", "end": "2027-02-28"},
            "actor": [
                {
                    "role": {"coding": [coding(V3_PARTICIPATION, "IRCP", "information recipient")]},
                    "reference": {"reference": "Organization/mch-1"},
                }
            ],
            "purpose": [coding(V3_ACT_REASON, "TREAT", "treatment")],
        },
    }
    invalid = [
        Invalid(
            "no-recipient",
            [("set", ["provision", "actor", 0, "role", "coding", 0, "code"], "AUT")],
            [("Consent", "invariant")],
        ),
        Invalid(
            "no-performer", [("del", ["performer"], None)], [("Consent.performer", "required")]
        ),
        Invalid(
            "research-scope",
            [("set", ["scope"], {"coding": [coding(CONSENT_SCOPE, "research")]})],
            [("Consent.scope", "value")],
        ),
    ]
    return Profile(
        pid,
        "Consent",
        CORE + "Consent",
        "Data-sharing consent",
        "A guardian's consent to share the child's record with an organisation.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def warning_signs_response() -> Profile:
    pid = "hb-warning-signs-response"
    w1 = inv(
        "hb-wsr-1",
        "Every warning-sign answer is true (sign present) or false.",
        "item.descendants().where(linkId != 'age-point').answer.all(value is boolean)",
    )
    w2 = inv(
        "hb-wsr-2",
        "The age point screened is answered.",
        "item.where(linkId = 'age-point').answer.exists()",
    )
    q = q_url("warning-signs")
    elements = [
        el(
            "QuestionnaireResponse",
            short="Warning-signs screening",
            definition="A developmental warning-signs screening (预警征象筛查) at a checkup.",
            constraint=[w1, w2],
        ),
        el("QuestionnaireResponse.questionnaire", min=1, fixedCanonical=q),
        el("QuestionnaireResponse.subject", min=1, type=ref("hb-child")),
        el("QuestionnaireResponse.authored", min=1),
        el("QuestionnaireResponse.item", min=1),
    ]
    age = {"system": cs_url("checkup-visit"), "code": "12m", "display": "12-month checkup"}
    valid: JSON = {
        "resourceType": "QuestionnaireResponse",
        "id": "warning-signs-1",
        "meta": meta(pid),
        "questionnaire": q,
        "status": "completed",
        "subject": CHILD_REF,
        "encounter": {"reference": "Encounter/checkup-1"},
        "authored": "2026-06-05T09:30:00+08:00",
        "author": {"reference": "Practitioner/doctor-1"},
        "item": [
            {"linkId": "age-point", "answer": [{"valueCoding": age}]},
            {
                "linkId": "group-12m",
                "item": [
                    {"linkId": f"12m-{n}", "answer": [{"valueBoolean": n == 2}]}
                    for n in range(1, 5)
                ],
            },
            {"linkId": "regression", "answer": [{"valueBoolean": False}]},
        ],
    }
    invalid = [
        Invalid(
            "text-answer",
            [("set", ["item", 1, "item", 0, "answer", 0], {"valueString": "否"})],
            [("QuestionnaireResponse", "invariant")],
        ),
        Invalid(
            "other-questionnaire",
            [("set", ["questionnaire"], "http://example.org/Questionnaire/asq")],
            [("QuestionnaireResponse.questionnaire", "value")],
        ),
        Invalid(
            "no-age-point",
            [("set", ["item", 0], {"linkId": "age-point"})],
            [("QuestionnaireResponse", "invariant")],
        ),
        Invalid(
            "no-status",
            [("del", ["status"], None)],
            [("QuestionnaireResponse.status", "required")],
            base_r4=True,
        ),
    ]
    return Profile(
        pid,
        "QuestionnaireResponse",
        CORE + "QuestionnaireResponse",
        "Warning-signs screening",
        "A response to the NHC warning-signs checklist.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def all_profiles() -> list[Profile]:
    """Every StructureDefinition we publish, extensions first."""
    return [
        *extensions(),
        child(),
        guardian(),
        organization(),
        encounter(),
        *measurements(),
        haemoglobin(),
        growth_score(),
        immunization(),
        alert_flag(),
        review_task(),
        referral(),
        consent(),
        warning_signs_response(),
    ]
