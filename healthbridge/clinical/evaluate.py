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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import pandas as pd

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.anaemia import HbResult, anaemia_findings
from healthbridge.clinical.checkups import CheckupRecord, checkup_findings, checkup_plan
from healthbridge.clinical.daily_check import DailyCheck, cluster_findings, daily_check_findings
from healthbridge.clinical.frames import as_date, findings_to_frame, require_columns
from healthbridge.clinical.nutrition import GrowthPoint, nutrition_findings, nutrition_frame
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening import ScreeningRecord, screening_findings
from healthbridge.clinical.vaccination import (
    AdmissionState,
    GivenDose,
    admission_check,
    admission_finding,
    vaccination_findings,
    vaccination_plan,
)
from healthbridge.clinical.velocity import velocity_findings, velocity_frame
from healthbridge.clinical.vocab import FLAG_OF, AlertKind, Sex

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
    current = [e for e in record.enrolments if e.entry_date <= as_of]
    if current:
        e = max(current, key=lambda x: (x.entry_date, x.centre_id))
        check = admission_check(
            cid, e.centre_id, e.entry_date, e.check_state, vplan, ruleset.vaccination, as_of
        )
        finding = admission_finding(check, ruleset.vaccination)
        if finding is not None:
            out.append(finding)
    out += daily_check_findings(cid, record.daily_checks, ruleset.daily_check, as_of)
    out += anaemia_findings(cid, record.birth_date, record.haemoglobin, ruleset.anaemia, as_of)
    out += screening_findings(cid, record.screenings, ruleset.screening, as_of)
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


def _group(frame: pd.DataFrame, build: Callable[[Any], T]) -> defaultdict[str, list[T]]:
    out: defaultdict[str, list[T]] = defaultdict(list)
    for row in frame.itertuples(index=False):
        out[str(row.child_id)].append(build(row))
    return out


def _growth_point(row: Any) -> GrowthPoint:
    def z(column: str) -> float | None:
        return _opt_float(getattr(row, column, None))

    def flag(column: str) -> bool:
        return bool(_opt_float(getattr(row, FLAG_OF[column], None)))

    return GrowthPoint(
        str(row.observation_id),
        as_date(row.date),
        int(row.age_days),
        zwei=z("zwei"),
        zlen=z("zlen"),
        zwfl=z("zwfl"),
        zbmi=z("zbmi"),
        zhc=z("zhc"),
        fwei=flag("zwei"),
        flen=flag("zlen"),
        fwfl=flag("zwfl"),
        fbmi=flag("zbmi"),
        fhc=flag("zhc"),
        weight=_opt_float(getattr(row, "weight", None)),
    )


def _daily_check(row: Any) -> DailyCheck:
    return DailyCheck(
        str(row.check_id),
        str(row.child_id),
        str(row.centre_id),
        str(row.class_id),
        as_date(row.date),
        _opt_float(row.temperature_c),
        tuple(row.symptoms) if isinstance(row.symptoms, tuple | list) else (),
    )


def child_records(data: DistrictData, *, with_growth: bool = True) -> Iterator[ChildRecord]:
    """Split district frames into one :class:`ChildRecord` per child (children frame order)."""
    require_columns(data.children, "children", ("child_id", "birth_date", "sex"))
    growth = _group(data.growth, _growth_point) if with_growth else defaultdict(list)
    checkups = _group(
        data.checkups,
        lambda r: CheckupRecord(str(r.checkup_id), as_date(r.date), _opt_str(r.visit_type)),
    )
    doses = _group(
        data.doses, lambda r: GivenDose(str(r.immunization_id), str(r.vaccine), as_date(r.date))
    )
    checks = _group(data.daily_checks, _daily_check)
    hb = _group(
        data.haemoglobin,
        lambda r: HbResult(str(r.observation_id), as_date(r.date), float(r.hb_g_l)),
    )
    screenings = _group(
        data.screenings,
        lambda r: ScreeningRecord(
            str(r.screening_id), as_date(r.date), tuple(r.positive_items), bool(r.regression)
        ),
    )
    enrolments = _group(
        data.enrolments,
        lambda r: Enrolment(
            str(r.centre_id), as_date(r.entry_date), AdmissionState(str(r.check_state))
        ),
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
    for row in data.daily_checks.itertuples(index=False):
        by_centre[str(row.centre_id)].append(_daily_check(row))
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


def evaluate_district(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    """Findings for every child and centre of a district on ``as_of`` (a findings frame).

    Growth rules run vectorised over all measurements; schedule rules run per child on
    records built in one pass over each frame. Only the last days the cluster windows need
    are read from the daily checks.
    """
    require_columns(data.children, "children", ("child_id", "birth_date", "sex"))
    children = data.children.assign(child_id=data.children["child_id"].astype(str))
    growth = _until(data.growth, "date", as_of)
    growth = growth.assign(child_id=growth["child_id"].astype(str)) if not growth.empty else growth
    parts = []
    if not growth.empty:
        parts.append(nutrition_frame(growth, ruleset.nutrition, ruleset.nutrition_convention))
    parts.append(velocity_frame(growth, children, ruleset.velocity, as_of))
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
    scheduled: list[Finding] = []
    for record in child_records(recent, with_growth=False):
        scheduled += _schedule_findings(record, ruleset, as_of)
    for centre, checks in centre_daily_checks(recent):
        scheduled += evaluate_centre(centre, checks, ruleset, as_of)
    parts.append(findings_to_frame(scheduled))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return findings_to_frame(())
    return pd.concat(parts, ignore_index=True)
