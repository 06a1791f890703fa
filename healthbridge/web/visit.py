"""The paediatrician's visit form → ONE FHIR transaction Bundle (pure; no I/O).

:func:`parse_visit_form` checks the posted fields and raises :class:`VisitFormError` with
every problem (as catalogue keys with values, shown in zh/en); :func:`visit_bundle` builds the
Bundle: the checkup Encounter (hb-checkup-encounter), the measurements (hb-body-weight,
hb-body-length/height, hb-head-circumference, hb-body-temperature, hb-haemoglobin), a
tuberculin skin test result (hb-tb-skin-test: BCG catch-up from 3 months needs a negative one), the
vaccinations given (hb-immunization), the warning-sign screening (hb-warning-signs-response),
the findings and an optional referral (hb-referral). Resources reference each other by
``urn:uuid`` full URLs, which the server rewrites (http://hl7.org/fhir/R4/http.html#trules).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.fhir.screening_result import ScreeningEntry, screening_observations
from healthbridge.web.visit_screening import parse_screenings

Resource = dict[str, Any]
CST: Final = dt.timezone(dt.timedelta(hours=8))
SD: Final = f"{t.CANONICAL_BASE}/StructureDefinition"
QUESTIONNAIRE: Final = f"{t.CANONICAL_BASE}/Questionnaire/warning-signs"
#: Age points of the warning-sign questionnaire (group ``group-{code}``; items ``{code}-n``).
SCREENING_POINTS: Final = ("3m", "6m", "8m", "12m", "18m", "24m", "30m", "36m", "4y", "5y", "6y")
VISIT_TYPES: Final = (
    "1m", "3m", "6m", "8m", "12m", "18m", "24m", "30m", "36m", "4y", "5y", "6y", "admission",
)  # fmt: skip
#: Input sanity limits of the form (what can be typed, not clinical cut-offs): a value outside
#: is a typing error (e.g. grams for kilograms), refused before anything is written.
LIMITS: Final[dict[str, tuple[float, float]]] = {
    "weight_kg": (0.5, 80.0),
    "length_cm": (35.0, 160.0),
    "headc_cm": (25.0, 60.0),
    "temperature_c": (34.0, 43.0),
    "hb_g_l": (30.0, 250.0),
}
#: The skin-test results the form offers → SNOMED CT result code and display (the ValueSet
#: ``tb-test-result``) and the v3 interpretation code.
TB_TEST_RESULTS: Final = {
    "negative": (t.SNOMED_NEGATIVE, "Negative", t.V3_NEGATIVE),
    "positive": (t.SNOMED_POSITIVE, "Positive", t.V3_POSITIVE),
}
#: Parents' heights (cm) for the target height (charts/clinical_view.py); typing limits only.
PARENT_LIMITS: Final[dict[str, tuple[float, float]]] = {
    "father_height_cm": (120.0, 230.0),
    "mother_height_cm": (110.0, 220.0),
}
PARENT_MEASUREMENT: Final = f"{t.CANONICAL_BASE}/CodeSystem/parent-measurement"
_FIELD_KEYS: Final = {
    "father_height_cm": "visit.father_height",
    "mother_height_cm": "visit.mother_height",
    "weight_kg": "visit.weight",
    "length_cm": "visit.length",
    "headc_cm": "visit.headc",
    "temperature_c": "visit.temperature",
    "hb_g_l": "visit.hb",
}


@dataclass(frozen=True, slots=True)
class FormProblem:
    """One problem: a catalogue key and the values it names."""

    key: str
    values: Mapping[str, str] = field(default_factory=dict)


class VisitFormError(ValueError):
    """The form has problems; nothing is written."""

    def __init__(self, problems: Sequence[FormProblem]) -> None:
        super().__init__("; ".join(p.key for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class VaccineGiven:
    vaccine: str  # nip-vaccine code
    dose: int
    lot: str


@dataclass(frozen=True, slots=True)
class VisitInput:
    """A checked visit form."""

    patient_id: str
    practitioner_id: str
    organization_id: str
    visit_date: dt.date
    visit_type: str
    weight_kg: float | None = None
    length_cm: float | None = None
    measure: str = "l"  # "l" lying length, "h" standing height
    headc_cm: float | None = None
    temperature_c: float | None = None
    hb_g_l: float | None = None
    #: tuberculin skin test (PPD/TST) result read at this visit: "negative", "positive" or None
    tb_test: str | None = None
    vaccines: tuple[VaccineGiven, ...] = ()
    warning_items: frozenset[str] | None = None  # None: not screened at this visit
    regression: bool = False
    findings: str = ""
    referral_reason: str | None = None
    referral_to: str | None = None
    father_height_cm: float | None = None
    mother_height_cm: float | None = None
    confirmed: bool = False  # the doctor confirmed the warnings (web/clinical.py)
    #: screening results typed at this visit (web/visit_screening.py)
    screenings: tuple[ScreeningEntry, ...] = ()


def _one(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def parse_visit_form(
    form: Mapping[str, Any],
    *,
    patient_id: str,
    birth_date: dt.date,
    practitioner_id: str,
    organization_id: str,
    today: dt.date,
    vaccine_codes: frozenset[str],
) -> VisitInput:
    """Check the posted fields (``form``: name → str or list of str)."""
    problems: list[FormProblem] = []
    try:
        visit_date = dt.date.fromisoformat(_one(form, "visit_date"))
        if visit_date > today:
            raise ValueError
        if visit_date < birth_date:
            problems.append(FormProblem("visit.err_before_birth"))
    except ValueError:
        problems.append(FormProblem("visit.err_date"))
        visit_date = today
    numbers: dict[str, float | None] = {}
    for name, (low, high) in LIMITS.items():
        raw = _one(form, name).replace(",", ".")
        if not raw:
            numbers[name] = None
            continue
        try:
            value = float(raw)
        except ValueError:
            problems.append(FormProblem("visit.err_number", {"field": _FIELD_KEYS[name]}))
            numbers[name] = None
            continue
        if not low <= value <= high:
            problems.append(
                FormProblem(
                    "visit.err_range",
                    {
                        "field": _FIELD_KEYS[name],
                        "value": raw,
                        "low": f"{low:g}",
                        "high": f"{high:g}",
                    },
                )
            )
        numbers[name] = value
    tb_test = _one(form, "tb_test") or None
    if tb_test not in (None, *TB_TEST_RESULTS):
        problems.append(FormProblem("visit.err_tb_test", {"value": str(tb_test)}))
        tb_test = None
    screenings, screening_problems = parse_screenings(form)
    problems += [FormProblem(key, values) for key, values in screening_problems]
    if all(v is None for v in numbers.values()) and tb_test is None and not screenings:
        problems.append(FormProblem("visit.err_empty"))
    for name, (low, high) in PARENT_LIMITS.items():
        raw = _one(form, name).replace(",", ".")
        numbers[name] = None
        if not raw:
            continue
        try:
            numbers[name] = float(raw)
        except ValueError:
            problems.append(FormProblem("visit.err_number", {"field": _FIELD_KEYS[name]}))
            continue
        if not low <= float(raw) <= high:
            limits = {"value": raw, "low": f"{low:g}", "high": f"{high:g}"}
            problems.append(FormProblem("visit.err_range", {"field": _FIELD_KEYS[name], **limits}))
    vaccines = []
    codes = form.get("vaccine", [])
    codes = [codes] if isinstance(codes, str) else list(codes)
    doses = form.get("dose", [])
    doses = [doses] if isinstance(doses, str) else list(doses)
    lots = form.get("lot", [])
    lots = [lots] if isinstance(lots, str) else list(lots)
    for i, code in enumerate(codes):
        code = str(code).strip()
        if not code:
            continue
        dose_raw = str(doses[i]).strip() if i < len(doses) else "1"
        if code not in vaccine_codes or not dose_raw.isdigit() or int(dose_raw) < 1:
            problems.append(FormProblem("visit.err_vaccine", {"value": f"{code} {dose_raw}"}))
            continue
        lot = str(lots[i]).strip() if i < len(lots) else ""
        vaccines.append(VaccineGiven(code, int(dose_raw), lot))
    visit_type = _one(form, "visit_type") or "admission"
    if visit_type not in VISIT_TYPES:
        problems.append(FormProblem("visit.err_vaccine", {"value": visit_type}))
    warning: frozenset[str] | None = None
    if visit_type in SCREENING_POINTS and _one(form, "screened") == "yes":
        items = form.get("warning_item", [])
        items = [items] if isinstance(items, str) else list(items)
        warning = frozenset(str(i) for i in items if str(i).startswith(f"{visit_type}-"))
    reason = _one(form, "referral_reason") or None
    referral_to = _one(form, "referral_to") or None
    if referral_to and not reason:
        problems.append(FormProblem("visit.err_referral"))
    if problems:
        raise VisitFormError(problems)
    return VisitInput(
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        organization_id=organization_id,
        visit_date=visit_date,
        visit_type=visit_type,
        weight_kg=numbers["weight_kg"],
        length_cm=numbers["length_cm"],
        measure="h" if _one(form, "measure") == "h" else "l",
        headc_cm=numbers["headc_cm"],
        temperature_c=numbers["temperature_c"],
        hb_g_l=numbers["hb_g_l"],
        tb_test=tb_test,
        vaccines=tuple(vaccines),
        warning_items=warning,
        regression=_one(form, "regression") == "yes",
        findings=_one(form, "findings"),
        referral_reason=reason if referral_to else None,
        referral_to=referral_to if reason else None,
        father_height_cm=numbers["father_height_cm"],
        mother_height_cm=numbers["mother_height_cm"],
        confirmed=_one(form, "confirm") == "yes",
        screenings=screenings,
    )


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": t.UCUM, "code": unit}


def visit_bundle(
    visit: VisitInput,
    questionnaire_items: Mapping[str, Sequence[str]],
    *,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    clock: dt.time = dt.time(9, 0),
) -> Resource:
    """The visit as one transaction Bundle (see module docstring).

    ``questionnaire_items`` maps an age point to its item linkIds (from the warning-signs
    Questionnaire), so that every item of the group is answered (true = warning sign seen).
    """
    when = dt.datetime.combine(visit.visit_date, clock, tzinfo=CST).isoformat()
    patient = {"reference": f"Patient/{visit.patient_id}"}
    performer = [{"reference": f"Practitioner/{visit.practitioner_id}"}]
    enc_url = f"urn:uuid:{new_id()}"
    encounter: Resource = {
        "resourceType": "Encounter",
        "meta": {"profile": [f"{SD}/hb-checkup-encounter"]},
        "status": "finished",
        "class": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
        "type": [{"coding": [_coding(t.CS_CHECKUP_VISIT, visit.visit_type)]}],
        "subject": patient,
        "participant": [{"individual": performer[0]}],
        "period": {"start": when, "end": when},
        "serviceProvider": {"reference": f"Organization/{visit.organization_id}"},
    }
    entries: list[tuple[str, Resource]] = [(enc_url, encounter)]

    def observation(profile: str | None, code: str, display: str, **value: Any) -> None:
        obs: Resource = {"resourceType": "Observation"}
        if profile:
            obs["meta"] = {"profile": [f"{SD}/{profile}"]}
        category = value.pop("category", "vital-signs")
        obs |= {
            "status": "final",
            "category": [{"coding": [_coding(t.OBSERVATION_CATEGORY, category)]}],
            "code": {"coding": [_coding(t.LOINC, code, display)], "text": display},
            "subject": patient,
            "encounter": {"reference": enc_url},
            "effectiveDateTime": when,
            "performer": performer,
            **value,
        }
        entries.append((f"urn:uuid:{new_id()}", obs))

    if visit.weight_kg is not None:
        observation(
            "hb-body-weight", t.LOINC_BODY_WEIGHT, "Body weight",
            valueQuantity=_quantity(visit.weight_kg, "kg"),
        )  # fmt: skip
    if visit.length_cm is not None:
        lying = visit.measure == "l"
        observation(
            "hb-body-length" if lying else "hb-body-height",
            t.LOINC_BODY_LENGTH if lying else t.LOINC_BODY_HEIGHT,
            "Body height --lying" if lying else "Body height",
            valueQuantity=_quantity(visit.length_cm, "cm"),
        )
    if visit.headc_cm is not None:
        observation(
            "hb-head-circumference", t.LOINC_HEAD_CIRCUMFERENCE,
            "Head Occipital-frontal circumference", valueQuantity=_quantity(visit.headc_cm, "cm"),
        )  # fmt: skip
    if visit.temperature_c is not None:
        observation(
            "hb-body-temperature", t.LOINC_BODY_TEMPERATURE, "Body temperature",
            valueQuantity=_quantity(visit.temperature_c, "Cel"),
        )  # fmt: skip
    if visit.hb_g_l is not None:
        observation(
            "hb-haemoglobin", t.LOINC_HAEMOGLOBIN, "Hemoglobin [Mass/volume] in Blood",
            category="laboratory", valueQuantity=_quantity(visit.hb_g_l, "g/L"),
        )  # fmt: skip
    if visit.tb_test is not None:
        code, display, interp = TB_TEST_RESULTS[visit.tb_test]
        tst: Resource = {
            "resourceType": "Observation",
            "meta": {"profile": [f"{SD}/hb-tb-skin-test"]},
            "status": "final",
            "category": [{"coding": [_coding(t.OBSERVATION_CATEGORY, "procedure")]}],
            "code": {
                "coding": [_coding(t.SNOMED, t.SNOMED_TB_SKIN_TEST, "Skin test for tuberculosis")],
                "text": "结核菌素试验 (PPD/TST)",
            },
            "subject": patient,
            "encounter": {"reference": enc_url},
            "effectiveDateTime": when,
            "performer": performer,
            "valueCodeableConcept": {"coding": [_coding(t.SNOMED, code, display)]},
            "interpretation": [{"coding": [_coding(t.V3_INTERPRETATION, interp)]}],
        }
        entries.append((f"urn:uuid:{new_id()}", tst))
    for obs in screening_observations(
        visit.screenings,
        patient=patient,
        encounter={"reference": enc_url},
        when=when,
        performer=performer,
    ):
        entries.append((f"urn:uuid:{new_id()}", obs))
    if visit.findings:
        observation(None, "29545-1", "Physical findings", category="exam",
                    valueString=visit.findings)  # fmt: skip
    for code, height in (
        ("father-height", visit.father_height_cm),
        ("mother-height", visit.mother_height_cm),
    ):
        if height is not None:
            entries.append((f"urn:uuid:{new_id()}", {
                "resourceType": "Observation",
                "status": "final",
                "category": [{"coding": [_coding(t.OBSERVATION_CATEGORY, "exam")]}],
                "code": {"coding": [_coding(PARENT_MEASUREMENT, code)], "text": code},
                "subject": patient,
                "encounter": {"reference": enc_url},
                "effectiveDateTime": when,
                "performer": performer,
                "valueQuantity": _quantity(height, "cm"),
            }))  # fmt: skip
    edition = "2026"
    for dose in visit.vaccines:
        imm: Resource = {
            "resourceType": "Immunization",
            "meta": {"profile": [f"{SD}/hb-immunization"]},
            "status": "completed",
            "vaccineCode": {"coding": [_coding(t.CS_NIP_VACCINE, dose.vaccine)]},
            "patient": patient,
            "encounter": {"reference": enc_url},
            "occurrenceDateTime": when,
            "performer": [{"actor": {"reference": f"Organization/{visit.organization_id}"}}],
            "protocolApplied": [{"series": f"NIP {edition}", "doseNumberPositiveInt": dose.dose}],
        }
        if dose.lot:
            imm["lotNumber"] = dose.lot
        entries.append((f"urn:uuid:{new_id()}", imm))
    if visit.warning_items is not None:
        link_ids = questionnaire_items.get(visit.visit_type, ())
        response: Resource = {
            "resourceType": "QuestionnaireResponse",
            "meta": {"profile": [f"{SD}/hb-warning-signs-response"]},
            "questionnaire": QUESTIONNAIRE,
            "status": "completed",
            "subject": patient,
            "encounter": {"reference": enc_url},
            "authored": when,
            "author": performer[0],
            "item": [
                {
                    "linkId": "age-point",
                    "answer": [{"valueCoding": _coding(t.CS_CHECKUP_VISIT, visit.visit_type)}],
                },
                {
                    "linkId": f"group-{visit.visit_type}",
                    "item": [
                        {"linkId": i, "answer": [{"valueBoolean": i in visit.warning_items}]}
                        for i in link_ids
                    ],
                },
                {"linkId": "regression", "answer": [{"valueBoolean": visit.regression}]},
            ],
        }
        entries.append((f"urn:uuid:{new_id()}", response))
    if visit.referral_to and visit.referral_reason:
        referral: Resource = {
            "resourceType": "ServiceRequest",
            "meta": {"profile": [f"{SD}/hb-referral"]},
            "status": "active",
            "intent": "order",
            "category": [{"coding": [_coding(t.SNOMED, "3457005", "Patient referral")]}],
            "code": {"text": visit.referral_reason},
            "subject": patient,
            "encounter": {"reference": enc_url},
            "authoredOn": when,
            "requester": performer[0],
            "performer": [{"reference": f"Organization/{visit.referral_to}"}],
        }
        entries.append((f"urn:uuid:{new_id()}", referral))
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for url, resource in entries
        ],
    }


def questionnaire_items(questionnaire: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Age point → [(linkId, text)] of the warning-signs Questionnaire's groups."""
    out: dict[str, list[tuple[str, str]]] = {}
    for group in questionnaire.get("item", []):
        link = str(group.get("linkId", ""))
        if link.startswith("group-"):
            out[link.removeprefix("group-")] = [
                (str(i["linkId"]), str(i.get("text", ""))) for i in group.get("item", [])
            ]
    return out
