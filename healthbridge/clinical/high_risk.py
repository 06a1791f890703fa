"""High-risk infants (高危儿) not yet under managed follow-up: due work from the birth facts.

A preterm (< 37 weeks) or low-birth-weight (< 2500 g) child is a high-risk newborn
(新生儿访视技术规范, 2012; DOMAIN.md §4.1) and is followed up as a managed case on the
preterm schedule of 早产儿保健工作规范 (2017) until corrected 24 months. That schedule is the
``preterm-lbw`` condition of the ``managed-cases`` rule table (the low-risk intervals, and
the more frequent high-risk ones for GA < 34 weeks or BW < 2000 g: :class:`~.cases.HighRisk`);
it is not repeated here. Once the child is enrolled (an EpisodeOfCare for the condition, open
or closed), :func:`~.cases.case_findings` follows its visits and raises
``case-follow-up-overdue``.

Before that, the schedule is due work: the first follow-up falls due one first interval after
birth (14 days on the high-risk schedule, 30 on the low-risk one). A child eligible by its
birth facts, under the condition's ``close_at_months`` (corrected age), with no case of the
condition, raises ``high-risk-not-managed`` from that date: grade ``due``, then ``overdue``
(the table's higher severity) ``overdue_after_days`` after it. The ``enrol_below_*``
thresholds live in the rule table (``[[condition]]`` ``preterm-lbw``).

Pure: birth facts and cases in, findings out; the same function serves the per-write
pipeline and ``healthbridge evaluate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.cases import (
    CaseCondition,
    CasesTable,
    ManagedCase,
    _months,
    assessment_birth,
    interval_days,
)
from healthbridge.clinical.vocab import AlertKind

DUE = "due"
OVERDUE = "overdue"


def eligible(
    condition: CaseCondition, gestational_weeks: float | None, birth_weight_g: float | None
) -> bool:
    """Whether the birth facts put the child under ``condition`` (its ``enrol_below_*``)."""
    weeks, grams = condition.enrol_below_weeks, condition.enrol_below_grams
    return (weeks is not None and gestational_weeks is not None and gestational_weeks < weeks) or (
        grams is not None and birth_weight_g is not None and birth_weight_g < grams
    )


def first_follow_up(
    condition: CaseCondition,
    birth_date: date,
    gestational_weeks: float | None,
    birth_weight_g: float | None,
) -> date:
    """When the schedule's first follow-up is due: birth plus its first interval."""
    days = interval_days(condition, birth_date, birth_date, gestational_weeks, birth_weight_g)
    return birth_date + timedelta(days=days)


def high_risk_findings(
    child_id: str,
    birth_date: date,
    gestational_weeks: float | None,
    birth_weight_g: float | None,
    cases: Sequence[ManagedCase],
    table: CasesTable,
    as_of: date,
) -> tuple[Finding, ...]:
    """``high-risk-not-managed`` for each condition the child's birth facts call for, with no
    case of it (enrolled on or before ``as_of``), from the first follow-up date until the
    condition's ``close_at_months`` (corrected age)."""
    out = []
    for condition in table.conditions:
        if not eligible(condition, gestational_weeks, birth_weight_g):
            continue
        if any(c.condition == condition.code and c.start <= as_of for c in cases):
            continue
        if condition.close_at_months is not None:
            born = assessment_birth(condition, birth_date, as_of, gestational_weeks)
            if as_of >= born and _months(born, as_of) >= condition.close_at_months:
                continue
        due = first_follow_up(condition, birth_date, gestational_weeks, birth_weight_g)
        if as_of < due:
            continue
        late = (as_of - due).days > table.overdue_after_days
        high = condition.is_high_risk(gestational_weeks, birth_weight_g)
        out.append(
            Finding(
                child_id,
                AlertKind.HIGH_RISK_NOT_MANAGED,
                table.lost_severity if late else table.severity,
                OVERDUE if late else DUE,
                (),
                (condition.code, "high-risk" if high else "low-risk"),
                f"{condition.code} follow-up due since {due.isoformat()}, no managed case",
                table.meta.id,
                table.meta.version,
                due,
            )
        )
    return tuple(out)
