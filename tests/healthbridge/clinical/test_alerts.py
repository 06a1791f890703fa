from __future__ import annotations

from datetime import date

import pytest

from healthbridge.clinical.alerts import (
    ActionType,
    ClearReason,
    Finding,
    OpenAlert,
    open_alert_from_finding,
    reconcile,
)
from healthbridge.clinical.errors import AlertReconciliationError
from healthbridge.clinical.vocab import AlertKind, Severity


def finding(
    kind: AlertKind = AlertKind.UNDERWEIGHT,
    severity: Severity = Severity.MODERATE,
    evidence: tuple[str, ...] = ("o1",),
    subject: str = "c1",
) -> Finding:
    return Finding(
        subject,
        kind,
        severity,
        "moderate",
        evidence,
        ("zwei",),
        "zwei=-2.50",
        "nutrition",
        "2024.1",
        date(2026, 1, 1),
    )


def test_create_then_nothing_then_update_then_clear() -> None:
    f = finding()
    (create,) = reconcile("c1", [], [f])
    assert create.action is ActionType.CREATE
    assert create.finding == f
    open_ = [open_alert_from_finding("a1", f)]
    assert reconcile("c1", open_, [f]) == ()
    worse = finding(severity=Severity.HIGH, evidence=("o2",))
    (update,) = reconcile("c1", open_, [worse])
    assert update.action is ActionType.UPDATE
    assert update.alert_id == "a1"
    assert update.changed == ("severity", "evidence_ids")
    (clear,) = reconcile("c1", open_, [])
    assert (clear.action, clear.alert_id, clear.reason) == (
        ActionType.CLEAR,
        "a1",
        ClearReason.RESOLVED,
    )


def test_only_evaluated_kinds_are_cleared() -> None:
    open_ = [OpenAlert("a1", "c1", AlertKind.VACCINE_OVERDUE, Severity.MODERATE)]
    assert reconcile("c1", open_, [], evaluated_kinds={AlertKind.UNDERWEIGHT}) == ()
    with pytest.raises(AlertReconciliationError):
        reconcile("c1", [], [finding()], evaluated_kinds={AlertKind.VACCINE_OVERDUE})


def test_duplicate_open_alerts_are_repaired() -> None:
    f = finding()
    open_ = [open_alert_from_finding("a2", f), open_alert_from_finding("a1", f)]
    (dup,) = reconcile("c1", open_, [f])
    assert (dup.action, dup.alert_id, dup.reason) == (ActionType.CLEAR, "a2", ClearReason.DUPLICATE)


def test_inconsistent_input_raises() -> None:
    with pytest.raises(AlertReconciliationError):
        reconcile("c1", [], [finding(), finding()])
    with pytest.raises(AlertReconciliationError):
        reconcile("c1", [], [finding(subject="c2")])
    with pytest.raises(AlertReconciliationError):
        reconcile("c1", [OpenAlert("a1", "c2", AlertKind.FEVER, Severity.LOW)], [])


def test_evidence_ids_are_normalised() -> None:
    assert finding(evidence=("o2", "o1", "o2")).evidence_ids == ("o1", "o2")


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("velocity@2026.1", ClearReason.RULE_REVISED),  # an earlier version of a table in use
        ("velocity@2026.2", ClearReason.RESOLVED),  # raised by the current version
        ("other@1", ClearReason.RESOLVED),  # a table not in use: nothing to say
        ("", ClearReason.RESOLVED),  # unknown provenance
    ],
)
def test_alert_of_a_revised_rule_is_retired_not_resolved(rule: str, reason: ClearReason) -> None:
    alert = OpenAlert("a1", "c1", AlertKind.GROWTH_FALTERING, Severity.MODERATE, rule=rule)
    (action,) = reconcile("c1", [alert], [], current_rules={"velocity@2026.2", "anaemia@2012.2"})
    assert (action.action, action.reason) == (ActionType.CLEAR, reason)
