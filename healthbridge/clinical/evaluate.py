"""Evaluate every rule for one child (incremental path) or a whole district (batch path).

:func:`evaluate_child` and :func:`evaluate_centre` take typed records and are what the FHIR
pipeline calls after a write; :func:`evaluate_district` takes DataFrames (schemas in
:mod:`healthbridge.clinical.frames`) and returns a findings frame. Both give the same
findings: in the batch path the growth rules and the schedule rules (checkups, vaccination,
admission check; :mod:`healthbridge.clinical.schedule_batch`) are vectorised over the district,
and anaemia, screening and daily checks run the scalar functions for the children an array
test selects. The per-child functions define the rules; ``_reference_schedule_frame`` runs
them child by child for the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from multiprocessing import get_context
from typing import Any

import pandas as pd

from healthbridge.clinical.admission import AdmissionCheck, admission_check, admission_finding
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.anaemia import anaemia_findings
from healthbridge.clinical.cases import case_findings
from healthbridge.clinical.checkups import checkup_findings, checkup_plan
from healthbridge.clinical.daily_check import DailyCheck, cluster_findings, daily_check_findings
from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.clinical.frames import as_date, findings_to_frame, require_columns
from healthbridge.clinical.high_risk import high_risk_findings
from healthbridge.clinical.nutrition import nutrition_findings, nutrition_frame, prepare_growth
from healthbridge.clinical.records import (
    ChildRecord,
    DistrictData,
    centre_daily_checks,
    child_records,
    frame_cases,
)
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.schedule_batch import schedule_frame, syndromic_checks
from healthbridge.clinical.screening import screening_findings
from healthbridge.clinical.screening_batch import district_screening_findings
from healthbridge.clinical.screening_schedule import screening_schedule_findings
from healthbridge.clinical.vaccination import (
    VaccinationPlan,
    vaccination_findings,
    vaccination_plan,
)
from healthbridge.clinical.velocity import velocity_findings
from healthbridge.clinical.velocity_batch import velocity_frame
from healthbridge.clinical.vocab import AlertKind

#: Alert kinds decided by each group of rules (for ``reconcile(evaluated_kinds=...)``).
GROWTH_KINDS = frozenset(
    {
        AlertKind.UNDERWEIGHT,
        AlertKind.STUNTING,
        AlertKind.WASTING,
        AlertKind.OVERWEIGHT,
        AlertKind.OBESITY,
        AlertKind.MICROCEPHALY,
        AlertKind.MACROCEPHALY,
        AlertKind.IMPLAUSIBLE_MEASUREMENT,
        AlertKind.GROWTH_FALTERING,
        AlertKind.FLAT_GROWTH,
        AlertKind.RAPID_WEIGHT_GAIN,
        AlertKind.MEASUREMENT_OVERDUE,
    }
)
CHECKUP_KINDS = frozenset(
    {AlertKind.CHECKUP_DUE, AlertKind.CHECKUP_OVERDUE, AlertKind.CHECKUP_MISSED}
)
VACCINATION_KINDS = frozenset(
    {AlertKind.VACCINE_DUE, AlertKind.VACCINE_OVERDUE, AlertKind.ADMISSION_VACCINATION_INCOMPLETE}
)
DAILY_CHECK_KINDS = frozenset({AlertKind.FEVER, AlertKind.SYMPTOM})
ANAEMIA_KINDS = frozenset({AlertKind.ANAEMIA})
SCREENING_KINDS = frozenset({AlertKind.WARNING_SIGN_POSITIVE})
CASE_KINDS = frozenset({AlertKind.CASE_FOLLOW_UP_OVERDUE, AlertKind.HIGH_RISK_NOT_MANAGED})
SCREENING_SCHEDULE_KINDS = frozenset(
    {AlertKind.SCREENING_DUE, AlertKind.SCREENING_OVERDUE, AlertKind.SCREENING_ABNORMAL}
)
CENTRE_KINDS = frozenset({AlertKind.OUTBREAK_CLUSTER})
CHILD_KINDS = (
    CASE_KINDS
    | GROWTH_KINDS
    | CHECKUP_KINDS
    | VACCINATION_KINDS
    | DAILY_CHECK_KINDS
    | ANAEMIA_KINDS
    | SCREENING_KINDS
    | SCREENING_SCHEDULE_KINDS
)


def evaluate_child(record: ChildRecord, ruleset: RuleSet, as_of: date) -> tuple[Finding, ...]:
    """All child-level findings for one child on ``as_of`` (records after it are ignored)."""
    growth = tuple(p for p in record.growth if p.on <= as_of)
    findings = list(
        nutrition_findings(record.child_id, growth, ruleset.nutrition, ruleset.nutrition_convention)
    )
    findings += velocity_findings(
        record.child_id,
        record.birth_date,
        growth,
        ruleset.velocity,
        as_of,
        enrolled_in_centre=record.centre_id is not None,
    )
    findings += case_findings(
        record.child_id,
        record.birth_date,
        record.cases,
        ruleset.cases,
        as_of,
        record.gestational_weeks,
        record.birth_weight_g,
    )
    findings += high_risk_findings(
        record.child_id,
        record.birth_date,
        record.gestational_weeks,
        record.birth_weight_g,
        record.cases,
        ruleset.cases,
        as_of,
    )
    findings += screening_schedule_findings(
        record.child_id,
        record.birth_date,
        record.screening_results,
        tuple(h for h in record.haemoglobin if h.on <= as_of),
        ruleset.screening_schedule,
        as_of,
    )
    return tuple(findings) + _schedule_findings(record, ruleset, as_of)


def _opt(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def district_case_findings(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    """``case-follow-up-overdue`` for the children of a district with managed cases and
    ``high-risk-not-managed`` for the preterm/low-birth-weight ones (the per-child
    :func:`~healthbridge.clinical.cases.case_findings` and
    :func:`~healthbridge.clinical.high_risk.high_risk_findings`: such children are few)."""
    by_child = frame_cases(data.cases) if not data.cases.empty else {}
    children = data.children.assign(child_id=data.children["child_id"].astype(str))
    wanted = children["child_id"].isin(set(by_child))
    weeks = [c.enrol_below_weeks for c in ruleset.cases.conditions if c.enrol_below_weeks]
    grams = [c.enrol_below_grams for c in ruleset.cases.conditions if c.enrol_below_grams]
    if weeks and "gestational_weeks" in children.columns:
        wanted |= pd.to_numeric(children["gestational_weeks"], errors="coerce") < max(weeks)
    if grams and "birth_weight_g" in children.columns:
        wanted |= pd.to_numeric(children["birth_weight_g"], errors="coerce") < max(grams)
    found: list[Finding] = []
    for row in children[wanted].to_dict("records"):
        cid, born = str(row["child_id"]), as_date(row["birth_date"])
        ga, bw = _opt(row.get("gestational_weeks")), _opt(row.get("birth_weight_g"))
        cases = by_child.get(cid, [])
        found += case_findings(cid, born, cases, ruleset.cases, as_of, ga, bw)
        found += high_risk_findings(cid, born, ga, bw, cases, ruleset.cases, as_of)
    return findings_to_frame(found)


def _schedule_findings(record: ChildRecord, ruleset: RuleSet, as_of: date) -> tuple[Finding, ...]:
    cid = record.child_id
    plan = checkup_plan(
        record.birth_date,
        record.checkups,
        ruleset.checkups,
        as_of,
        discharge_date=record.discharge_date,
    )
    out = list(checkup_findings(cid, plan, ruleset.checkups))
    vplan = vaccination_plan(
        record.birth_date, record.sex, record.doses, ruleset.vaccination, as_of, record.facts
    )
    out += vaccination_findings(cid, vplan, ruleset.vaccination)
    check = _admission(record, vplan, ruleset, as_of)
    finding = admission_finding(check, ruleset.vaccination) if check is not None else None
    if finding is not None:
        out.append(finding)
    out += daily_check_findings(cid, record.daily_checks, ruleset.daily_check, as_of)
    out += anaemia_findings(
        cid, record.birth_date, record.haemoglobin, ruleset.anaemia, as_of, record.altitude_m
    )
    out += screening_findings(cid, record.screenings, ruleset.screening, as_of)
    return tuple(out)


def _admission(
    record: ChildRecord, plan: VaccinationPlan, ruleset: RuleSet, as_of: date
) -> AdmissionCheck | None:
    """The entry check of the child's latest enrolment on or before ``as_of``, if any."""
    current = [e for e in record.enrolments if e.entry_date <= as_of]
    if not current:
        return None
    e = max(current, key=lambda x: (x.entry_date, x.centre_id))
    return admission_check(
        record.child_id, e.centre_id, e.entry_date, e.check_state, plan, ruleset.vaccination, as_of
    )


def admission_checks(
    records: Iterable[ChildRecord], ruleset: RuleSet, as_of: date
) -> tuple[AdmissionCheck, ...]:
    """Entry-check status of every enrolled child (latest enrolment on or before ``as_of``).

    Filter with :func:`~healthbridge.clinical.vaccination.centre_admission_list` for one
    centre's list of children with incomplete vaccination and their deadlines.
    """
    out = []
    for record in records:
        if not record.enrolments:
            continue
        plan = vaccination_plan(
            record.birth_date, record.sex, record.doses, ruleset.vaccination, as_of, record.facts
        )
        check = _admission(record, plan, ruleset, as_of)
        if check is not None:
            out.append(check)
    return tuple(out)


def evaluate_centre(
    centre_id: str, checks: Sequence[DailyCheck], ruleset: RuleSet, as_of: date
) -> tuple[Finding, ...]:
    """Centre-level findings (class outbreak clusters) on ``as_of``."""
    return cluster_findings(centre_id, checks, ruleset.daily_check, as_of)


def _until(frame: pd.DataFrame, column: str, as_of: date, days: int | None = None) -> pd.DataFrame:
    if frame.empty:
        return frame
    when = pd.to_datetime(frame[column])
    mask = when <= pd.Timestamp(as_of)
    if days is not None:
        mask &= when > pd.Timestamp(as_of - timedelta(days=days))
    return frame[mask]


#: Hand-off to forked worker processes: set only while :func:`evaluate_district` runs a pool,
#: so workers read the district from inherited memory instead of unpickling it.
_SHARED: tuple[DistrictData, RuleSet, date] | None = None


def _worker(index: int, count: int) -> pd.DataFrame:
    if _SHARED is None:  # pragma: no cover - only reachable if misused outside a pool
        raise ClinicalInputError("worker started without shared district data")
    data, ruleset, as_of = _SHARED
    return _schedule_frame(data if count == 1 else _chunk(data, index, count), ruleset, as_of)


def evaluate_district(
    data: DistrictData, ruleset: RuleSet, as_of: date, *, workers: int = 1
) -> pd.DataFrame:
    """Findings for every child and centre of a district on ``as_of`` (a findings frame,
    sorted by subject type, subject and kind).

    Growth rules run vectorised over all measurements (one shared preparation); schedule
    rules run vectorised over all children (:mod:`healthbridge.clinical.schedule_batch`; the
    per-child path when child ids repeat). With ``workers`` > 1 the schedule rules run in
    ``workers - 1`` forked processes (reading the district from inherited memory, the
    children split between them) while this process runs the growth and cluster rules, so
    ``workers`` processes work at once; the result does not depend on ``workers``. Use
    workers only from a single-threaded process (the CLI), never inside a threaded server.
    Only the last days the cluster windows need are read from the daily checks, and of those
    only the febrile or symptomatic ones.
    """
    global _SHARED
    require_columns(data.children, "children", ("child_id", "birth_date", "sex"))
    if workers < 1:
        raise ClinicalInputError("workers must be at least 1")
    children = data.children.assign(child_id=data.children["child_id"].astype(str))
    window = max(w.days for w in ruleset.daily_check.cluster_windows)
    recent = DistrictData(
        children=children,
        checkups=data.checkups,
        doses=data.doses,
        daily_checks=_until(data.daily_checks, "date", as_of, window),
        haemoglobin=data.haemoglobin,
        screenings=data.screenings,
        enrolments=data.enrolments,
        tb_tests=data.tb_tests,
        cases=data.cases,
        screening_results=data.screening_results,
    )
    parts: list[pd.DataFrame] = []
    pool: ProcessPoolExecutor | None = None
    futures = []
    if workers > 1:
        _SHARED = (recent, ruleset, as_of)
        helpers = workers - 1
        pool = ProcessPoolExecutor(max_workers=helpers, mp_context=get_context("fork"))
        futures = [pool.submit(_worker, i, helpers) for i in range(helpers)]
    try:
        growth = _until(data.growth, "date", as_of)
        growth = prepare_growth(growth.assign(child_id=growth["child_id"].astype(str)))
        if not growth.empty:
            parts.append(
                nutrition_frame(
                    growth, ruleset.nutrition, ruleset.nutrition_convention, prepared=True
                )
            )
        parts.append(velocity_frame(growth, children, ruleset.velocity, as_of, prepared=True))
        parts.append(district_case_findings(recent, ruleset, as_of))
        parts.append(district_screening_findings(recent, ruleset, as_of))
        if pool is None:
            parts.append(_schedule_frame(recent, ruleset, as_of))
        else:
            parts.extend(f.result() for f in futures)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            _SHARED = None
    centre: list[Finding] = []
    # only febrile or symptomatic checks can be cases of a cluster
    cases = replace(recent, daily_checks=syndromic_checks(recent.daily_checks, ruleset.daily_check))
    for centre_id, checks in centre_daily_checks(cases):
        centre += evaluate_centre(centre_id, checks, ruleset, as_of)
    parts.append(findings_to_frame(centre))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return findings_to_frame(())
    found = pd.concat(parts, ignore_index=True)
    order = found.sort_values(["subject_type", "subject", "kind"], kind="mergesort").index
    return found.loc[order].reset_index(drop=True)


def _schedule_frame(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    """Child-level schedule findings (everything but growth) for the children in ``data``:
    vectorised (:mod:`healthbridge.clinical.schedule_batch`) unless the children frame
    repeats a child id, which only the per-child path handles."""
    frame = schedule_frame(data, ruleset, as_of)
    return frame if frame is not None else _reference_schedule_frame(data, ruleset, as_of)


def _reference_schedule_frame(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    """The schedule findings child by child through :func:`evaluate_child`'s functions (the
    oracle the vectorised path is tested against)."""
    found: list[Finding] = []
    for record in child_records(data, with_growth=False):
        found += _schedule_findings(record, ruleset, as_of)
    return findings_to_frame(found)


def _chunk(data: DistrictData, index: int, count: int) -> DistrictData:
    """The ``index``-th of ``count`` slices of a district, by position in the children frame."""
    children = data.children.iloc[index::count]
    ids = set(children["child_id"].astype(str))

    def part(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        return frame[frame["child_id"].astype(str).isin(ids)]

    return DistrictData(
        children=children,
        checkups=part(data.checkups),
        doses=part(data.doses),
        daily_checks=part(data.daily_checks),
        haemoglobin=part(data.haemoglobin),
        screenings=part(data.screenings),
        enrolments=part(data.enrolments),
        tb_tests=part(data.tb_tests),
        cases=part(data.cases),
        screening_results=part(data.screening_results),
    )
