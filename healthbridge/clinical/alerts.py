"""Findings and the one-open-alert-per-condition reconciliation.

A :class:`Finding` is what a rule concluded for one subject (a child, or a centre for outbreak
reporting): the alert kind, severity, the ids of the input records it derives from, a short
detail and the rule table (id + version) that produced it. The FHIR layer turns an open alert
into a ``Flag`` plus a review ``Task``; this module only decides *what* to do:
:func:`reconcile` compares a subject's open alerts with its new findings and returns
create / update / clear actions so that each subject has at most one open alert per kind.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from healthbridge.clinical.errors import AlertReconciliationError
from healthbridge.clinical.vocab import AlertKind, Severity, SubjectType


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule outcome for one subject.

    ``items`` names what the finding is about in stable codes (z-score columns, dose ids such
    as ``DTP-3``, visit codes, symptom syndromes, warning-sign item ids); ``detail`` is a short
    English summary for logs; display texts come from the ``alert-kinds`` table.
    """

    subject: str
    kind: AlertKind
    severity: Severity
    grade: str
    evidence_ids: tuple[str, ...]
    items: tuple[str, ...]
    detail: str
    rule_id: str
    rule_version: str
    observed_on: date | None
    subject_type: SubjectType = SubjectType.CHILD

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence_ids", tuple(sorted(set(self.evidence_ids))))


def finding_sort_key(f: Finding) -> tuple[str, str, str]:
    """Deterministic order of findings: subject type, subject, kind."""
    return (f.subject_type.value, f.subject, f.kind.value)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert currently open in the store (the lead maps a Flag+Task to this)."""

    alert_id: str
    subject: str
    kind: AlertKind
    severity: Severity
    grade: str = ""
    evidence_ids: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    detail: str = ""
    #: ``rule_id@rule_version`` of the finding that raised or last updated it ("" unknown)
    rule: str = ""


class ActionType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    CLEAR = "clear"


class ClearReason(StrEnum):
    RESOLVED = "resolved"  # the condition no longer holds
    DUPLICATE = "duplicate"  # a second open alert for the same condition (store repair)
    #: raised by an earlier version of a rule table that is now revised, and the current
    #: rules do not raise it: retired, not resolved (e.g. a false alert of an old rule)
    RULE_REVISED = "rule-revised"


@dataclass(frozen=True, slots=True)
class AlertAction:
    """What to write: create a new alert, update an open one, or clear (close) one."""

    action: ActionType
    subject: str
    kind: AlertKind
    finding: Finding | None
    alert_id: str | None
    changed: tuple[str, ...] = field(default=())
    reason: ClearReason | None = None


_COMPARED = ("severity", "grade", "evidence_ids", "items", "detail")


def reconcile(
    subject: str,
    open_alerts: Iterable[OpenAlert],
    findings: Iterable[Finding],
    *,
    evaluated_kinds: Collection[AlertKind] | None = None,
    current_rules: Collection[str] | None = None,
) -> tuple[AlertAction, ...]:
    """Decide the alert writes for one subject.

    * a finding with no open alert of its kind → ``create``;
    * a finding whose open alert differs in severity, grade, evidence, items or detail →
      ``update`` (``changed`` lists the fields), identical → nothing;
    * an open alert of an evaluated kind with no finding → ``clear`` (condition resolved);
    * extra open alerts of one kind (the invariant was broken) → ``clear`` as duplicate.

    ``evaluated_kinds`` limits clearing to the kinds whose rules were run (an incremental
    growth evaluation must not clear vaccination alerts); default: all kinds.
    ``current_rules`` (``rule_id@version`` of the tables in use): an alert to clear that was
    raised by another version of one of these tables is cleared as ``rule-revised``.
    Raises :class:`AlertReconciliationError` for findings of another subject or two findings
    of one kind.
    """
    evaluated = set(AlertKind) if evaluated_kinds is None else set(evaluated_kinds)
    by_kind: dict[AlertKind, Finding] = {}
    for f in findings:
        if f.subject != subject:
            raise AlertReconciliationError(
                f"finding for {f.subject!r} given to reconcile {subject!r}"
            )
        if f.kind in by_kind:
            raise AlertReconciliationError(f"two findings of kind {f.kind} for {subject!r}")
        if f.kind not in evaluated:
            raise AlertReconciliationError(f"finding of kind {f.kind} outside evaluated_kinds")
        by_kind[f.kind] = f
    open_by_kind: dict[AlertKind, list[OpenAlert]] = {}
    for a in open_alerts:
        if a.subject != subject:
            raise AlertReconciliationError(
                f"open alert of {a.subject!r} given to reconcile {subject!r}"
            )
        open_by_kind.setdefault(a.kind, []).append(a)

    actions: list[AlertAction] = []
    for kind in sorted(set(by_kind) | set(open_by_kind)):
        alerts = sorted(open_by_kind.get(kind, []), key=lambda a: a.alert_id)
        finding = by_kind.get(kind)
        keep, extra = (alerts[0], alerts[1:]) if alerts else (None, [])
        for dup in extra:
            actions.append(
                AlertAction(
                    ActionType.CLEAR,
                    subject,
                    kind,
                    None,
                    dup.alert_id,
                    reason=ClearReason.DUPLICATE,
                )
            )
        if finding is not None and keep is None:
            actions.append(AlertAction(ActionType.CREATE, subject, kind, finding, None))
        elif finding is not None and keep is not None:
            changed = tuple(
                name for name in _COMPARED if getattr(finding, name) != getattr(keep, name)
            )
            if changed:
                actions.append(
                    AlertAction(ActionType.UPDATE, subject, kind, finding, keep.alert_id, changed)
                )
        elif keep is not None and kind in evaluated:
            actions.append(
                AlertAction(
                    ActionType.CLEAR,
                    subject,
                    kind,
                    None,
                    keep.alert_id,
                    reason=_clear_reason(keep, current_rules),
                )
            )
    return tuple(actions)


def _clear_reason(alert: OpenAlert, current_rules: Collection[str] | None) -> ClearReason:
    if not current_rules or not alert.rule or alert.rule in current_rules:
        return ClearReason.RESOLVED
    rule_id = alert.rule.partition("@")[0]
    if any(r.partition("@")[0] == rule_id for r in current_rules):
        return ClearReason.RULE_REVISED
    return ClearReason.RESOLVED


def open_alert_from_finding(alert_id: str, finding: Finding) -> OpenAlert:
    """The open alert a ``create``/``update`` action leaves behind (for in-memory stores/tests)."""
    return OpenAlert(
        alert_id,
        finding.subject,
        finding.kind,
        finding.severity,
        finding.grade,
        finding.evidence_ids,
        finding.items,
        finding.detail,
        f"{finding.rule_id}@{finding.rule_version}",
    )
