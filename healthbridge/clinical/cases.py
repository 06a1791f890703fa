"""Managed cases (体弱儿/高危儿专案管理): follow-up schedule and missed follow-ups.

A child enrolled for a condition (moderate/severe malnutrition, anaemia, rickets, obesity,
preterm/low birth weight, other high-risk newborn) is followed up at the intervals of the
``managed-cases`` rule table (儿童营养性疾病管理技术规范, 2012; 早产儿保健工作规范, 2017;
DOMAIN.md §4.1–4.2) until the case is closed (结案) with an outcome. The next follow-up is due
one interval after the latest follow-up visit (or the enrolment); a follow-up not made
``overdue_after_days`` after its due date raises ``case-follow-up-overdue``, graded ``lost``
(失访, higher severity) after ``lost_after_days``. One finding per child covers all its open
cases (one open alert per kind). Pure: typed records in, findings out; the same function serves
the per-write pipeline and ``healthbridge evaluate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.ages import add_months
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.errors import ClinicalInputError, RuleTableError
from healthbridge.clinical.tables import TableMeta, parse_meta
from healthbridge.clinical.vocab import AlertKind, Evidence, Severity

#: Term in weeks for corrected age (DOMAIN.md §4.1).
TERM_WEEKS = 40.0
LOST = "lost"
OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class Interval:
    """Follow-up every ``days`` while the (corrected) age in months is under ``below_months``
    (``None``: any age)."""

    below_months: int | None
    days: int


@dataclass(frozen=True, slots=True)
class HighRisk:
    """The high-risk group of a condition (早产儿保健工作规范 2017: high-risk preterm, GA < 34
    weeks or birth weight < 2000 g) and its more frequent follow-up intervals."""

    below_weeks: float
    below_grams: float
    intervals: tuple[Interval, ...]
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class CaseCondition:
    code: str
    group: str  # "frail" (体弱儿) or "high-risk" (高危儿)
    name_zh: str
    name_en: str
    closure_zh: str
    closure_en: str
    evidence: Evidence
    closure_evidence: Evidence
    intervals: tuple[Interval, ...]
    first_days: int | None = None
    corrected_age: bool = False
    corrected_until_months: int = 24
    close_at_months: int | None = None
    #: the stricter schedule of a high-risk child (preterm: GA < 34 weeks or BW < 2000 g)
    high_risk: HighRisk | None = None
    #: who belongs under this condition from the birth facts (preterm < 37 weeks or low
    #: birth weight < 2500 g): such a child not enrolled is due work (clinical/high_risk.py)
    enrol_below_weeks: float | None = None
    enrol_below_grams: float | None = None

    def is_high_risk(self, gestational_weeks: float | None, birth_weight_g: float | None) -> bool:
        """Whether the child follows the high-risk schedule (:class:`HighRisk`)."""
        h = self.high_risk
        if h is None:
            return False
        return (gestational_weeks is not None and gestational_weeks < h.below_weeks) or (
            birth_weight_g is not None and birth_weight_g < h.below_grams
        )

    def schedule(
        self, gestational_weeks: float | None, birth_weight_g: float | None
    ) -> tuple[Interval, ...]:
        """The follow-up intervals for a child with these birth facts."""
        if self.high_risk is not None and self.is_high_risk(gestational_weeks, birth_weight_g):
            return self.high_risk.intervals
        return self.intervals

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def closure(self, lang: str) -> str:
        return self.closure_zh if lang == "zh" else self.closure_en


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    code: str
    name_zh: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True, slots=True)
class CasesTable:
    meta: TableMeta
    overdue_after_days: int
    lost_after_days: int
    severity: Severity
    lost_severity: Severity
    alert_evidence: Evidence
    conditions: tuple[CaseCondition, ...]
    outcomes: tuple[CaseOutcome, ...]

    def condition(self, code: str) -> CaseCondition:
        for c in self.conditions:
            if c.code == code:
                return c
        raise ClinicalInputError(f"unknown managed-case condition {code!r}")

    def outcome(self, code: str) -> CaseOutcome:
        for o in self.outcomes:
            if o.code == code:
                return o
        raise ClinicalInputError(f"unknown managed-case outcome {code!r}")


def _intervals(c: Reader) -> tuple[Interval, ...]:
    intervals = tuple(
        Interval(i.integer("below_months") if i.has("below_months") else None, i.integer("days"))
        for i in c.tables("interval")
    )
    if any(i.days < 1 for i in intervals) or intervals[-1].below_months is not None:
        raise RuleTableError(
            f"{c.where}: intervals need days ≥ 1 and a last row without below_months"
        )
    if any(i.below_months is None for i in intervals[:-1]):
        raise RuleTableError(f"{c.where}: only the last interval may omit below_months")
    return intervals


def _high_risk(c: Reader) -> HighRisk | None:
    if not c.has("high_risk"):
        return None
    h = c.table("high_risk")
    return HighRisk(h.number("below_weeks"), h.number("below_grams"), _intervals(h), h.evidence())


def parse_cases(root: Reader) -> CasesTable:
    a = root.table("alert")
    conditions = []
    for c in root.tables("condition"):
        intervals = _intervals(c)
        conditions.append(
            CaseCondition(
                code=c.text("code"),
                group=c.text("group"),
                name_zh=c.text("name_zh"),
                name_en=c.text("name_en"),
                closure_zh=c.text("closure_zh"),
                closure_en=c.text("closure_en"),
                evidence=c.evidence(),
                closure_evidence=c.evidence("closure_evidence"),
                intervals=intervals,
                first_days=c.integer("first_days") if c.has("first_days") else None,
                corrected_age=c.boolean("corrected_age", False),
                corrected_until_months=c.integer("corrected_until_months", 24),
                close_at_months=c.integer("close_at_months") if c.has("close_at_months") else None,
                high_risk=_high_risk(c),
                enrol_below_weeks=c.opt_number("enrol_below_weeks"),
                enrol_below_grams=c.opt_number("enrol_below_grams"),
            )
        )
    if len({c.code for c in conditions}) != len(conditions):
        raise RuleTableError(f"{root.where}: condition codes repeat")
    if a.integer("lost_after_days") <= a.integer("overdue_after_days"):
        raise RuleTableError(f"{root.where}.alert: lost_after_days must exceed overdue_after_days")
    return CasesTable(
        meta=parse_meta(root),
        overdue_after_days=a.integer("overdue_after_days"),
        lost_after_days=a.integer("lost_after_days"),
        severity=a.enum("severity", Severity),
        lost_severity=a.enum("lost_severity", Severity),
        alert_evidence=a.evidence(),
        conditions=tuple(conditions),
        outcomes=tuple(
            CaseOutcome(o.text("code"), o.text("name_zh"), o.text("name_en"))
            for o in root.tables("outcome")
        ),
    )


@dataclass(frozen=True, slots=True)
class ManagedCase:
    """One case (an EpisodeOfCare) and the dates of its follow-up visits."""

    episode_id: str
    condition: str
    start: date
    active: bool = True
    end: date | None = None
    outcome: str | None = None
    follow_ups: tuple[date, ...] = ()


def _months(born: date, on: date) -> int:
    """Completed calendar months from ``born`` to ``on``."""
    months = (on.year - born.year) * 12 + on.month - born.month
    if months > 0 and add_months(born, months) > on:
        months -= 1
    return max(months, 0)


def assessment_birth(
    condition: CaseCondition, birth_date: date, on: date, gestational_weeks: float | None
) -> date:
    """Birth date shifted to the corrected one (preterm) while the corrected age in months is
    under ``corrected_until_months`` (早产儿保健工作规范: corrected age until about 24 months)."""
    if not condition.corrected_age or gestational_weeks is None:
        return birth_date
    if gestational_weeks >= TERM_WEEKS - 3:  # 37 weeks and over: term, no correction
        return birth_date
    corrected = birth_date + timedelta(days=round((TERM_WEEKS - gestational_weeks) * 7))
    if on < corrected or _months(corrected, on) < condition.corrected_until_months:
        return corrected
    return birth_date


def interval_days(
    condition: CaseCondition,
    birth_date: date,
    on: date,
    gestational_weeks: float | None,
    birth_weight_g: float | None = None,
) -> int:
    """The follow-up interval that applies at ``on`` (by the child's (corrected) age, on the
    high-risk schedule when the birth facts say so)."""
    born = assessment_birth(condition, birth_date, on, gestational_weeks)
    months = _months(born, on) if on >= born else 0
    intervals = condition.schedule(gestational_weeks, birth_weight_g)
    for i in intervals:
        if i.below_months is None or months < i.below_months:
            return i.days
    return intervals[-1].days  # pragma: no cover - parse_cases ensures a last row


def next_follow_up(
    case: ManagedCase,
    birth_date: date,
    table: CasesTable,
    gestational_weeks: float | None = None,
    as_of: date | None = None,
    birth_weight_g: float | None = None,
) -> date | None:
    """When the next follow-up of an open case is due (``None`` for a closed case).

    Visits after ``as_of`` are ignored (a record evaluated on an earlier day).
    """
    if not case.active:
        return None
    condition = table.condition(case.condition)
    visits = sorted(d for d in case.follow_ups if d >= case.start and (as_of is None or d <= as_of))
    if not visits:
        days = condition.first_days or interval_days(
            condition, birth_date, case.start, gestational_weeks, birth_weight_g
        )
        return case.start + timedelta(days=days)
    last = visits[-1]
    days = interval_days(condition, birth_date, last, gestational_weeks, birth_weight_g)
    return last + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class CaseStatus:
    """An open case's follow-up state on a day (for pages)."""

    case: ManagedCase
    condition: CaseCondition
    due: date | None
    overdue: bool
    lost: bool


def case_status(
    case: ManagedCase,
    birth_date: date,
    table: CasesTable,
    as_of: date,
    gestational_weeks: float | None = None,
    birth_weight_g: float | None = None,
) -> CaseStatus:
    due = next_follow_up(case, birth_date, table, gestational_weeks, as_of, birth_weight_g)
    late = (as_of - due).days if due is not None else 0
    return CaseStatus(
        case,
        table.condition(case.condition),
        due,
        due is not None and late > table.overdue_after_days,
        due is not None and late > table.lost_after_days,
    )


def case_findings(
    child_id: str,
    birth_date: date,
    cases: Sequence[ManagedCase],
    table: CasesTable,
    as_of: date,
    gestational_weeks: float | None = None,
    birth_weight_g: float | None = None,
) -> tuple[Finding, ...]:
    """``case-follow-up-overdue`` for the child's open cases (enrolled on or before ``as_of``)
    whose follow-up is overdue; graded ``lost`` when any is past ``lost_after_days``."""
    late: list[CaseStatus] = []
    for case in sorted(cases, key=lambda c: c.episode_id):
        if case.start > as_of:
            continue
        status = case_status(case, birth_date, table, as_of, gestational_weeks, birth_weight_g)
        if status.overdue:
            late.append(status)
    if not late:
        return ()
    lost = any(s.lost for s in late)
    due = min(s.due for s in late if s.due is not None)
    return (
        Finding(
            child_id,
            AlertKind.CASE_FOLLOW_UP_OVERDUE,
            table.lost_severity if lost else table.severity,
            LOST if lost else OVERDUE,
            tuple(s.case.episode_id for s in late),
            tuple(sorted(s.case.condition for s in late)),
            "follow-up overdue since " + due.isoformat(),
            table.meta.id,
            table.meta.version,
            due,
        ),
    )
