"""What a parent (and the pages) see about one child, computed from the child's FHIR record.

Input is the resources of the child's compartment as plain JSON (``$everything`` or a
Transaction's ``everything``). Growth uses :mod:`healthbridge.charts.record` (WHO scoring on
the measurements themselves); vaccinations given/due and the next checkup use the clinical
rule tables (:func:`vaccination_plan`, :func:`checkup_plan`); alerts are the active ``Flag``
resources the clinical pipeline wrote, explained with the rule table's parent texts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from growth_standards import Indicator
from healthbridge import terminology as t
from healthbridge.charts.growth import ChartData, chart_data
from healthbridge.charts.labels import Lang
from healthbridge.charts.parent_report import LatestScore, ParentReport, VaccineLine
from healthbridge.charts.problems import Problem, problems
from healthbridge.charts.record import GrowthRecord, Latest, growth_record, latest, points
from healthbridge.charts.referrals import ReferralLine, next_follow_up, referral_lines
from healthbridge.clinical.checkups import CheckupRecord, checkup_plan
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vaccination import ChildFacts, DoseStatus, GivenDose, vaccination_plan
from healthbridge.clinical.vocab import AlertKind
from healthbridge.clinical.vocab import Sex as ClinicalSex
from healthbridge.fhir.facts import flag_severity
from healthbridge.inputs.extract import birth_facts

#: Indicators summarised for parents, in display order.
SUMMARY_INDICATORS: Final = (
    Indicator.WFA,
    Indicator.LHFA,
    Indicator.WFL,
    Indicator.WFH,
    Indicator.BFA,
    Indicator.HCFA,
)
#: Charts in the parent report (weight, length/height, head circumference; 0–5 years).
REPORT_CHARTS: Final = (Indicator.WFA, Indicator.LHFA, Indicator.HCFA)
#: ``next_checkup`` code when the next visit is a referral's planned follow-up.
FOLLOW_UP: Final = "referral-follow-up"
ENROLLMENT_URL: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"


@dataclass(frozen=True, slots=True)
class Alert:
    """An active alert Flag with its texts (``parent`` is the rule table's kind explanation)."""

    flag_id: str
    kind: str
    since: str | None
    severity: str | None
    display: str
    parent: str


@dataclass(frozen=True, slots=True)
class ChildSummary:
    """A child's record as shown to people: growth, vaccinations, checkups, alerts."""

    patient_id: str
    name: str
    sex: str
    birth_date: dt.date
    centre_id: str | None
    class_id: str | None
    growth: GrowthRecord
    scores: tuple[Latest, ...]
    vaccines: tuple[VaccineLine, ...]
    next_checkup: tuple[str, str, dt.date] | None  # (code, label zh, target date)
    next_checkup_en: str | None
    alerts: tuple[Alert, ...]
    #: the child's referrals and the hospital's answers (charts/referrals.py)
    referrals: tuple[ReferralLine, ...] = ()
    #: the alerts merged into one message per problem for parents (charts/problems.py)
    problems: tuple[Problem, ...] = ()


def child_name(patient: Mapping[str, Any]) -> str:
    """The display name (``name.text``, else family + given)."""
    for name in patient.get("name", []):
        if name.get("text"):
            return str(name["text"])
        return str(name.get("family", "")) + "".join(name.get("given", []))
    return str(patient.get("id", ""))


def enrolment(patient: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(centre id, class id) from the childcare-enrollment extension."""
    for ext in patient.get("extension", []):
        if ext.get("url") != ENROLLMENT_URL:
            continue
        parts = {e.get("url"): e.get("valueReference", {}) for e in ext.get("extension", [])}
        centre = parts.get("centre", {}).get("reference", "")
        room = parts.get("class", {}).get("reference", "")
        return (centre.split("/")[-1] or None, room.split("/")[-1] or None)
    return None, None


def _code(resource: Mapping[str, Any], system: str, field: str = "code") -> str | None:
    concept = resource.get(field) or {}
    for coding in concept.get("coding", []):
        if coding.get("system") == system:
            return str(coding.get("code"))
    return None


def _day(value: Any) -> dt.date | None:
    return (
        dt.date.fromisoformat(value[:10]) if isinstance(value, str) and len(value) >= 10 else None
    )


def _alerts(flags: Iterable[Mapping[str, Any]], rules: RuleSet, lang: Lang) -> tuple[Alert, ...]:
    out: list[Alert] = []
    for flag in flags:
        if flag.get("status") != "active":
            continue
        kind = _code(flag, t.CS_ALERT_KIND) or ""
        severity = flag_severity(flag)
        try:
            text = rules.alerts.text(AlertKind(kind))
            display = text.display_zh if lang is Lang.ZH else text.display_en
            parent = text.parent_zh if lang is Lang.ZH else text.parent_en
        except ValueError:
            display = str(flag.get("code", {}).get("text") or kind)
            parent = display
        since = flag.get("period", {}).get("start")
        out.append(Alert(str(flag["id"]), kind, since, severity, display, parent))
    return tuple(sorted(out, key=lambda a: (a.since or "", a.flag_id), reverse=True))


def summarise(
    resources: Iterable[Mapping[str, Any]],
    patient_id: str,
    rules: RuleSet,
    *,
    as_of: dt.date,
    lang: Lang = Lang.ZH,
) -> ChildSummary:
    """Summarise one child from the resources of their compartment."""
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    patient: Mapping[str, Any] | None = None
    for r in resources:
        if r.get("resourceType") == "Patient" and r.get("id") == patient_id:
            patient = r
        by_type.setdefault(str(r.get("resourceType")), []).append(r)
    if patient is None:
        raise LookupError(f"Patient/{patient_id} is not among the resources")
    growth = growth_record(patient, by_type.get("Observation", []))
    scores = tuple(s for s in (latest(growth, i) for i in SUMMARY_INDICATORS) if s is not None)
    sex = ClinicalSex.MALE if patient.get("gender") == "male" else ClinicalSex.FEMALE
    given = [
        GivenDose(str(imm["id"]), code, day)
        for imm in by_type.get("Immunization", [])
        if imm.get("status") == "completed"
        and (code := _code(imm, t.CS_NIP_VACCINE, "vaccineCode")) is not None
        and (day := _day(imm.get("occurrenceDateTime"))) is not None
    ]
    weight, hbsag = birth_facts(patient)
    facts = ChildFacts(maternal_hbsag=hbsag, birth_weight_g=weight)
    plan = vaccination_plan(growth.birth_date, sex, given, rules.vaccination, as_of, facts)
    vaccines: list[VaccineLine] = []
    for dose in plan.doses:
        if dose.status is DoseStatus.NOT_APPLICABLE:
            continue
        info = rules.vaccination.vaccine(dose.vaccine)
        name = info.name_zh if lang is Lang.ZH else info.name_en
        when = dose.given.on if dose.given else dose.earliest or dose.scheduled
        vaccines.append(VaccineLine(name, dose.number, when, dose.status.value))
    checkups = [
        CheckupRecord(str(enc["id"]), day, _code_of_type(enc))
        for enc in by_type.get("Encounter", [])
        if (day := _day(enc.get("period", {}).get("start"))) is not None
    ]
    cplan = checkup_plan(growth.birth_date, checkups, rules.checkups, as_of)
    next_checkup = None
    next_en = None
    if cplan.next_visit and cplan.next_due_date:
        visit = next(v for v in rules.checkups.visits if v.code == cplan.next_visit)
        next_checkup = (visit.code, visit.name_zh, cplan.next_due_date)
        next_en = visit.name_en
    referrals = referral_lines([*by_type.get("ServiceRequest", []), *by_type.get("Task", [])])
    follow = next_follow_up(referrals, as_of)
    if (
        follow is not None
        and follow.follow_up is not None
        and (next_checkup is None or follow.follow_up < next_checkup[2])
    ):  # the hospital's plan comes first: the next visit is the referral follow-up
        next_checkup = (FOLLOW_UP, "转诊复诊（按医院的处理计划）", follow.follow_up)
        next_en = "Referral follow-up (the hospital's plan)"
    centre, room = enrolment(patient)
    centre_name = next(
        (str(o["name"]) for o in by_type.get("Organization", []) if o.get("id") == centre
         and o.get("name")), None,
    )  # fmt: skip
    alerts = _alerts(by_type.get("Flag", []), rules, lang)
    merged = problems(
        alerts, by_type.get("Task", []), lang, centre=centre_name,
        next_checkup=next_checkup[2] if next_checkup else None, as_of=as_of,
    )  # fmt: skip
    return ChildSummary(
        patient_id,
        child_name(patient),
        str(patient.get("gender")),
        growth.birth_date,
        centre,
        room,
        growth,
        scores,
        tuple(vaccines),
        next_checkup,
        next_en,
        alerts,
        referrals,
        merged,
    )


def _code_of_type(encounter: Mapping[str, Any]) -> str | None:
    for concept in encounter.get("type", []):
        for coding in concept.get("coding", []):
            if coding.get("system") == t.CS_CHECKUP_VISIT:
                return str(coding.get("code"))
    return None


def charts_for(summary: ChildSummary, indicators: Iterable[Indicator]) -> tuple[ChartData, ...]:
    """Chart data (centile lines) for each indicator the child has points for."""
    out = []
    for indicator in indicators:
        pts = points(summary.growth, indicator)
        if pts:
            out.append(chart_data(indicator, summary.growth.sex, pts))
    return tuple(out)


def parent_report(
    summary: ChildSummary, lang: Lang, *, as_of: dt.date, centre: str | None = None
) -> ParentReport:
    """The parent report's content: scores with the alerts' plain words, vaccines, checkup."""
    scores = tuple(
        LatestScore(s.indicator, round(s.value, 2), s.unit, s.measured, s.percentile)
        for s in summary.scores
    )
    visible = tuple(v for v in summary.vaccines if v.status != "not-yet-due")
    upcoming = sorted(
        (v for v in summary.vaccines if v.status == "not-yet-due"),
        key=lambda v: v.date or dt.date.max,
    )[:3]
    next_checkup = None
    if summary.next_checkup:
        label = summary.next_checkup[1] if lang is Lang.ZH else summary.next_checkup_en
        next_checkup = (label or summary.next_checkup[0], summary.next_checkup[2])
    return ParentReport(
        child_name=summary.name,
        sex=summary.growth.sex,
        birth_date=summary.birth_date,
        as_of=as_of,
        scores=scores,
        vaccines=(*visible, *upcoming),
        next_checkup=next_checkup,
        charts=charts_for(summary, REPORT_CHARTS),
        centre=centre,
        notes=tuple(problem_text(p, lang) for p in summary.problems),
        referrals=tuple(referral_text(r, lang) for r in summary.referrals),
    )


def problem_text(problem: Problem, lang: Lang) -> str:
    """One problem as a line of the report: title (findings): explanation; who and when."""
    if lang is Lang.ZH:
        return (
            f"{problem.title}（{'、'.join(problem.findings)}）：{problem.message}{problem.contact}"
        )
    return f"{problem.title} ({', '.join(problem.findings)}): {problem.message} {problem.contact}"


_STAGE: Final = {
    "sent": ("已转出，等待医院接收", "sent; waiting for the hospital"),
    "accepted": ("医院已接收，正在处理", "accepted by the hospital"),
    "rejected": ("医院未接收，保健医生会另行安排", "declined; the centre will arrange another"),
    "answered": ("医院已答复", "answered by the hospital"),
    "revoked": ("已撤销", "withdrawn"),
}


def referral_text(line: ReferralLine, lang: Lang) -> str:
    """One referral as a line of the report: reason, stage, findings, plan, follow-up."""
    zh = lang is Lang.ZH
    parts = [line.reason, _STAGE[line.stage][0 if zh else 1]]
    if line.findings:
        parts.append(("检查结果：" if zh else "findings: ") + line.findings)
    if line.plan:
        parts.append(("处理计划：" if zh else "plan: ") + line.plan)
    if line.follow_up:
        parts.append(("复诊日期：" if zh else "follow-up: ") + line.follow_up.isoformat())
    return ("；" if zh else "; ").join(parts)
