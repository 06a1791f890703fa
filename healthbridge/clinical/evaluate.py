"""Evaluate every rule for one child (incremental path) or a whole district (batch path).

:func:`evaluate_child` and :func:`evaluate_centre` take typed records and are what the FHIR
pipeline calls after a write; :func:`evaluate_district` takes DataFrames (schemas in
:mod:`healthbridge.clinical.frames`) and returns a findings frame. Both give the same
findings: growth rules are vectorised in the batch path, the per-child schedules (checkups,
vaccination, admission check, anaemia, screening, daily check) run the same scalar functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from multiprocessing import get_context
from typing import Any, TypeVar

import pandas as pd

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.anaemia import HbResult, anaemia_findings
from healthbridge.clinical.checkups import CheckupRecord, checkup_findings, checkup_plan
from healthbridge.clinical.daily_check import DailyCheck, cluster_findings, daily_check_findings
from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.clinical.frames import as_date, findings_to_frame, require_columns
from healthbridge.clinical.nutrition import GrowthPoint, nutrition_findings, nutrition_frame
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening import ScreeningRecord, screening_findings
from healthbridge.clinical.vaccination import (
    AdmissionCheck,
    AdmissionState,
    GivenDose,
    VaccinationPlan,
    admission_check,
    admission_finding,
    vaccination_findings,
    vaccination_plan,
)
from healthbridge.clinical.velocity import velocity_findings, velocity_frame
from healthbridge.clinical.vocab import AlertKind, Sex

T = TypeVar("T")

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
CENTRE_KINDS = frozenset({AlertKind.OUTBREAK_CLUSTER})
CHILD_KINDS = (
    GROWTH_KINDS
    | CHECKUP_KINDS
    | VACCINATION_KINDS
    | DAILY_CHECK_KINDS
    | ANAEMIA_KINDS
    | SCREENING_KINDS
)


@dataclass(frozen=True, slots=True)
class Enrolment:
    centre_id: str
    entry_date: date
    check_state: AdmissionState = AdmissionState.NOT_SUBMITTED


@dataclass(frozen=True, slots=True)
class ChildRecord:
    """Everything the child-level rules read about one child."""

    child_id: str
    birth_date: date
    sex: Sex
    centre_id: str | None = None
    class_id: str | None = None
    discharge_date: date | None = None
    gestational_weeks: float | None = None
    growth: tuple[GrowthPoint, ...] = ()
    checkups: tuple[CheckupRecord, ...] = ()
    doses: tuple[GivenDose, ...] = ()
    daily_checks: tuple[DailyCheck, ...] = ()
    haemoglobin: tuple[HbResult, ...] = ()
    screenings: tuple[ScreeningRecord, ...] = ()
    enrolments: tuple[Enrolment, ...] = ()


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
    return tuple(findings) + _schedule_findings(record, ruleset, as_of)


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
        record.birth_date, record.sex, record.doses, ruleset.vaccination, as_of
    )
    out += vaccination_findings(cid, vplan, ruleset.vaccination)
    check = _admission(record, vplan, ruleset, as_of)
    finding = admission_finding(check, ruleset.vaccination) if check is not None else None
    if finding is not None:
        out.append(finding)
    out += daily_check_findings(cid, record.daily_checks, ruleset.daily_check, as_of)
    out += anaemia_findings(cid, record.birth_date, record.haemoglobin, ruleset.anaemia, as_of)
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
            record.birth_date, record.sex, record.doses, ruleset.vaccination, as_of
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


# --------------------------------------------------------------------------- district (batch)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})


@dataclass(frozen=True, eq=False)
class DistrictData:
    """Input frames for a district (schemas in :mod:`healthbridge.clinical.frames`)."""

    children: pd.DataFrame
    growth: pd.DataFrame = field(
        default_factory=lambda: _empty(("child_id", "observation_id", "date", "age_days"))
    )
    checkups: pd.DataFrame = field(
        default_factory=lambda: _empty(("child_id", "checkup_id", "date", "visit_type"))
    )
    doses: pd.DataFrame = field(
        default_factory=lambda: _empty(("child_id", "immunization_id", "vaccine", "date"))
    )
    daily_checks: pd.DataFrame = field(
        default_factory=lambda: _empty(
            ("check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms")
        )
    )
    haemoglobin: pd.DataFrame = field(
        default_factory=lambda: _empty(("child_id", "observation_id", "date", "hb_g_l"))
    )
    screenings: pd.DataFrame = field(
        default_factory=lambda: _empty(
            ("child_id", "screening_id", "date", "positive_items", "regression")
        )
    )
    enrolments: pd.DataFrame = field(
        default_factory=lambda: _empty(("child_id", "centre_id", "entry_date", "check_state"))
    )


def _opt_str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    text = str(value)
    return text or None


def _opt_float(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _opt_date(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else as_date(value)


def _columns(
    frame: pd.DataFrame, names: Sequence[str], text: Sequence[str] = ()
) -> list[list[Any]]:
    """Columns as Python lists: datetime columns as ``datetime.date``, ``text`` columns as str."""
    out = []
    for name in names:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            out.append(list(column.dt.date))
        elif name in text:
            out.append(column.astype(str).tolist())
        else:
            out.append(column.tolist())
    return out


def _group(
    frame: pd.DataFrame, names: Sequence[str], build: Callable[..., T], text: Sequence[str] = ()
) -> defaultdict[str, list[T]]:
    """``build(*row)`` for each row's ``names`` values, grouped by ``child_id``."""
    out: defaultdict[str, list[T]] = defaultdict(list)
    if frame.empty:
        return out
    child, *columns = _columns(frame, ["child_id", *names], ("child_id", *text))
    for cid, item in zip(child, map(build, *columns), strict=True):
        out[cid].append(item)
    return out


def _optional_text(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Empty or missing text becomes None (e.g. an untyped checkup's visit type)."""
    column = frame[name]
    keep = column.notna() & (column.astype(str) != "")
    return frame.assign(**{name: column.astype(object).where(keep, None)})


_GROWTH_FIELDS = (
    "zwei",
    "zlen",
    "zwfl",
    "zbmi",
    "zhc",
    "fwei",
    "flen",
    "fwfl",
    "fbmi",
    "fhc",
    "weight",
)


def _growth_point(oid: Any, on: date, age_days: Any, *values: Any) -> GrowthPoint:
    z = [_opt_float(v) for v in values[:5]]
    flags = [bool(_opt_float(v)) for v in values[5:10]]
    return GrowthPoint(
        str(oid),
        on,
        int(age_days),
        zwei=z[0],
        zlen=z[1],
        zwfl=z[2],
        zbmi=z[3],
        zhc=z[4],
        fwei=flags[0],
        flen=flags[1],
        fwfl=flags[2],
        fbmi=flags[3],
        fhc=flags[4],
        weight=_opt_float(values[10]),
    )


_CHECK_FIELDS = (
    "check_id",
    "child_id",
    "centre_id",
    "class_id",
    "date",
    "temperature_c",
    "symptoms",
)


def _daily_check(
    check_id: Any, child_id: Any, centre_id: Any, class_id: Any, on: date, temp: Any, symptoms: Any
) -> DailyCheck:
    return DailyCheck(
        str(check_id),
        str(child_id),
        str(centre_id),
        str(class_id),
        on,
        _opt_float(temp),
        tuple(symptoms) if isinstance(symptoms, tuple | list) else (),
    )


def _with_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    missing = [n for n in names if n not in frame.columns]
    return frame.assign(**{n: None for n in missing}) if missing else frame


def child_records(data: DistrictData, *, with_growth: bool = True) -> Iterator[ChildRecord]:
    """Split district frames into one :class:`ChildRecord` per child (children frame order)."""
    require_columns(data.children, "children", ("child_id", "birth_date", "sex"))
    growth: defaultdict[str, list[GrowthPoint]] = defaultdict(list)
    if with_growth:
        names = ("observation_id", "date", "age_days", *_GROWTH_FIELDS)
        growth = _group(_with_columns(data.growth, names), names, _growth_point)
    checkups = _group(
        _optional_text(data.checkups, "visit_type") if not data.checkups.empty else data.checkups,
        ("checkup_id", "date", "visit_type"),
        CheckupRecord,
        text=("checkup_id",),
    )
    doses = _group(
        data.doses,
        ("immunization_id", "vaccine", "date"),
        GivenDose,
        text=("immunization_id", "vaccine"),
    )
    checks = _group(data.daily_checks, _CHECK_FIELDS, _daily_check)
    hb = _group(
        data.haemoglobin,
        ("observation_id", "date", "hb_g_l"),
        lambda i, on, v: HbResult(i, on, float(v)),
        text=("observation_id",),
    )
    screenings = _group(
        data.screenings,
        ("screening_id", "date", "positive_items", "regression"),
        lambda i, on, items, reg: ScreeningRecord(i, on, tuple(items), bool(reg)),
        text=("screening_id",),
    )
    enrolments = _group(
        data.enrolments,
        ("centre_id", "entry_date", "check_state"),
        lambda c, on, st: Enrolment(c, on, AdmissionState(st)),
        text=("centre_id", "check_state"),
    )
    optional = {
        c: c in data.children.columns
        for c in ("centre_id", "class_id", "discharge_date", "gestational_weeks")
    }
    for row in data.children.itertuples(index=False):
        cid = str(row.child_id)
        yield ChildRecord(
            child_id=cid,
            birth_date=as_date(row.birth_date),
            sex=Sex(str(row.sex)),
            centre_id=_opt_str(row.centre_id) if optional["centre_id"] else None,
            class_id=_opt_str(row.class_id) if optional["class_id"] else None,
            discharge_date=_opt_date(row.discharge_date) if optional["discharge_date"] else None,
            gestational_weeks=_opt_float(row.gestational_weeks)
            if optional["gestational_weeks"]
            else None,
            growth=tuple(growth.get(cid, ())),
            checkups=tuple(checkups.get(cid, ())),
            doses=tuple(doses.get(cid, ())),
            daily_checks=tuple(checks.get(cid, ())),
            haemoglobin=tuple(hb.get(cid, ())),
            screenings=tuple(screenings.get(cid, ())),
            enrolments=tuple(enrolments.get(cid, ())),
        )


def centre_daily_checks(data: DistrictData) -> Iterator[tuple[str, tuple[DailyCheck, ...]]]:
    """Daily checks grouped by centre, centres in sorted order."""
    by_centre: defaultdict[str, list[DailyCheck]] = defaultdict(list)
    if not data.daily_checks.empty:
        columns = _columns(data.daily_checks, _CHECK_FIELDS)
        for values in zip(*columns, strict=True):
            check = _daily_check(*values)
            by_centre[check.centre_id].append(check)
    for centre in sorted(by_centre):
        yield centre, tuple(by_centre[centre])


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
    return _schedule_frame(_chunk(data, index, count), ruleset, as_of)


def evaluate_district(
    data: DistrictData, ruleset: RuleSet, as_of: date, *, workers: int = 1
) -> pd.DataFrame:
    """Findings for every child and centre of a district on ``as_of`` (a findings frame,
    sorted by subject type, subject and kind).

    Growth rules run vectorised over all measurements; schedule rules run per child on
    records built in one pass over each frame. With ``workers`` > 1 the schedule rules run in
    that many forked processes (reading the district from inherited memory) while this
    process runs the growth rules; the result does not depend on ``workers``. Use workers
    only from a single-threaded process (the CLI), never inside a threaded server. Only the
    last days the cluster windows need are read from the daily checks.
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
    )
    parts: list[pd.DataFrame] = []
    pool: ProcessPoolExecutor | None = None
    futures = []
    if workers > 1:
        _SHARED = (recent, ruleset, as_of)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))
        futures = [pool.submit(_worker, i, workers) for i in range(workers)]
    try:
        growth = _until(data.growth, "date", as_of)
        if not growth.empty:
            growth = growth.assign(child_id=growth["child_id"].astype(str))
            parts.append(nutrition_frame(growth, ruleset.nutrition, ruleset.nutrition_convention))
        parts.append(velocity_frame(growth, children, ruleset.velocity, as_of))
        if pool is None:
            parts.append(_schedule_frame(recent, ruleset, as_of))
        else:
            parts.extend(f.result() for f in futures)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            _SHARED = None
    centre: list[Finding] = []
    for centre_id, checks in centre_daily_checks(recent):
        centre += evaluate_centre(centre_id, checks, ruleset, as_of)
    parts.append(findings_to_frame(centre))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return findings_to_frame(())
    found = pd.concat(parts, ignore_index=True)
    order = found.sort_values(["subject_type", "subject", "kind"], kind="mergesort").index
    return found.loc[order].reset_index(drop=True)


def _schedule_frame(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    """Child-level schedule findings (everything but growth) for the children in ``data``."""
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
    )
