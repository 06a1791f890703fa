"""The paediatrician's clinical view and the visit form's checks before saving.

* :func:`clinical_view`: the measurement table with z-scores and grades, growth between
  visits and the target height (:mod:`healthbridge.charts.clinical_view`);
* :func:`visit_type_names` / :func:`default_visit_type`: visit types in the user's language
  (the checkup rule table's names) and the scheduled visit nearest the child's age;
* :func:`visit_warnings`: what the doctor confirms before a visit is saved — a vaccine dose
  already recorded, a measurement far from the child's previous one.

"Far from the previous value" is a project choice, not a guideline cut-off (UNCONFIRMED,
listed in docs/web.md): the new value's WHO z-score differs by ``Z_JUMP`` (2.0) or more from
the previous visit's, or a length/height is ``SHRINK_CM`` (1.0 cm) or more below the previous
one (length cannot fall; 1 cm exceeds the usual measurement error and the 0.7 cm lying/standing
difference). The z-scores come from the same WHO scoring as the charts (``growth_record``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from growth_standards import spec
from healthbridge import terminology as t
from healthbridge.charts.clinical_view import (
    Z_COLUMNS,
    TargetHeight,
    VisitRow,
    ZScore,
    grade,
    target_height,
    visit_rows,
)
from healthbridge.charts.labels import Lang
from healthbridge.charts.record import growth_record
from healthbridge.charts.summary import ChildSummary
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.fhir import facts
from healthbridge.web.visit import VISIT_TYPES, VisitInput

Z_JUMP: Final = 2.0
SHRINK_CM: Final = 1.0
_ADMISSION: Final = ("入园体检", "Admission check")


@dataclass(frozen=True, slots=True)
class ClinicalView:
    rows: tuple[VisitRow, ...]  # newest first
    latest: dict[str, ZScore]  # indicator code → the latest z-score with its grade
    target: TargetHeight | None


def clinical_view(
    summary: ChildSummary, observations: Iterable[Mapping[str, Any]], ruleset: RuleSet
) -> ClinicalView:
    rows = visit_rows(summary.growth, ruleset)
    latest: dict[str, ZScore] = {}
    for score in summary.scores:
        column = spec(score.indicator).score_column
        age = float((score.measured - summary.birth_date).days)
        if score.z is None:
            zh, en = "疑似测量错误（WHO 标记）", "implausible (WHO flag), re-measure"
            latest[score.indicator.value] = ZScore(column, column, None, True, zh, en, True)
            continue
        zh, en, abnormal = grade(ruleset, column, score.z, age)
        label = next(label for c, label, _ in Z_COLUMNS if c == column)
        latest[score.indicator.value] = ZScore(
            column, label, round(score.z, 2), False, zh, en, abnormal
        )
    target = target_height(summary.growth.sex, observations)
    return ClinicalView(tuple(reversed(rows)), latest, target)


def visit_type_names(lang: Lang, ruleset: RuleSet) -> dict[str, str]:
    """Visit type code → its name (the checkup rule table's, e.g. 24m → 2岁（24月龄）体检)."""
    names = {v.code: v.name_zh if lang is Lang.ZH else v.name_en for v in ruleset.checkups.visits}
    names["admission"] = _ADMISSION[0] if lang is Lang.ZH else _ADMISSION[1]
    return {code: names.get(code, code) for code in (*VISIT_TYPES, *names)}


def default_visit_type(birth_date: dt.date, on: dt.date, ruleset: RuleSet) -> str:
    """The scheduled visit whose target age is nearest the child's age on ``on``."""
    age_days = (on - birth_date).days
    best = min(
        (v for v in ruleset.checkups.visits if v.code in VISIT_TYPES),
        key=lambda v: abs(v.age.approx_days() - age_days),
    )
    return best.code


@dataclass(frozen=True, slots=True)
class Warning:
    """A catalogue key with its values; the doctor must confirm before saving."""

    key: str
    values: Mapping[str, str]


def _dose_number(imm: Mapping[str, Any]) -> int | None:
    for applied in imm.get("protocolApplied", []):
        number = applied.get("doseNumberPositiveInt")
        if isinstance(number, int):
            return number
    return None


def duplicate_doses(
    visit: VisitInput, immunizations: Iterable[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """(vaccine, dose) of the form already recorded as given (same vaccine and dose number,
    or the same vaccine on the same day)."""
    given: set[tuple[str, int | None]] = set()
    days: set[tuple[str, str]] = set()
    for imm in immunizations:
        if imm.get("status") != "completed":
            continue
        code = facts.nip_vaccine(imm.get("vaccineCode", {}).get("coding", []))
        if code is None:
            continue
        given.add((code, _dose_number(imm)))
        days.add((code, str(imm.get("occurrenceDateTime", ""))[:10]))
    return [
        (d.vaccine, d.dose)
        for d in visit.vaccines
        if (d.vaccine, d.dose) in given or (d.vaccine, visit.visit_date.isoformat()) in days
    ]


def _new_observations(visit: VisitInput) -> list[dict[str, Any]]:
    when = visit.visit_date.isoformat()
    values = [
        (t.LOINC_BODY_WEIGHT, visit.weight_kg, "kg"),
        (
            t.LOINC_BODY_LENGTH if visit.measure == "l" else t.LOINC_BODY_HEIGHT,
            visit.length_cm,
            "cm",
        ),
        (t.LOINC_HEAD_CIRCUMFERENCE, visit.headc_cm, "cm"),
    ]
    return [
        {
            "resourceType": "Observation",
            "id": f"new-{code}",
            "status": "final",
            "code": {"coding": [{"system": t.LOINC, "code": code}]},
            "effectiveDateTime": when,
            "encounter": {"reference": "Encounter/new-visit"},
            "valueQuantity": {"value": value, "code": unit},
        }
        for code, value, unit in values
        if value is not None
    ]


_JUMP_COLUMNS: Final = (
    ("zwei", "weight_kg", "visit.weight"),
    ("zlen", "lenhei_cm", "visit.length"),
    ("zhc", "headc_cm", "visit.headc"),
)


def far_values(
    visit: VisitInput, patient: Mapping[str, Any], observations: Iterable[Mapping[str, Any]]
) -> list[Warning]:
    """Measurements of the form far from the child's previous visit (module docstring)."""
    new = _new_observations(visit)
    if not new:
        return []
    earlier = [
        o
        for o in observations
        if str(o.get("effectiveDateTime", ""))[:10] < visit.visit_date.isoformat()
    ]
    if not earlier:
        return []
    try:
        frame = growth_record(patient, [*earlier, *new]).visits
    except ValueError:
        return []
    if len(frame) < 2 or frame.iloc[-1]["encounter"] != "Encounter/new-visit":
        return []
    now, before = frame.iloc[-1], frame.iloc[:-1]
    out: list[Warning] = []
    for column, value_column, field in _JUMP_COLUMNS:
        known = before[before[value_column].notna()]
        if known.empty or now.get(value_column) is None or now.isna().get(value_column, True):
            continue
        prev = known.iloc[-1]
        old_value, new_value = float(prev[value_column]), float(now[value_column])
        z_old, z_new = prev.get(column), now.get(column)
        jump = (
            z_old is not None
            and z_new is not None
            and not (before.isna().at[prev.name, column] or frame.isna().iloc[-1][column])
            and abs(float(z_new) - float(z_old)) >= Z_JUMP
        )
        shrink = value_column == "lenhei_cm" and new_value <= old_value - SHRINK_CM
        if jump or shrink:
            out.append(
                Warning(
                    "visit.warn_far",
                    {
                        "field": field,
                        "value": f"{new_value:g}",
                        "previous": f"{old_value:g}",
                        "date": str(prev["when"]),
                    },
                )
            )
    return out


def visit_warnings(
    visit: VisitInput, patient: Mapping[str, Any], compartment: Iterable[Mapping[str, Any]]
) -> list[Warning]:
    """Everything the doctor must confirm before this visit is saved."""
    items = list(compartment)
    immunizations = [r for r in items if r.get("resourceType") == "Immunization"]
    observations = [r for r in items if r.get("resourceType") == "Observation"]
    out = [
        Warning("visit.warn_duplicate_dose", {"vaccine": code, "dose": str(dose)})
        for code, dose in duplicate_doses(visit, immunizations)
    ]
    return [*out, *far_values(visit, patient, observations)]
