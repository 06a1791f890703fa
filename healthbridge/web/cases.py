"""Managed cases on the pages: what a child's cases look like, and the writes of enrolment,
follow-up and closure (体弱儿/高危儿专案管理).

A case is an ``EpisodeOfCare`` (profile ``hb-managed-case``) with a ``CarePlan``
(``hb-case-plan``, id ``{episode}-plan``) holding the interval and the closure criteria of the
``managed-cases`` rule table; a follow-up is an ``Encounter`` whose ``episodeOfCare`` names the
case; closing sets the outcome. The schedule is read by the same functions as the rules
(:mod:`healthbridge.clinical.cases`, through :func:`healthbridge.inputs.extract.managed_cases`),
so the page shows the date the alerts are raised from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.clinical.cases import CasesTable, CaseStatus, ManagedCase, case_status
from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.errors import GoneError, NotFoundError
from healthbridge.inputs import extract as x
from healthbridge.store.repository import Transaction

Resource = dict[str, Any]
SD: Final = f"{t.CANONICAL_BASE}/StructureDefinition"
AMB: Final = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}


class CaseFormError(ValueError):
    """A case form cannot be saved; ``key`` is the i18n message key shown on the page."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class CaseView:
    """One case as the pages show it."""

    episode_id: str
    condition: str
    name: str
    start: dt.date
    active: bool
    end: dt.date | None
    outcome: str | None
    due: dt.date | None
    overdue: bool
    lost: bool
    follow_ups: tuple[dt.date, ...]
    closure: str
    #: on the condition's high-risk schedule (早产儿保健工作规范: GA < 34 wk or BW < 2000 g)
    high_risk: bool = False


def case_views(
    episodes: list[Resource],
    encounters: list[Resource],
    patient: Resource,
    table: CasesTable,
    lang: str,
    as_of: dt.date,
) -> list[CaseView]:
    """The child's cases, open ones first, newest first."""
    try:
        info = x.child_info(patient)
    except x.NotAChildError:
        return []
    out = []
    for case in x.managed_cases(episodes, encounters):
        try:
            status: CaseStatus = case_status(
                case, info.birth_date, table, as_of, info.gestational_weeks, info.birth_weight_g
            )
        except ClinicalInputError:  # a condition the rule table no longer knows
            continue
        outcome = table.outcome(case.outcome).name(lang) if case.outcome else None
        out.append(
            CaseView(
                case.episode_id,
                case.condition,
                status.condition.name(lang),
                case.start,
                case.active,
                case.end,
                outcome,
                status.due,
                status.overdue,
                status.lost,
                case.follow_ups,
                status.condition.closure(lang),
                status.condition.is_high_risk(info.gestational_weeks, info.birth_weight_g),
            )
        )
    out.sort(key=lambda v: (not v.active, -v.start.toordinal(), v.episode_id))
    return out


def parse_day(value: Any, *, birth: dt.date, today: dt.date, key: str) -> dt.date:
    """A form date between the birth date and today; :class:`CaseFormError` (message key)."""
    try:
        day = dt.date.fromisoformat(str(value or ""))
    except ValueError:
        raise CaseFormError(key) from None
    if day < birth or day > today:
        raise CaseFormError(key)
    return day


def enrol(
    txn: Transaction,
    patient_id: str,
    condition: str,
    start: dt.date,
    *,
    table: CasesTable,
    organization: str,
    practitioner: str | None,
) -> str:
    """Create the case (EpisodeOfCare) and its plan (CarePlan); returns the episode id."""
    try:
        rule = table.condition(condition)
    except ClinicalInputError:
        raise CaseFormError("case.err_condition") from None
    open_ = txn.search_params(
        "EpisodeOfCare", [("patient", f"Patient/{patient_id}"), ("status", "active")]
    ).matches
    if any(s.resource and x.episode_condition(s.resource) == rule.code for s in open_):
        raise CaseFormError("case.err_open")
    episode: Resource = {
        "resourceType": "EpisodeOfCare",
        "meta": {"profile": [f"{SD}/hb-managed-case"]},
        "status": "active",
        "type": [
            {
                "coding": [
                    {"system": t.CS_CASE_CONDITION, "code": rule.code, "display": rule.name_en}
                ],
                "text": rule.name_zh,
            }
        ],
        "patient": {"reference": f"Patient/{patient_id}"},
        "managingOrganization": {"reference": f"Organization/{organization}"},
        "period": {"start": start.isoformat()},
    }
    if practitioner:
        episode["careManager"] = {"reference": practitioner}
    eid = txn.create(episode).stored.id
    case = ManagedCase(eid, rule.code, start)
    _write_plan(txn, patient_id, case, table, None)
    return eid


def _write_plan(
    txn: Transaction,
    patient_id: str,
    case: ManagedCase,
    table: CasesTable,
    status: CaseStatus | None,
) -> None:
    """The case's CarePlan (``{episode}-plan``): interval, next due date, closure criteria."""
    rule = table.condition(case.condition)
    due = status.due if status is not None else None
    try:  # the child's schedule (the high-risk one for a high-risk preterm child)
        info = x.child_info(txn.read("Patient", patient_id).resource or {})
        first = rule.schedule(info.gestational_weeks, info.birth_weight_g)[0].days
    except (NotFoundError, GoneError, x.NotAChildError):
        first = rule.intervals[0].days
    timing: Resource = {"repeat": {"frequency": 1, "period": first, "periodUnit": "d"}}
    if due is not None:
        timing["event"] = [due.isoformat()]
    detail: Resource = {
        "status": "scheduled" if case.active else "completed",
        "description": f"随访 / follow-up: {rule.name_zh}",
        "scheduledTiming": timing,
    }
    plan: Resource = {
        "resourceType": "CarePlan",
        "id": f"{case.episode_id}-plan",
        "meta": {"profile": [f"{SD}/hb-case-plan"]},
        "status": "active" if case.active else "completed",
        "intent": "plan",
        "title": f"{rule.name_zh} 专案管理",
        "description": rule.closure_zh,
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": case.start.isoformat()}
        | ({"end": case.end.isoformat()} if case.end else {}),
        "supportingInfo": [{"reference": f"EpisodeOfCare/{case.episode_id}"}],
        "activity": [{"detail": detail}],
    }
    try:
        txn.read("CarePlan", plan["id"])
    except (NotFoundError, GoneError):
        txn.create(plan, assigned_id=plan["id"])
    else:
        txn.update("CarePlan", plan["id"], plan)


def _case(txn: Transaction, patient_id: str, episode_id: str) -> Resource:
    episode = dict(txn.read("EpisodeOfCare", episode_id).resource or {})
    if x.subject_id(episode) != patient_id or x.episode_condition(episode) is None:
        raise CaseFormError("case.err_unknown")
    if episode.get("status") != "active":
        raise CaseFormError("case.err_closed")
    return episode


def record_follow_up(
    txn: Transaction,
    patient: Resource,
    episode_id: str,
    on: dt.date,
    *,
    table: CasesTable,
    organization: str,
    practitioner: str | None,
    today: dt.date,
) -> None:
    """A follow-up visit (Encounter → the case) and the plan's next due date."""
    pid = str(patient["id"])
    episode = _case(txn, pid, episode_id)
    encounter: Resource = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": AMB,
        # the task-kind code "follow-up" (随访, "Follow up a managed case")
        "type": [
            {
                "coding": [
                    {"system": f"{t.CANONICAL_BASE}/CodeSystem/task-kind", "code": "follow-up"}
                ],
                "text": "专案随访 / managed-case follow-up",
            }
        ],
        "subject": {"reference": f"Patient/{pid}"},
        "episodeOfCare": [{"reference": f"EpisodeOfCare/{episode_id}"}],
        "serviceProvider": {"reference": f"Organization/{organization}"},
        "period": {"start": on.isoformat(), "end": on.isoformat()},
    }
    if practitioner:
        encounter["participant"] = [{"individual": {"reference": practitioner}}]
    txn.create(encounter)
    found = txn.search_params(
        "Encounter", [("episode-of-care", f"EpisodeOfCare/{episode_id}"), ("_count", "1000")]
    ).matches
    (case,) = x.managed_cases([episode], [r.resource for r in found if r.resource])
    info = x.child_info(patient)
    status = case_status(
        case, info.birth_date, table, today, info.gestational_weeks, info.birth_weight_g
    )
    _write_plan(txn, pid, case, table, status)


def close(
    txn: Transaction,
    patient_id: str,
    episode_id: str,
    outcome: str,
    on: dt.date,
    *,
    table: CasesTable,
) -> None:
    """Close the case (结案): status finished, end date, outcome; the plan completed."""
    if outcome not in {o.code for o in table.outcomes}:
        raise CaseFormError("case.err_outcome")
    episode = _case(txn, patient_id, episode_id)
    start = x.local_date((episode.get("period") or {}).get("start"))
    if start is not None and on < start:
        raise CaseFormError("case.err_date")
    episode["status"] = "finished"
    episode["period"] = {**(episode.get("period") or {}), "end": on.isoformat()}
    episode["extension"] = [
        e for e in episode.get("extension") or () if e.get("url") != t.EXT_CASE_OUTCOME
    ] + [
        {
            "url": t.EXT_CASE_OUTCOME,
            "valueCoding": {
                "system": t.CS_CASE_OUTCOME,
                "code": outcome,
                "display": table.outcome(outcome).name_en,
            },
        }
    ]
    txn.update("EpisodeOfCare", episode_id, episode)
    condition = x.episode_condition(episode) or ""
    case = ManagedCase(episode_id, condition, start or on, False, on, outcome)
    _write_plan(txn, patient_id, case, table, None)
