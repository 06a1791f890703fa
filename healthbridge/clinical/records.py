"""Typed per-child records and district input frames, and the conversion between them.

:class:`ChildRecord` is what the child-level rules read; the FHIR pipeline builds one from the
store for the incremental path. :class:`DistrictData` holds the input frames of the batch path
(schemas in :mod:`healthbridge.clinical.frames`); :func:`child_records` splits it into records.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import pandas as pd

from healthbridge.clinical.admission import AdmissionState
from healthbridge.clinical.anaemia import HbResult
from healthbridge.clinical.cases import ManagedCase
from healthbridge.clinical.checkups import CheckupRecord
from healthbridge.clinical.daily_check import DailyCheck
from healthbridge.clinical.frames import as_date, require_columns
from healthbridge.clinical.nutrition import GrowthPoint
from healthbridge.clinical.screening import ScreeningRecord
from healthbridge.clinical.screening_schedule import ScreeningResult
from healthbridge.clinical.vaccination import ChildFacts, GivenDose, TbTest
from healthbridge.clinical.vocab import Sex

T = TypeVar("T")


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
    #: metres above sea level where the child lives (the centre's Location.position.altitude)
    altitude_m: float | None = None
    growth: tuple[GrowthPoint, ...] = ()
    checkups: tuple[CheckupRecord, ...] = ()
    doses: tuple[GivenDose, ...] = ()
    daily_checks: tuple[DailyCheck, ...] = ()
    haemoglobin: tuple[HbResult, ...] = ()
    screenings: tuple[ScreeningRecord, ...] = ()
    enrolments: tuple[Enrolment, ...] = ()
    #: mother's HBsAg status at birth: "positive", "negative" or "unknown" (None: not recorded)
    maternal_hbsag: str | None = None
    birth_weight_g: float | None = None
    tb_tests: tuple[TbTest, ...] = ()

    @property
    def facts(self) -> ChildFacts:
        """The facts the special-population vaccination rules read."""
        return ChildFacts(self.maternal_hbsag, self.birth_weight_g, self.tb_tests)

    #: managed cases (EpisodeOfCare) with their follow-up visit dates
    cases: tuple[ManagedCase, ...] = ()
    #: scheduled screening results (hearing, eye, oral, development; Hb is ``haemoglobin``)
    screening_results: tuple[ScreeningResult, ...] = ()


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
    tb_tests: pd.DataFrame = field(
        default_factory=lambda: _empty(("child_id", "observation_id", "date", "negative"))
    )
    #: managed cases: ``follow_ups`` is a tuple of visit dates (:func:`cases_frame`)
    cases: pd.DataFrame = field(default_factory=lambda: _empty(CASE_COLUMNS))
    #: scheduled screening results (:func:`screening_results_frame`)
    screening_results: pd.DataFrame = field(
        default_factory=lambda: _empty(SCREENING_RESULT_COLUMNS)
    )


CASE_COLUMNS: tuple[str, ...] = (
    "child_id",
    "episode_id",
    "condition",
    "start",
    "active",
    "end",
    "outcome",
    "follow_ups",
)


def cases_frame(rows: Sequence[tuple[str, ManagedCase]]) -> pd.DataFrame:
    """The ``cases`` input frame from ``(child id, case)`` pairs."""
    if not rows:
        return _empty(CASE_COLUMNS)
    return pd.DataFrame(
        [
            (cid, c.episode_id, c.condition, c.start, c.active, c.end, c.outcome, c.follow_ups)
            for cid, c in rows
        ],
        columns=list(CASE_COLUMNS),
    )


#: ``child_id`` then the fields of :class:`ScreeningResult` in order.
SCREENING_RESULT_COLUMNS: tuple[str, ...] = ("child_id", *ScreeningResult.__dataclass_fields__)


def screening_results_frame(rows: Sequence[tuple[str, ScreeningResult]]) -> pd.DataFrame:
    """The ``screening_results`` input frame from ``(child id, result)`` pairs."""
    if not rows:
        return _empty(SCREENING_RESULT_COLUMNS)
    names = SCREENING_RESULT_COLUMNS[1:]
    return pd.DataFrame(
        [(cid, *(getattr(r, n) for n in names)) for cid, r in rows],
        columns=list(SCREENING_RESULT_COLUMNS),
        dtype=object,
    )


def frame_screening_results(frame: pd.DataFrame) -> defaultdict[str, list[ScreeningResult]]:
    """Screening results by child id from a ``screening_results`` frame (column by column:
    ``to_dict("records")`` built a dict per row, most of a district's screening step)."""
    out: defaultdict[str, list[ScreeningResult]] = defaultdict(list)
    columns = [
        [None if _missing(v) else v for v in frame[name].tolist()]
        for name in SCREENING_RESULT_COLUMNS
    ]
    for row in zip(*columns, strict=True):
        (
            cid,
            rid,
            on,
            screening,
            refer,
            left,
            right,
            caries,
            teeth,
            varnish,
            instrument,
            score,
            dq,
        ) = row
        out[str(cid)].append(
            ScreeningResult(
                result_id=str(rid),
                on=as_date(on),
                screening=str(screening),
                refer=None if refer is None else bool(refer),
                acuity_left=_opt_float(left),
                acuity_right=_opt_float(right),
                caries=None if caries is None else int(caries),
                teeth=None if teeth is None else int(teeth),
                fluoride_varnish=None if varnish is None else bool(varnish),
                instrument=_opt_str(instrument),
                score=_opt_float(score),
                dq=_opt_float(dq),
            )
        )
    return out


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def frame_cases(frame: pd.DataFrame) -> defaultdict[str, list[ManagedCase]]:
    """Managed cases by child id from a ``cases`` frame."""
    out: defaultdict[str, list[ManagedCase]] = defaultdict(list)
    for row in frame.to_dict("records"):
        out[str(row["child_id"])].append(
            ManagedCase(
                str(row["episode_id"]),
                str(row["condition"]),
                as_date(row["start"]),
                bool(row["active"]),
                _opt_date(row["end"]),
                _opt_str(row["outcome"]),
                tuple(as_date(d) for d in row["follow_ups"]),
            )
        )
    return out


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


#: The growth input columns of a child's record, in :class:`GrowthPoint` order.
GROWTH_FIELDS = (
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
    "corrected",
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
        corrected=bool(_opt_float(values[11])),
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
        names = ("observation_id", "date", "age_days", *GROWTH_FIELDS)
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
    tb_tests = _group(
        data.tb_tests,
        ("observation_id", "date", "negative"),
        lambda i, on, neg: TbTest(i, on, bool(neg)),
        text=("observation_id",),
    )
    cases = frame_cases(data.cases)
    results = frame_screening_results(data.screening_results)
    optional = {
        c: c in data.children.columns
        for c in (
            "centre_id",
            "class_id",
            "discharge_date",
            "gestational_weeks",
            "altitude_m",
            "maternal_hbsag",
            "birth_weight_g",
        )
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
            altitude_m=_opt_float(row.altitude_m) if optional["altitude_m"] else None,
            growth=tuple(growth.get(cid, ())),
            checkups=tuple(checkups.get(cid, ())),
            doses=tuple(doses.get(cid, ())),
            daily_checks=tuple(checks.get(cid, ())),
            haemoglobin=tuple(hb.get(cid, ())),
            screenings=tuple(screenings.get(cid, ())),
            enrolments=tuple(enrolments.get(cid, ())),
            maternal_hbsag=_opt_str(row.maternal_hbsag) if optional["maternal_hbsag"] else None,
            birth_weight_g=_opt_float(row.birth_weight_g) if optional["birth_weight_g"] else None,
            tb_tests=tuple(tb_tests.get(cid, ())),
            cases=tuple(cases.get(cid, ())),
            screening_results=tuple(results.get(cid, ())),
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
