"""Scheduled screenings as due work (``screening-schedule`` table; DOMAIN.md §2.1, §4.3).

Haemoglobin at 6, 8, 18, 30 months and yearly at 4–6 years; hearing at 6, 12, 24, 36 months;
the 13 eye checks of the 2021 eye-care specification; oral checks; and the result of a
standard developmental instrument (instrument, score, developmental quotient, interpretation).
Each age point of a screening is ``not-yet-due``, ``due``, ``overdue``, ``missed`` or ``given``
on the evaluation date, with the window arithmetic of the checkup schedule
(:mod:`.checkups`): a result counts for the earliest open point whose window holds its date.

Alerts: ``screening-due`` / ``screening-overdue`` list the points in that state
(``hearing@12m``); ``screening-abnormal`` lists the screenings whose latest result is abnormal
(``hearing:refer``, ``eye:acuity``, ``oral:caries``, ``development:borderline``). An abnormal
haemoglobin raises ``anaemia`` (:mod:`.anaemia`) instead: one reading of that fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from healthbridge.clinical._cache import per_table
from healthbridge.clinical.ages import add_age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.anaemia import HbResult
from healthbridge.clinical.checkups import VisitStatus
from healthbridge.clinical.tables_screening import Screening, ScreeningScheduleTable
from healthbridge.clinical.vocab import AlertKind, Severity

REFER = "refer"
ACUITY = "acuity"
CARIES = "caries"


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """One recorded screening result (an Observation coded in ``child-screening``).

    ``refer``: the examiner's result (True refer / not passed, False pass, None not given);
    acuities are uncorrected decimal visual acuities; ``caries`` the number of decayed teeth;
    ``dq`` the developmental quotient of ``instrument`` (``developmental-instrument`` code)."""

    result_id: str
    on: date
    screening: str
    refer: bool | None = None
    acuity_left: float | None = None
    acuity_right: float | None = None
    caries: int | None = None
    teeth: int | None = None
    fluoride_varnish: bool | None = None
    instrument: str | None = None
    score: float | None = None
    dq: float | None = None


@dataclass(frozen=True, slots=True)
class PointState:
    screening: str
    label: str
    status: VisitStatus
    target: date
    due_from: date
    overdue_from: date
    missed_from: date
    result_id: str | None

    @property
    def item(self) -> str:
        return f"{self.screening}@{self.label}"

    @property
    def pending(self) -> bool:
        return self.status in (VisitStatus.NOT_YET_DUE, VisitStatus.DUE, VisitStatus.OVERDUE)


def _windows(
    screening: Screening, table: ScreeningScheduleTable, birth_date: date
) -> list[tuple[str, date, date, date, date]]:
    """(label, target, due_from, overdue_from, missed_from) per age point (cached per table)."""
    cache: dict[tuple[str, date], list[tuple[str, date, date, date, date]]]
    cache = per_table(table, "screening-windows", dict)
    key = (screening.code, birth_date)
    if key not in cache:
        cache[key] = _compute_windows(screening, table, birth_date)
    return cache[key]


def _compute_windows(
    screening: Screening, table: ScreeningScheduleTable, birth_date: date
) -> list[tuple[str, date, date, date, date]]:
    rows = []
    for label, age in screening.ages:
        target = add_age(birth_date, age)
        rows.append((label, target, target - timedelta(days=table.due_lead_days)))
    out = []
    for i, (label, target, due) in enumerate(rows):
        missed = rows[i + 1][2] if i + 1 < len(rows) else add_age(target, table.last_missed_after)
        missed = max(missed, due + timedelta(days=1))
        overdue = min(target + timedelta(days=table.overdue_after_days), missed)
        out.append((label, target, due, overdue, missed))
    return out


def screening_plan(
    birth_date: date,
    results: Sequence[ScreeningResult],
    haemoglobin: Sequence[HbResult],
    table: ScreeningScheduleTable,
    as_of: date,
) -> tuple[PointState, ...]:
    """Status of every age point of every scheduled screening of one child on ``as_of``
    (haemoglobin points are given by Hb results, the others by :class:`ScreeningResult`)."""
    dated: dict[str, list[tuple[date, str]]] = {}
    for r in results:
        if r.on <= as_of:
            dated.setdefault(r.screening, []).append((r.on, r.result_id))
    for h in haemoglobin:
        if h.on <= as_of:
            dated.setdefault("haemoglobin", []).append((h.on, h.observation_id))
    states: list[PointState] = []
    for screening in table.screenings:
        windows = _windows(screening, table, birth_date)
        matched: dict[str, str] = {}
        for on, rid in sorted(dated.get(screening.code, ())):
            for label, _t, due, _o, missed in windows:
                if label not in matched and due <= on < missed:
                    matched[label] = rid
                    break
        for label, target, due, overdue, missed in windows:
            if label in matched:
                status = VisitStatus.GIVEN
            elif as_of < due:
                status = VisitStatus.NOT_YET_DUE
            elif as_of < overdue:
                status = VisitStatus.DUE
            elif as_of < missed:
                status = VisitStatus.OVERDUE
            else:
                status = VisitStatus.MISSED
            states.append(
                PointState(
                    screening.code, label, status, target, due, overdue, missed, matched.get(label)
                )
            )
    return tuple(states)


def next_screenings(plan: Sequence[PointState]) -> tuple[PointState, ...]:
    """The next pending point of each screening, earliest first (what the parent reads)."""
    first: dict[str, PointState] = {}
    for p in plan:
        if p.pending and p.screening not in first:
            first[p.screening] = p
    return tuple(sorted(first.values(), key=lambda p: (p.target, p.screening)))


def abnormal_grades(
    result: ScreeningResult, screening: Screening, birth_date: date
) -> tuple[tuple[str, Severity | None], ...]:
    """Why a result is abnormal by the table: ``(grade, severity or None)`` pairs (empty:
    not abnormal). ``None`` severity: the table's ``[abnormal] severity``."""
    out: list[tuple[str, Severity | None]] = []
    if screening.refer_is_abnormal and result.refer:
        out.append((REFER, None))
    acuities = [a for a in (result.acuity_left, result.acuity_right) if a is not None]
    for limit in screening.acuity:
        inside = (
            add_age(birth_date, limit.from_age) <= result.on < add_age(birth_date, limit.to_age)
        )
        if inside and any(a <= limit.at_or_below for a in acuities):
            out.append((ACUITY, None))
            break
    if (
        screening.caries_abnormal_from is not None
        and result.caries is not None
        and result.caries >= screening.caries_abnormal_from
    ):
        out.append((CARIES, None))
    if result.dq is not None:
        band = next((b for b in screening.dq_bands if result.dq < b.below), None)
        if band is not None:
            out.append((band.grade, band.severity))
    return tuple(out)


def _latest(results: Sequence[ScreeningResult], as_of: date) -> dict[str, ScreeningResult]:
    latest: dict[str, ScreeningResult] = {}
    for r in sorted(results, key=lambda r: (r.on, r.result_id)):
        if r.on <= as_of:
            latest[r.screening] = r
    return latest


def screening_schedule_findings(
    child_id: str,
    birth_date: date,
    results: Sequence[ScreeningResult],
    haemoglobin: Sequence[HbResult],
    table: ScreeningScheduleTable,
    as_of: date,
) -> tuple[Finding, ...]:
    """``screening-due``, ``screening-overdue`` and ``screening-abnormal`` of one child."""
    plan = screening_plan(birth_date, results, haemoglobin, table, as_of)
    given = tuple(p.result_id for p in plan if p.result_id is not None)
    meta = table.meta
    out: list[Finding] = []
    for kind, severity, status in (
        (AlertKind.SCREENING_DUE, table.severity_due, VisitStatus.DUE),
        (AlertKind.SCREENING_OVERDUE, table.severity_overdue, VisitStatus.OVERDUE),
    ):
        points = sorted((p for p in plan if p.status is status), key=lambda p: (p.target, p.item))
        if points:
            items = tuple(p.item for p in points)
            out.append(
                Finding(
                    child_id, kind, severity, "", given, items,
                    f"{kind.value}: " + ",".join(items), meta.id, meta.version, points[0].target,
                )
            )  # fmt: skip
    abnormal: list[tuple[ScreeningResult, str, Severity]] = []
    for code, result in sorted(_latest(results, as_of).items()):
        try:
            screening = table.screening(code)
        except KeyError:
            continue
        if screening.abnormal_by is not None:
            continue
        for grade, sev in abnormal_grades(result, screening, birth_date):
            abnormal.append((result, f"{code}:{grade}", sev or table.severity_abnormal))
    if abnormal:
        severity = max((s for _r, _i, s in abnormal), key=lambda s: s.rank)
        items = tuple(i for _r, i, _s in abnormal)
        out.append(
            Finding(
                child_id,
                AlertKind.SCREENING_ABNORMAL,
                severity,
                "",
                tuple(r.result_id for r, _i, _s in abnormal),
                items,
                "screening-abnormal: " + ",".join(items),
                meta.id,
                meta.version,
                max(r.on for r, _i, _s in abnormal),
            )
        )
    return tuple(out)
