"""Profile of a scheduled screening result (hearing, eye and vision, oral health, developmental
assessment): rule table ``screening-schedule``, DOMAIN.md §2.1 and §4.3."""

from __future__ import annotations

from .common import CORE, JSON, OBS_CATEGORY, UCUM, coding, cs_url, el, ref, required
from .spec import CHILD_REF, PATTERN_SLICING, Invalid, Profile, meta

SCREENING = cs_url("child-screening")
COMPONENT = cs_url("screening-component")
RESULT = cs_url("screening-result")
INSTRUMENT = cs_url("developmental-instrument")


def screening_result() -> Profile:
    pid = "hb-screening-result"
    exam = {"coding": [coding(OBS_CATEGORY, "exam")]}
    elements = [
        el(
            "Observation",
            short="Scheduled screening result",
            definition=(
                "The result of a scheduled screening of the 0-6 child health programme, "
                "coded in child-screening: the examiner's pass/refer (valueCodeableConcept), "
                "and components — uncorrected visual acuities (decimal), decayed and erupted "
                "teeth, fluoride varnish applied, and for a developmental assessment the "
                "instrument, its score and the developmental quotient. Whether a result is "
                "abnormal is decided by the rule table screening-schedule, not recorded here."
            ),
        ),
        el("Observation.category", min=1, slicing=PATTERN_SLICING),
        el(
            "Observation.category:exam",
            sliceName="exam",
            min=1,
            max="1",
            patternCodeableConcept=exam,
        ),
        el("Observation.code", binding=required("child-screening")),
        el("Observation.subject", min=1, type=ref("hb-child")),
        el("Observation.effective[x]", min=1, type=[{"code": "dateTime"}]),
        el(
            "Observation.value[x]",
            type=[{"code": "CodeableConcept"}],
            binding=required("screening-result"),
        ),
        el("Observation.component.code", binding=required("screening-component")),
    ]
    valid: JSON = {
        "resourceType": "Observation",
        "id": "screening-result-example",
        "meta": meta(pid),
        "status": "final",
        "category": [{"coding": [coding(OBS_CATEGORY, "exam", "Exam")]}],
        "code": {"coding": [coding(SCREENING, "development", "Developmental assessment")]},
        "subject": CHILD_REF,
        "effectiveDateTime": "2026-05-12",
        "component": [
            {
                "code": {"coding": [coding(COMPONENT, "instrument")]},
                "valueCodeableConcept": {"coding": [coding(INSTRUMENT, "wst580")]},
            },
            {
                "code": {"coding": [coding(COMPONENT, "dq")]},
                "valueQuantity": {"value": 92, "system": UCUM, "code": "1"},
            },
        ],
    }
    invalid = [
        Invalid(
            "unknown-screening",
            [("set", ["code"], {"coding": [coding(SCREENING, "x-ray")]})],
            [("Observation.code", "code-invalid")],
        ),
        Invalid(
            "unknown-result",
            [("set", ["valueCodeableConcept"], {"coding": [coding(RESULT, "maybe")]})],
            [("Observation.valueCodeableConcept", "code-invalid")],
        ),
        Invalid(
            "no-exam-category",
            [("set", ["category"], [{"coding": [coding(OBS_CATEGORY, "vital-signs")]}])],
            [("Observation.category", "required")],
        ),
    ]
    return Profile(
        pid,
        "Observation",
        CORE + "Observation",
        "Screening result",
        "A scheduled screening result: hearing, eye and vision, oral health or development.",
        elements,
        valid=valid,
        invalid=invalid,
    )
