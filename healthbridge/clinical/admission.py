"""The entry check of the vaccination certificate (入托入学查验; DOMAIN.md §1.4).

On entry to a childcare centre the certificate must be checked within ``check_within_days``
(30) days; children with missing doses are urged to catch up and the centre re-checks before
31 December. Deadlines and the incompleteness rule come from the ``admission_check`` section of
the NIP table (《儿童入托、入学预防接种证查验办法》, 2021).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.errors import AdmissionStateError
from healthbridge.clinical.tables_vaccination import VaccinationTable
from healthbridge.clinical.vaccination import VaccinationPlan
from healthbridge.clinical.vocab import AlertKind


class AdmissionState(StrEnum):
    """State of the entry check of one enrolment (DOMAIN.md §1.4)."""

    NOT_SUBMITTED = "not_submitted"
    SUBMITTED = "submitted"
    ASSESSED_COMPLETE = "assessed_complete"
    ASSESSED_INCOMPLETE = "assessed_incomplete"
    CATCHUP_IN_PROGRESS = "catchup_in_progress"
    CATCHUP_RECORDED = "catchup_recorded"
    RECHECKED = "rechecked"


_TRANSITIONS: dict[AdmissionState, frozenset[AdmissionState]] = {
    AdmissionState.NOT_SUBMITTED: frozenset({AdmissionState.SUBMITTED}),
    AdmissionState.SUBMITTED: frozenset(
        {AdmissionState.ASSESSED_COMPLETE, AdmissionState.ASSESSED_INCOMPLETE}
    ),
    AdmissionState.ASSESSED_COMPLETE: frozenset(),
    AdmissionState.ASSESSED_INCOMPLETE: frozenset(
        {AdmissionState.CATCHUP_IN_PROGRESS, AdmissionState.CATCHUP_RECORDED}
    ),
    AdmissionState.CATCHUP_IN_PROGRESS: frozenset({AdmissionState.CATCHUP_RECORDED}),
    AdmissionState.CATCHUP_RECORDED: frozenset({AdmissionState.RECHECKED}),
    AdmissionState.RECHECKED: frozenset(),
}
_AWAITING_CHECK = frozenset({AdmissionState.NOT_SUBMITTED, AdmissionState.SUBMITTED})
_AWAITING_RECHECK = frozenset(
    {
        AdmissionState.ASSESSED_INCOMPLETE,
        AdmissionState.CATCHUP_IN_PROGRESS,
        AdmissionState.CATCHUP_RECORDED,
    }
)


def advance_admission(current: AdmissionState, to: AdmissionState) -> AdmissionState:
    """The next state, or :class:`AdmissionStateError` if the transition is not allowed."""
    if to not in _TRANSITIONS[current]:
        raise AdmissionStateError(f"admission check cannot go from {current} to {to}")
    return to


@dataclass(frozen=True, slots=True)
class AdmissionCheck:
    child_id: str
    centre_id: str
    entry_date: date
    state: AdmissionState
    check_deadline: date
    recheck_deadline: date
    check_overdue: bool
    recheck_overdue: bool
    missing_doses: tuple[str, ...]

    @property
    def incomplete(self) -> bool:
        return bool(self.missing_doses)


def admission_check(
    child_id: str,
    centre_id: str,
    entry_date: date,
    state: AdmissionState,
    plan: VaccinationPlan,
    table: VaccinationTable,
    as_of: date,
) -> AdmissionCheck:
    """Deadlines and completeness of one child's entry check.

    The certificate must be checked within ``check_within_days`` of entry; after catch-up the
    centre re-checks by 31 December of the entry year. When that date falls before the check
    deadline (entry in December), the following 31 December is used (our reading, [?]).
    """
    statuses = table.admission.incomplete_statuses
    missing = tuple(d.dose_id for d in plan.doses if d.status.value in statuses)
    return admission_check_of(child_id, centre_id, entry_date, state, missing, table, as_of)


def admission_check_of(
    child_id: str,
    centre_id: str,
    entry_date: date,
    state: AdmissionState,
    missing: tuple[str, ...],
    table: VaccinationTable,
    as_of: date,
) -> AdmissionCheck:
    """:func:`admission_check` given the missing dose ids (plan order) instead of the plan."""
    rule = table.admission
    check_deadline = entry_date + timedelta(days=rule.check_within_days)
    recheck = date(entry_date.year, rule.recheck_by_month, rule.recheck_by_day)
    if recheck < check_deadline:
        recheck = date(entry_date.year + 1, rule.recheck_by_month, rule.recheck_by_day)
    return AdmissionCheck(
        child_id,
        centre_id,
        entry_date,
        state,
        check_deadline,
        recheck,
        state in _AWAITING_CHECK and as_of > check_deadline,
        state in _AWAITING_RECHECK and as_of > recheck,
        missing,
    )


def admission_finding(check: AdmissionCheck, table: VaccinationTable) -> Finding | None:
    """``admission-vaccination-incomplete`` for an enrolled child with missing doses."""
    if not check.incomplete:
        return None
    rule = table.admission
    late = check.check_overdue or check.recheck_overdue
    deadline = check.check_deadline if check.state in _AWAITING_CHECK else check.recheck_deadline
    return Finding(
        check.child_id,
        AlertKind.ADMISSION_VACCINATION_INCOMPLETE,
        rule.deadline_passed_severity if late else rule.severity,
        check.state.value,
        (),
        check.missing_doses,
        f"centre {check.centre_id}: missing {','.join(check.missing_doses)}; "
        f"deadline {deadline.isoformat()}",
        table.meta.id,
        table.meta.version,
        check.entry_date,
    )


def centre_admission_list(
    checks: Sequence[AdmissionCheck], centre_id: str
) -> tuple[AdmissionCheck, ...]:
    """The centre's enrolled children with incomplete vaccination, earliest deadline first."""
    rows = [c for c in checks if c.centre_id == centre_id and c.incomplete]
    return tuple(
        sorted(rows, key=lambda c: (min(c.check_deadline, c.recheck_deadline), c.child_id))
    )
