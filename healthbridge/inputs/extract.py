"""FHIR resources → the typed inputs of the clinical rules (one child at a time).

Both paths use these functions: the write interceptor (one child's resources, read through the
Transaction handle) and ``healthbridge evaluate`` (every child's resources, read in bulk), so the
two give the same findings by construction. Functions here are pure: dicts in, records out.

What counts as what (codes from healthbridge.terminology / docs/CONVENTIONS.md):

* growth measurement: Observation with LOINC 29463-7 (weight), 8306-3 (length, lying),
  8302-2 (height, standing), 9843-4 (head circumference); measurements taken at the same
  Encounter (or, without an encounter, on the same day) form one *session*, so weight and
  length are paired for weight-for-length and BMI;
* morning check: LOINC 8310-5 body temperature and 75325-1 symptom observations, grouped by day;
* haemoglobin: LOINC 718-7 (g/L; g/dL converted);
* tuberculin skin test (PPD/TST): SNOMED CT 28163009 with a readable negative/positive result
  (:func:`healthbridge.fhir.facts.tb_test_result`), for BCG catch-up from 3 months;
* checkup: Encounter typed with a ``checkup-visit`` code;
* dose: Immunization ``completed`` coded in ``nip-vaccine``;
* warning-signs screening: QuestionnaireResponse of ``{base}/Questionnaire/warning-signs``;
* managed case: EpisodeOfCare typed in ``managed-case-condition``; its follow-up visits are the
  Encounters whose ``episodeOfCare`` names it.

Resources with status ``entered-in-error`` (or ``cancelled``/``not-done``) are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from healthbridge import terminology as t
from healthbridge.clinical.admission import AdmissionState
from healthbridge.clinical.anaemia import HbResult
from healthbridge.clinical.cases import ManagedCase
from healthbridge.clinical.checkups import CheckupRecord
from healthbridge.clinical.daily_check import DailyCheck
from healthbridge.clinical.records import Enrolment
from healthbridge.clinical.screening import REGRESSION, ScreeningRecord
from healthbridge.clinical.vaccination import GivenDose, TbTest
from healthbridge.clinical.vocab import Sex
from healthbridge.fhir import facts

Resource = dict[str, Any]

GROWTH_CODES = frozenset(
    {t.LOINC_BODY_WEIGHT, t.LOINC_BODY_LENGTH, t.LOINC_BODY_HEIGHT, t.LOINC_HEAD_CIRCUMFERENCE}
)
LOINC_SYMPTOM = "75325-1"
DAILY_CHECK_CODES = frozenset({t.LOINC_BODY_TEMPERATURE, LOINC_SYMPTOM})
TRIGGER_OBSERVATION_CODES = (
    GROWTH_CODES | DAILY_CHECK_CODES | {t.LOINC_HAEMOGLOBIN, facts.TB_SKIN_TEST}
)
WARNING_SIGNS_QUESTIONNAIRE = f"{t.CANONICAL_BASE}/Questionnaire/warning-signs"
ENROLLMENT_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
GESTATIONAL_AGE_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age"
BIRTH_WEIGHT_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/birth-weight"
MATERNAL_HBSAG_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/maternal-hbsag"
HBSAG_STATUSES = frozenset({"positive", "negative", "unknown"})
#: Optional extension on the enrolment carrying the admission-check state (DOMAIN.md §1.4).
ADMISSION_STATE_URL = "admission-check-state"
VOID_STATUSES = frozenset({"entered-in-error", "cancelled", "not-done"})


class NotAChildError(ValueError):
    """The Patient lacks what the rules need (birth date, administrative sex)."""


def loinc_code(resource: Resource) -> str | None:
    """The code an Observation counts under (:func:`healthbridge.fhir.facts.rule_code`):
    :data:`~healthbridge.fhir.facts.TB_SKIN_TEST` for a tuberculin skin test, else the first
    LOINC code of ``resource.code`` (None when there is none)."""
    return facts.rule_code(resource)


def is_void(resource: Resource) -> bool:
    """Entered in error, cancelled or not done: never an input of a rule."""
    return resource.get("status") in VOID_STATUSES


def local_date(value: str | None) -> date | None:
    """The calendar date as written (a Beijing-time instant is dated in Beijing)."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def ref_id(reference: Any, rtype: str) -> str | None:
    """The id of the local ``rtype`` a Reference names (None otherwise):
    :func:`healthbridge.fhir.facts.ref_id`."""
    return facts.ref_id(reference, rtype)


def subject_id(resource: Resource) -> str | None:
    """The child a resource is about (``subject``/``patient``/``for``)."""
    for key in ("subject", "patient", "for"):
        found = ref_id(resource.get(key), "Patient")
        if found:
            return found
    return None


def quantity_value(resource: Resource) -> float | None:
    """``valueQuantity.value`` as a float (None when absent or not a finite number)."""
    q = resource.get("valueQuantity")
    if not isinstance(q, dict):
        return None
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def effective_date(resource: Resource) -> date | None:
    """The date of an Observation (``effectiveDateTime`` or ``effectivePeriod.start``)."""
    when = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
    return local_date(when if isinstance(when, str) else None)


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """What the rules need from the Patient."""

    child_id: str
    birth_date: date
    sex: Sex
    gestational_weeks: float | None
    centre_id: str | None
    class_id: str | None
    enrolments: tuple[Enrolment, ...]
    general_practitioner: str | None
    #: birth weight in grams and the mother's HBsAg status (NIP special populations)
    birth_weight_g: float | None = None
    maternal_hbsag: str | None = None


def birth_facts(patient: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """Birth weight (g; the profile fixes the unit) and the mother's HBsAg status
    (``positive``/``negative``/``unknown``; another code reads as not recorded) of a Patient."""
    weight: float | None = None
    hbsag: str | None = None
    for ext in patient.get("extension") or ():
        url = ext.get("url")
        if url == BIRTH_WEIGHT_EXTENSION:
            unit = (ext.get("valueQuantity") or {}).get("code")
            value = quantity_value(ext)
            if value is not None and unit in (None, "g", "kg"):
                weight = value * 1000.0 if unit == "kg" else value
        elif url == MATERNAL_HBSAG_EXTENSION:
            code = ext.get("valueCode")
            hbsag = code if code in HBSAG_STATUSES else None
    return weight, hbsag


def child_info(patient: Resource) -> ChildInfo:
    """Birth date, sex, gestational age and enrolment of a Patient (hb-child)."""
    birth = local_date(patient.get("birthDate"))
    gender = patient.get("gender")
    if birth is None or gender not in ("male", "female"):
        raise NotAChildError(f"Patient/{patient.get('id')} lacks birthDate or gender")
    weeks: float | None = None
    centre = klass = None
    enrolments: list[Enrolment] = []
    for ext in patient.get("extension") or ():
        if ext.get("url") == GESTATIONAL_AGE_EXTENSION:
            weeks = quantity_value(ext)
    for e in facts.enrolments(patient):
        if e.ended:
            continue  # a past enrolment
        state = AdmissionState.NOT_SUBMITTED
        if e.state in {s.value for s in AdmissionState}:
            state = AdmissionState(e.state)
        if e.centre_id:
            centre, klass = e.centre_id, e.class_id
            start = local_date(e.start)
            if start is not None:
                enrolments.append(Enrolment(e.centre_id, start, state))
    gp = None
    for ref in patient.get("generalPractitioner") or ():
        gp = ref_id(ref, "Practitioner") or gp
    return ChildInfo(
        str(patient["id"]),
        birth,
        Sex(gender),
        weeks,
        centre,
        klass,
        tuple(enrolments),
        gp,
        *birth_facts(patient),
    )


@dataclass(frozen=True, slots=True)
class Session:
    """The growth measurements of one encounter (or one day): one growth_standards row.

    ``observation_id`` (the weight if measured, else length/height, else head circumference)
    names the row in findings; ``inputs`` maps each measured quantity to its Observation id.
    """

    key: str
    on: date
    observation_id: str
    weight_kg: float | None
    lenhei_cm: float | None
    measure: str | None
    headc_cm: float | None
    inputs: tuple[tuple[str, str], ...]  # (quantity, observation id)
    when: str  # effective instant of the session (for the derived observations)


def _session_key(obs: Resource, on: date) -> str:
    enc = ref_id(obs.get("encounter"), "Encounter")
    return f"enc:{enc}" if enc else f"day:{on.isoformat()}"


def growth_sessions(observations: Iterable[Resource]) -> list[Session]:
    """Pair the child's growth measurements into sessions, in date order.

    Within a session the latest-written value of each quantity wins (a re-measurement).
    """
    groups: dict[str, dict[str, tuple[Resource, float]]] = {}
    dates: dict[str, date] = {}
    for obs in observations:
        code = loinc_code(obs)
        if code not in GROWTH_CODES or is_void(obs):
            continue
        on = effective_date(obs)
        try:
            value = facts.growth_value(code, obs.get("valueQuantity"))
        except facts.UnitError:
            continue  # refused at the door; a stored one is never misread
        if on is None or value is None:
            continue
        key = _session_key(obs, on)
        quantity = facts.GROWTH_QUANTITY[code]
        slot = groups.setdefault(key, {})
        prev = slot.get(quantity)
        if prev is None or _written(obs) >= _written(prev[0]):
            slot[quantity] = (obs, value)
        dates[key] = min(dates.get(key, on), on)
    out = []
    for key, slot in groups.items():
        first = slot.get("weight") or slot.get("lenhei") or slot["headc"]
        lenhei = slot.get("lenhei")
        measure = None
        if lenhei is not None:
            measure = "l" if loinc_code(lenhei[0]) == t.LOINC_BODY_LENGTH else "h"
        when = first[0].get("effectiveDateTime") or dates[key].isoformat()
        out.append(
            Session(
                key,
                dates[key],
                str(first[0]["id"]),
                slot["weight"][1] if "weight" in slot else None,
                lenhei[1] if lenhei is not None else None,
                measure,
                slot["headc"][1] if "headc" in slot else None,
                tuple(sorted((q, str(o["id"])) for q, (o, _v) in slot.items())),
                str(when),
            )
        )
    out.sort(key=lambda s: (s.on, s.key))
    return out


def _written(resource: Resource) -> tuple[str, str]:
    meta = resource.get("meta") or {}
    return (str(meta.get("lastUpdated", "")), str(resource.get("id", "")))


def checkups(encounters: Iterable[Resource]) -> list[CheckupRecord]:
    """Encounters typed with a ``checkup-visit`` code (the code is the visit type)."""
    out = []
    for enc in encounters:
        if enc.get("status") in ("cancelled", "entered-in-error"):
            continue
        visit = None
        for concept in enc.get("type") or ():
            for coding in concept.get("coding") or ():
                if coding.get("system") == t.CS_CHECKUP_VISIT:
                    visit = coding.get("code")
        start = local_date((enc.get("period") or {}).get("start"))
        if visit is None or start is None or visit in ("daily-check",):
            continue
        out.append(CheckupRecord(str(enc["id"]), start, str(visit)))
    out.sort(key=lambda c: (c.on, c.checkup_id))
    return out


def doses(immunizations: Iterable[Resource]) -> list[GivenDose]:
    """Completed NIP doses."""
    out = []
    for imm in immunizations:
        if imm.get("status") != "completed":
            continue
        vaccine = facts.nip_vaccine((imm.get("vaccineCode") or {}).get("coding"))
        on = local_date(imm.get("occurrenceDateTime"))
        if vaccine and on is not None:
            out.append(GivenDose(str(imm["id"]), str(vaccine), on))
    out.sort(key=lambda d: (d.on, d.vaccine, d.immunization_id))
    return out


def haemoglobin(observations: Iterable[Resource]) -> list[HbResult]:
    """Haemoglobin results in g/L."""
    out = []
    for obs in observations:
        if loinc_code(obs) != t.LOINC_HAEMOGLOBIN or is_void(obs):
            continue
        on, value = effective_date(obs), quantity_value(obs)
        if on is None or value is None:
            continue
        if (obs.get("valueQuantity") or {}).get("code") == "g/dL":
            value *= 10.0
        out.append(HbResult(str(obs["id"]), on, value))
    out.sort(key=lambda h: (h.on, h.observation_id))
    return out


def tb_tests(observations: Iterable[Resource]) -> list[TbTest]:
    """Tuberculin skin tests with a readable result (:func:`facts.tb_test_result`)."""
    out = []
    for obs in observations:
        if loinc_code(obs) != facts.TB_SKIN_TEST or is_void(obs):
            continue
        on, negative = effective_date(obs), facts.tb_test_result(obs)
        if on is None or negative is None:
            continue
        out.append(TbTest(str(obs["id"]), on, negative))
    out.sort(key=lambda r: (r.on, r.observation_id))
    return out


def daily_checks(child: ChildInfo, observations: Iterable[Resource]) -> list[DailyCheck]:
    """Morning checks: per day, the (highest) temperature and the symptoms seen.

    Only for a child enrolled in a centre (the check is the centre's).
    """
    if child.centre_id is None:
        return []
    days: dict[date, tuple[list[str], list[float], list[str]]] = {}
    for obs in observations:
        code = loinc_code(obs)
        if code not in DAILY_CHECK_CODES or is_void(obs):
            continue
        on = effective_date(obs)
        if on is None:
            continue
        ids, temps, symptoms = days.setdefault(on, ([], [], []))
        ids.append(str(obs["id"]))
        if code == t.LOINC_BODY_TEMPERATURE:
            value = quantity_value(obs)
            if value is not None:
                temps.append(value)
        else:
            for coding in (obs.get("valueCodeableConcept") or {}).get("coding") or ():
                if coding.get("system") == t.CS_SYMPTOM and coding.get("code"):
                    symptoms.append(str(coding["code"]))
    out = []
    for on, (ids, temps, symptoms) in sorted(days.items()):
        out.append(
            DailyCheck(
                min(ids),
                child.child_id,
                child.centre_id,
                child.class_id or "",
                on,
                max(temps) if temps else None,
                tuple(sorted(set(symptoms))),
            )
        )
    return out


def screenings(responses: Iterable[Resource]) -> list[ScreeningRecord]:
    """Warning-sign screenings: the items answered ``true`` and the regression answer."""
    out = []
    for qr in responses:
        if qr.get("questionnaire") != WARNING_SIGNS_QUESTIONNAIRE:
            continue
        if qr.get("status") not in ("completed", "amended"):
            continue
        on = local_date(qr.get("authored"))
        if on is None:
            continue
        positive: list[str] = []
        regression = False
        for link, answer in _answers(qr.get("item") or ()):
            if answer is True:
                if link == REGRESSION:
                    regression = True
                else:
                    positive.append(link)
        out.append(ScreeningRecord(str(qr["id"]), on, tuple(sorted(positive)), regression))
    out.sort(key=lambda s: (s.on, s.screening_id))
    return out


def _answers(items: Sequence[Resource]) -> Iterable[tuple[str, Any]]:
    for item in items:
        for answer in item.get("answer") or ():
            if "valueBoolean" in answer:
                yield str(item.get("linkId")), answer["valueBoolean"]
        yield from _answers(item.get("item") or ())


def episode_condition(episode: Resource) -> str | None:
    """The ``managed-case-condition`` code of an EpisodeOfCare (None: not a managed case)."""
    for concept in episode.get("type") or ():
        for coding in concept.get("coding") or ():
            if coding.get("system") == t.CS_CASE_CONDITION and coding.get("code"):
                return str(coding["code"])
    return None


def episode_outcome(episode: Resource) -> str | None:
    """The ``case-outcome`` code a closed case records (extension ``case-outcome``)."""
    for ext in episode.get("extension") or ():
        if ext.get("url") == t.EXT_CASE_OUTCOME:
            coding = ext.get("valueCoding") or {}
            if coding.get("system") == t.CS_CASE_OUTCOME and coding.get("code"):
                return str(coding["code"])
    return None


def follow_up_dates(encounters: Iterable[Resource]) -> dict[str, list[date]]:
    """Visit dates by the EpisodeOfCare id each (not cancelled) Encounter names."""
    out: dict[str, list[date]] = {}
    for enc in encounters:
        if enc.get("status") in ("cancelled", "entered-in-error"):
            continue
        on = local_date((enc.get("period") or {}).get("start"))
        if on is None:
            continue
        for ref in enc.get("episodeOfCare") or ():
            eid = ref_id(ref, "EpisodeOfCare")
            if eid:
                out.setdefault(eid, []).append(on)
    return out


def managed_cases(
    episodes: Iterable[Resource], encounters: Iterable[Resource]
) -> list[ManagedCase]:
    """A child's managed cases: EpisodeOfCare ``active`` (open) or ``finished`` (closed),
    typed with a ``managed-case-condition``, with their follow-up visit dates."""
    visits = follow_up_dates(encounters)
    out = []
    for ep in episodes:
        status = ep.get("status")
        condition = episode_condition(ep)
        period = ep.get("period") or {}
        start = local_date(period.get("start"))
        if condition is None or start is None or status not in ("active", "finished"):
            continue
        eid = str(ep["id"])
        out.append(
            ManagedCase(
                eid,
                condition,
                start,
                status == "active",
                local_date(period.get("end")),
                episode_outcome(ep),
                tuple(sorted(visits.get(eid, ()))),
            )
        )
    out.sort(key=lambda c: (c.start, c.episode_id))
    return out


@dataclass(frozen=True, slots=True)
class Altitudes:
    """Metres above sea level from ``Location.position.altitude`` (FHIR R4 §Location): by
    Location id, and per centre (Organization id) the first of its managed Locations (by id)
    that has one (the centre's site)."""

    by_location: dict[str, float]
    by_centre: dict[str, float]

    def of(self, child: ChildInfo) -> float | None:
        """The altitude where the child is cared for: its class Location's, else its centre's
        site; ``None`` when unknown (no Hb altitude adjustment)."""
        if child.class_id is not None and child.class_id in self.by_location:
            return self.by_location[child.class_id]
        if child.centre_id is not None:
            return self.by_centre.get(child.centre_id)
        return None


def location_altitude(location: Resource) -> float | None:
    value = (location.get("position") or {}).get("altitude")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def altitudes(locations: Iterable[Resource]) -> Altitudes:
    """:class:`Altitudes` of the Locations (inactive ones included: a class is still where it
    is)."""
    by_location: dict[str, float] = {}
    by_centre: dict[str, float] = {}
    for loc in sorted(locations, key=lambda r: str(r.get("id"))):
        altitude = location_altitude(loc)
        if altitude is None:
            continue
        by_location[str(loc.get("id"))] = altitude
        centre = ref_id(loc.get("managingOrganization"), "Organization")
        if centre is not None:
            by_centre.setdefault(centre, altitude)
    return Altitudes(by_location, by_centre)
