"""Batch re-evaluation of a whole database (``healthbridge evaluate``).

After a rule-table change (or nightly, for date-dependent statuses) every child and centre is
evaluated again: the current resources are read in bulk straight from the ``resource`` table,
turned into the rule inputs by the same functions the write interceptor uses
(:mod:`healthbridge.pipeline.extract`, :mod:`healthbridge.pipeline.scoring`), scored with one
``growth_standards.score`` call for all sessions, evaluated with the pure batch evaluator
(:func:`~healthbridge.clinical.evaluate.evaluate_district`) and reconciled with the open alerts;
only the alert changes are written, through the repository, a few hundred subjects per
transaction (JSON parsed with orjson: the read dominates). Derived growth Observations are
not rewritten here: they depend on the WHO standards and the measurements, not on the rule
tables, and the interceptor keeps them current.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import select

from healthbridge import terminology as t
from healthbridge.clinical.alerts import AlertAction, OpenAlert, reconcile
from healthbridge.clinical.evaluate import CENTRE_KINDS, CHILD_KINDS, evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import GROWTH_FIELDS, DistrictData
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import SubjectType
from healthbridge.pipeline import extract as x
from healthbridge.pipeline.alerts import Routing, apply_actions, open_alerts
from healthbridge.pipeline.engine import child_routing, is_health_manager, now_instant
from healthbridge.pipeline.scoring import (
    point_columns,
    points_from_columns,
    score_columns,
    session_columns,
)
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import RES, Repository

_TYPES = (
    "Patient",
    "Observation",
    "Encounter",
    "Immunization",
    "QuestionnaireResponse",
    "Flag",
    "Task",
    "PractitionerRole",
)


@dataclass
class BatchReport:
    """What ``healthbridge evaluate`` did."""

    children: int = 0
    observations: int = 0
    findings: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    open_alerts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _District:
    patients: dict[str, x.ChildInfo] = field(default_factory=dict)
    observations: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    encounters: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    immunizations: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    responses: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    flags: defaultdict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    managers: dict[str, str] = field(default_factory=dict)
    n_observations: int = 0


def _rows(repository: Repository, rtype: str) -> Iterator[tuple[str, str]]:
    stmt = (
        select(RES.c.res_id, RES.c.content)
        .where(RES.c.res_type == rtype, RES.c.deleted.is_(False))
        .execution_options(yield_per=5000)
    )
    with repository.engine.connect() as conn:
        for row in conn.execute(stmt):
            yield row.res_id, row.content


def read_district(repository: Repository) -> _District:
    """Every current resource the rules read, grouped by child (one pass per type)."""
    d = _District()
    derived_marker = t.CS_GROWTH_INDICATOR
    for rtype in _TYPES:
        for _rid, content in _rows(repository, rtype):
            if rtype == "Observation" and derived_marker in content:
                continue  # a derived score: not a rule input
            resource = orjson.loads(content)
            if rtype == "Patient":
                try:
                    d.patients[str(resource["id"])] = x.child_info(resource)
                except x.NotAChildError:
                    continue
            elif rtype == "Flag":
                subject = (resource.get("subject") or {}).get("reference")
                if resource.get("status") == "active" and subject:
                    d.flags[str(subject)].append(resource)
            elif rtype == "Task":
                fid = x.ref_id(resource.get("focus"), "Flag")
                if fid:
                    d.tasks[fid] = resource
            elif rtype == "PractitionerRole":
                org = x.ref_id(resource.get("organization"), "Organization")
                if org and is_health_manager(resource) and org not in d.managers:
                    d.managers[org] = f"PractitionerRole/{resource['id']}"
            else:
                child = x.subject_id(resource)
                if child is None:
                    continue
                if rtype == "Observation":
                    d.observations[child].append(resource)
                    d.n_observations += 1
                elif rtype == "Encounter":
                    d.encounters[child].append(resource)
                elif rtype == "Immunization":
                    d.immunizations[child].append(resource)
                else:
                    d.responses[child].append(resource)
    return d


def _frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...], dates: tuple[str, ...]) -> Any:
    frame = pd.DataFrame(rows, columns=list(columns))
    for c in dates:
        frame[c] = pd.to_datetime(frame[c])
    return frame


def district_data(d: _District) -> DistrictData:
    """The batch evaluator's input frames (schemas in healthbridge.clinical.frames)."""
    children: list[tuple[Any, ...]] = []
    growth_children: list[tuple[x.ChildInfo, list[x.Session]]] = []
    inputs: dict[str, list[Any]] = {}
    checkups, doses, checks, hb, screenings, enrolments = [], [], [], [], [], []
    for cid, info in d.patients.items():
        children.append(
            (
                cid,
                info.birth_date,
                info.sex.value,
                info.centre_id,
                info.class_id,
                info.gestational_weeks,
            )
        )
        obs = d.observations.get(cid, [])
        sessions = x.growth_sessions(obs)
        if sessions:
            growth_children.append((info, sessions))
            for name, values in session_columns(info, sessions).items():
                inputs.setdefault(name, []).extend(values)
        checkups += [
            (cid, c.checkup_id, c.on, c.visit_type) for c in x.checkups(d.encounters.get(cid, []))
        ]
        doses += [
            (cid, g.immunization_id, g.vaccine, g.on) for g in x.doses(d.immunizations.get(cid, []))
        ]
        checks += [
            (c.check_id, cid, c.centre_id, c.class_id, c.on, c.temperature_c, c.symptoms)
            for c in x.daily_checks(info, obs)
        ]
        hb += [(cid, h.observation_id, h.on, h.hb_g_l) for h in x.haemoglobin(obs)]
        screenings += [
            (cid, s.screening_id, s.on, s.positive_items, s.regression)
            for s in x.screenings(d.responses.get(cid, []))
        ]
        enrolments += [
            (cid, e.centre_id, e.entry_date, e.check_state.value) for e in info.enrolments
        ]
    growth_rows = []
    if growth_children:
        cols = point_columns(score_columns(inputs))
        start = 0
        for info, sessions in growth_children:
            for p in points_from_columns(info, sessions, cols, start):
                growth_rows.append(
                    (
                        info.child_id, p.observation_id, p.on, p.age_days, p.zwei, p.zlen,
                        p.zwfl, p.zbmi, p.zhc, p.fwei, p.flen, p.fwfl, p.fbmi, p.fhc, p.weight,
                    )
                )  # fmt: skip
            start += len(sessions)
    return DistrictData(
        children=_frame(
            children,
            ("child_id", "birth_date", "sex", "centre_id", "class_id", "gestational_weeks"),
            ("birth_date",),
        ),
        growth=_frame(
            growth_rows,
            (
                "child_id",
                "observation_id",
                "date",
                "age_days",
                *GROWTH_FIELDS,
            ),
            ("date",),
        ).astype({"zwei": float, "zlen": float, "zwfl": float, "zbmi": float, "zhc": float}),
        checkups=_frame(checkups, ("child_id", "checkup_id", "date", "visit_type"), ("date",)),
        doses=_frame(doses, ("child_id", "immunization_id", "vaccine", "date"), ("date",)),
        daily_checks=_frame(
            checks,
            ("check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms"),
            ("date",),
        ),
        haemoglobin=_frame(hb, ("child_id", "observation_id", "date", "hb_g_l"), ("date",)),
        screenings=_frame(
            screenings,
            ("child_id", "screening_id", "date", "positive_items", "regression"),
            ("date",),
        ),
        enrolments=_frame(
            enrolments, ("child_id", "centre_id", "entry_date", "check_state"), ("entry_date",)
        ),
    )


def evaluate_database(
    repository: Repository,
    ruleset: RuleSet,
    as_of: date,
    *,
    workers: int = 1,
    subjects_per_transaction: int = 200,
    dry_run: bool = False,
) -> BatchReport:
    """Re-run every rule for every child and centre and reconcile the open alerts."""
    report = BatchReport()
    t0 = time.perf_counter()
    d = read_district(repository)
    report.children, report.observations = len(d.patients), d.n_observations
    t1 = time.perf_counter()
    data = district_data(d)
    t2 = time.perf_counter()
    findings = frame_to_findings(evaluate_district(data, ruleset, as_of, workers=workers))
    report.findings = len(findings)
    t3 = time.perf_counter()
    by_subject: defaultdict[tuple[SubjectType, str], list[Any]] = defaultdict(list)
    for f in findings:
        by_subject[(f.subject_type, f.subject)].append(f)
    subjects = set(by_subject)
    subjects |= {(SubjectType.CHILD, cid) for cid in d.patients}
    for ref in d.flags:
        rtype, _sep, rid = ref.partition("/")
        if rtype == "Organization":
            subjects.add((SubjectType.CENTRE, rid))
    planned: list[tuple[tuple[SubjectType, str], tuple[AlertAction, ...]]] = []
    for key in sorted(subjects):
        stype, sid = key
        ref = f"{'Organization' if stype is SubjectType.CENTRE else 'Patient'}/{sid}"
        current: tuple[OpenAlert, ...] = open_alerts(sid, d.flags.get(ref, []), d.tasks)
        report.open_alerts += len(current)
        kinds = CENTRE_KINDS if stype is SubjectType.CENTRE else CHILD_KINDS
        actions = reconcile(sid, current, by_subject.get(key, []), evaluated_kinds=kinds)
        if actions:
            planned.append((key, actions))
            report.actions.update(a.action.value for a in actions)
    if not dry_run:
        now = now_instant()
        for start in range(0, len(planned), subjects_per_transaction):
            with repository.transaction(SYSTEM_CONTEXT) as txn:
                for (stype, sid), actions in planned[start : start + subjects_per_transaction]:
                    routing, id_types = _routing(d, stype, sid)
                    apply_actions(
                        txn,
                        actions,
                        ruleset=ruleset,
                        routing=routing,
                        as_of=as_of,
                        now=now,
                        id_types=id_types,
                        known=_known(d, stype, sid, actions),
                    )
    t4 = time.perf_counter()
    report.seconds = {
        "read": round(t1 - t0, 2),
        "prepare": round(t2 - t1, 2),
        "evaluate": round(t3 - t2, 2),
        "reconcile_write": round(t4 - t3, 2),
        "total": round(t4 - t0, 2),
    }
    return report


def _routing(d: _District, stype: SubjectType, sid: str) -> tuple[Routing, dict[str, str]]:
    if stype is SubjectType.CENTRE:
        return Routing(d.managers.get(sid, f"Organization/{sid}"), None), {}
    info = d.patients[sid]
    encounters = d.encounters.get(sid, [])
    manager = None
    if info.centre_id:
        manager = d.managers.get(info.centre_id, f"Organization/{info.centre_id}")
    id_types = {str(r["id"]): "Encounter" for r in encounters}
    id_types |= {str(r["id"]): "Immunization" for r in d.immunizations.get(sid, [])}
    id_types |= {str(r["id"]): "QuestionnaireResponse" for r in d.responses.get(sid, [])}
    return child_routing(info, encounters, manager), id_types


def _known(
    d: _District, stype: SubjectType, sid: str, actions: tuple[AlertAction, ...]
) -> dict[str, dict[str, Any]]:
    """The subject's Flags and Tasks read in bulk that these actions touch."""
    out: dict[str, dict[str, Any]] = {}
    wanted = {a.alert_id for a in actions if a.alert_id}
    ref = f"{'Organization' if stype is SubjectType.CENTRE else 'Patient'}/{sid}"
    for flag in d.flags.get(ref, []):
        if flag["id"] in wanted:
            out[f"Flag/{flag['id']}"] = flag
    for fid in wanted:
        task = d.tasks.get(str(fid))
        if task is not None:
            out[f"Task/{task['id']}"] = task
    return out
