"""Observation profiles: growth measurements, temperature, haemoglobin, tuberculin skin
tests, growth scores."""

from __future__ import annotations

from .common import (
    CORE,
    JSON,
    LOINC,
    OBS_CATEGORY,
    SNOMED,
    UCUM,
    V3_INTERP,
    coding,
    coding_slice,
    cs_url,
    el,
    inv,
    quantity,
    ref,
    required,
)
from .spec import CHILD_REF, PATTERN_SLICING, TYPE_SLICING, Invalid, Profile, meta


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


def tb_skin_test() -> Profile:
    """A tuberculin skin test (PPD/TST) result: BCG catch-up from 3 months of age needs a
    recent negative one (2021 NIP 说明; DOMAIN.md §1.2). Codes as the WHO SMART Immunizations
    IG maps its TST data elements to SNOMED CT (http://smart.who.int/immunizations)."""
    pid = "hb-tb-skin-test"
    procedure = {"coding": [coding(OBS_CATEGORY, "procedure")]}
    tst_code = {"coding": [coding(SNOMED, "28163009")]}
    elements = [
        el(
            "Observation",
            short="Tuberculin skin test (PPD/TST)",
            definition=(
                "The read result of a tuberculin skin test (SNOMED CT 28163009): negative "
                "(260385009) or positive (10828004), dated when it was read. From 3 months to "
                "under 4 years a child without BCG is given the catch-up dose only after a "
                "recent negative test; a positive one means no BCG (refer)."
            ),
        ),
        el("Observation.category", min=1, slicing=PATTERN_SLICING),
        el(
            "Observation.category:procedure",
            sliceName="procedure",
            min=1,
            max="1",
            patternCodeableConcept=procedure,
        ),
        el("Observation.code", patternCodeableConcept=tst_code),
        el("Observation.subject", min=1, type=ref("hb-child")),
        el("Observation.effective[x]", min=1, type=[{"code": "dateTime"}]),
        el(
            "Observation.value[x]",
            min=1,
            type=[{"code": "CodeableConcept"}],
            binding=required("tb-test-result"),
        ),
    ]
    valid: JSON = {
        "resourceType": "Observation",
        "id": "tb-skin-test-example",
        "meta": meta(pid),
        "status": "final",
        "category": [{"coding": [coding(OBS_CATEGORY, "procedure", "Procedure")]}],
        "code": {"coding": [coding(SNOMED, "28163009", "Skin test for tuberculosis")]},
        "subject": CHILD_REF,
        "effectiveDateTime": "2026-05-15",
        "valueCodeableConcept": {"coding": [coding(SNOMED, "260385009", "Negative")]},
        "interpretation": [{"coding": [coding(V3_INTERP, "NEG", "Negative")]}],
    }
    invalid = [
        Invalid(
            "unknown-result",
            [("set", ["valueCodeableConcept"], {"coding": [coding(SNOMED, "373067005")]})],
            [("Observation.valueCodeableConcept", "code-invalid")],
        ),
        Invalid(
            "wrong-code",
            [("set", ["code"], {"coding": [coding(LOINC, "718-7")]})],
            [("Observation.code", "value")],
        ),
        Invalid(
            "no-result",
            [("del", ["valueCodeableConcept"], None)],
            [("Observation.value", "required")],
        ),
    ]
    return Profile(
        pid,
        "Observation",
        CORE + "Observation",
        "Tuberculin skin test",
        "A tuberculin skin test (PPD/TST) result: SNOMED CT 28163009, negative or positive.",
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
    percentile_rule = (
        f"code.coding.where(system='{GS}' and code.endsWith('-p')).exists() "
        f"implies (value.ofType(Quantity).code = '%' and "
        f"value.ofType(Quantity).value >= 0 and value.ofType(Quantity).value <= "
        f"100)"
    )
    p = inv("hb-gs-2", "A percentile (code ending -p) is in % between 0 and 100.", percentile_rule)
    # the same rule for the percentile the pipeline writes as the z-score's component
    pc = inv(
        "hb-gs-3",
        "A percentile component (code ending -p) is in % between 0 and 100.",
        percentile_rule,
    )
    elements = [
        el(
            "Observation",
            short="Growth z-score (with its percentile) or percentile",
            definition=(
                "A z-score derived from a growth measurement against a growth standard, "
                "with the matching percentile as its component (or, as written before "
                "2026-12, a percentile on its own)."
            ),
            constraint=[z, p],
        ),
        *coding_slice("Observation.code.coding", "indicator", "growth-score-code", GS),
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
        el(
            "Observation.component",
            max="1",
            short="The percentile of the z-score (code {indicator}-p, in %)",
            constraint=[pc],
        ),
        el("Observation.component.code", binding=required("growth-score-code")),
        el("Observation.component.value[x]", min=1, type=[{"code": "Quantity"}]),
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
        "component": [
            {
                "code": {"coding": [coding(GS, "wfa-p", "Weight-for-age percentile")]},
                "valueQuantity": quantity(33.72, "%"),
            }
        ],
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
            "component-percentile-over-100",
            [("set", ["component", 0, "valueQuantity"], quantity(130, "%"))],
            [("Observation.component[0]", "invariant")],
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
        "Growth z-score (with its percentile)",
        (
            "A growth z-score derived from a measurement (derivedFrom), naming the "
            "growth reference used (method) and its interpretation, with the matching "
            "percentile as its one component."
        ),
        elements,
        valid=valid,
        invalid=invalid,
    )
