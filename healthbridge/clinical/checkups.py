"""Child health checkups on the national 0–6 schedule and the 4:2:2 systematic-management count.

Visit windows come from the ``checkups`` table (DOMAIN.md §2.1): each visit is ``not-yet-due``,
``due``, ``overdue``, ``missed`` or ``given`` on the evaluation date. A recorded checkup counts
for the visit it names; an untyped checkup counts for the earliest open visit whose window
[due_from, missed_from) contains its date. Ages are chronological (calendar months).

Alerts: ``checkup-due`` and ``checkup-overdue`` list the visits in that state; a missed visit
raises ``checkup-missed`` until the child attends any later scheduled visit (the clinician has
seen the child since then) or leaves the programme (every visit given or missed, from 7 y).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from healthbridge.clinical._cache import per_table
from healthbridge.clinical.ages import add_age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.tables import CheckupTable
from healthbridge.clinical.vocab import AlertKind


class VisitStatus(StrEnum):
    NOT_YET_DUE = "not-yet-due"
    DUE = "due"
    OVERDUE = "overdue"
    MISSED = "missed"
    GIVEN = "given"


@dataclass(frozen=True, slots=True)
class CheckupRecord:
    """A recorded checkup (encounter); ``visit_type`` is a ``checkup-visit`` code or None."""

    checkup_id: str
    on: date
    visit_type: str | None = None


@dataclass(frozen=True, slots=True)
class VisitState:
    code: str
    status: VisitStatus
    target: date
    due_from: date
    overdue_from: date
    missed_from: date
    checkup_id: str | None


@dataclass(frozen=True, slots=True)
class SystematicCount:
    """One year of the 4:2:2 count: checks given of those required; ``closed`` when every
    visit of the year is given or missed."""

    year: int
    required: int
    given: int
    closed: bool

    @property
    def met(self) -> bool:
        return self.given >= self.required


@dataclass(frozen=True, slots=True)
class CheckupPlan:
    visits: tuple[VisitState, ...]
    next_due_date: date | None
    next_visit: str | None
    systematic: tuple[SystematicCount, ...]

    @property
    def programme_over(self) -> bool:
        """Every visit is given or missed: the child has left the 0–6 programme."""
        return all(v.status in (VisitStatus.GIVEN, VisitStatus.MISSED) for v in self.visits)

    def visit(self, code: str) -> VisitState:
        for v in self.visits:
            if v.code == code:
                return v
        raise KeyError(code)


def _windows(
    table: CheckupTable, birth_date: date, discharge_date: date | None
) -> list[tuple[str, date, date, date, date]]:
    """(code, target, due_from, overdue_from, missed_from) per visit, in schedule order."""
    cache: dict[tuple[date, date | None], list[tuple[str, date, date, date, date]]]
    cache = per_table(table, "windows", dict)
    key = (birth_date, discharge_date)
    if key not in cache:
        cache[key] = _compute_windows(table, birth_date, discharge_date)
    return cache[key]


def _compute_windows(
    table: CheckupTable, birth_date: date, discharge_date: date | None
) -> list[tuple[str, date, date, date, date]]:
    rows = []
    for visit in table.visits:
        anchor = discharge_date if visit.anchor == "discharge" and discharge_date else birth_date
        target = add_age(anchor, visit.age)
        due = (
            add_age(anchor, visit.due_from)
            if visit.due_from
            else target - timedelta(days=table.due_lead_days)
        )
        overdue = (
            add_age(anchor, visit.overdue_from)
            if visit.overdue_from
            else target + timedelta(days=table.overdue_after_days)
        )
        rows.append((visit.code, target, due, overdue))
    out = []
    for i, (code, target, due, overdue) in enumerate(rows):
        missed = rows[i + 1][1] if i + 1 < len(rows) else add_age(target, table.last_missed_after)
        out.append((code, target, due, overdue, max(missed, overdue)))
    return out


def checkup_plan(
    birth_date: date,
    checkups: Sequence[CheckupRecord],
    table: CheckupTable,
    as_of: date,
    *,
    discharge_date: date | None = None,
) -> CheckupPlan:
    """Status of every scheduled visit of one child on ``as_of``."""
    windows = _windows(table, birth_date, discharge_date)
    codes = {w[0] for w in windows}
    records = sorted((c for c in checkups if c.on <= as_of), key=lambda c: (c.on, c.checkup_id))
    matched: dict[str, str] = {}
    for rec in records:
        if rec.visit_type in codes and rec.visit_type not in matched:
            matched[rec.visit_type] = rec.checkup_id
    for rec in records:
        if rec.visit_type:
            continue
        for code, _t, due, _o, missed in windows:
            if code not in matched and due <= rec.on < missed:
                matched[code] = rec.checkup_id
                break
    states = []
    for code, target, due, overdue, missed in windows:
        if code in matched:
            status = VisitStatus.GIVEN
        elif as_of < due:
            status = VisitStatus.NOT_YET_DUE
        elif as_of < overdue:
            status = VisitStatus.DUE
        elif as_of < missed:
            status = VisitStatus.OVERDUE
        else:
            status = VisitStatus.MISSED
        states.append(VisitState(code, status, target, due, overdue, missed, matched.get(code)))
    pending = [
        s
        for s in states
        if s.status in (VisitStatus.NOT_YET_DUE, VisitStatus.DUE, VisitStatus.OVERDUE)
    ]
    by_code = {s.code: s for s in states}
    systematic = tuple(
        SystematicCount(
            y.year,
            y.required,
            sum(by_code[c].status is VisitStatus.GIVEN for c in y.visits),
            all(by_code[c].status in (VisitStatus.GIVEN, VisitStatus.MISSED) for c in y.visits),
        )
        for y in table.systematic
    )
    return CheckupPlan(
        visits=tuple(states),
        next_due_date=pending[0].target if pending else None,
        next_visit=pending[0].code if pending else None,
        systematic=systematic,
    )


def checkup_findings(child_id: str, plan: CheckupPlan, table: CheckupTable) -> tuple[Finding, ...]:
    """checkup-due / -overdue / -missed findings from a plan (one finding per kind); none
    once the programme is over (past the last visit's window)."""
    if plan.programme_over:
        return ()
    last_given = max(
        (i for i, v in enumerate(plan.visits) if v.status is VisitStatus.GIVEN), default=-1
    )
    groups = (
        (
            AlertKind.CHECKUP_DUE,
            table.severity_due,
            [v for v in plan.visits if v.status is VisitStatus.DUE],
        ),
        (
            AlertKind.CHECKUP_OVERDUE,
            table.severity_overdue,
            [v for v in plan.visits if v.status is VisitStatus.OVERDUE],
        ),
        (
            AlertKind.CHECKUP_MISSED,
            table.severity_missed,
            [
                v
                for i, v in enumerate(plan.visits)
                if v.status is VisitStatus.MISSED and i > last_given
            ],
        ),
    )
    evidence = tuple(v.checkup_id for v in plan.visits if v.checkup_id is not None)
    out = []
    for kind, severity, visits in groups:
        if visits:
            out.append(
                Finding(
                    child_id,
                    kind,
                    severity,
                    "",
                    evidence,
                    tuple(v.code for v in visits),
                    f"{kind.value}: " + ",".join(v.code for v in visits),
                    table.meta.id,
                    table.meta.version,
                    visits[0].target,
                )
            )
    return tuple(out)
