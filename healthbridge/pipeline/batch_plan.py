"""The rules of ``healthbridge evaluate``: the district's findings and the alert actions they
call for.

The pure batch evaluator (:func:`~healthbridge.clinical.evaluate.evaluate_district`) gives the
findings of every child and centre; each subject's open alerts are reconciled with its findings
(:func:`healthbridge.clinical.alerts.reconcile`): only the differences (new, changed, cleared)
become actions, so an unchanged district plans nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from healthbridge.clinical.alerts import OpenAlert, reconcile
from healthbridge.clinical.evaluate import CENTRE_KINDS, CHILD_KINDS, evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import SubjectType
from healthbridge.pipeline.alerts import current_rules, open_alerts
from healthbridge.pipeline.batch_read import DistrictRead
from healthbridge.pipeline.batch_write import Planned


def findings_of(d: DistrictRead, ruleset: RuleSet, as_of: date, *, workers: int = 1) -> list[Any]:
    """Every finding of the district (``workers`` processes for the rules)."""
    return list(frame_to_findings(evaluate_district(d.data, ruleset, as_of, workers=workers)))


def plan_actions(d: DistrictRead, findings: list[Any], ruleset: RuleSet) -> tuple[Planned, int]:
    """The actions reconciling each subject's open alerts with its findings (subjects in
    order; only those with actions) and the number of open alerts."""
    by_subject: defaultdict[tuple[SubjectType, str], list[Any]] = defaultdict(list)
    for f in findings:
        by_subject[(f.subject_type, f.subject)].append(f)
    subjects = set(by_subject)
    subjects |= {(SubjectType.CHILD, cid) for cid in d.patients}
    for ref in d.flags:
        rtype, _sep, rid = ref.partition("/")
        if rtype == "Organization":
            subjects.add((SubjectType.CENTRE, rid))
    planned: Planned = []
    n_open = 0
    rules = current_rules(ruleset)
    for key in sorted(subjects):
        stype, sid = key
        ref = f"{'Organization' if stype is SubjectType.CENTRE else 'Patient'}/{sid}"
        current: tuple[OpenAlert, ...] = open_alerts(sid, d.flags.get(ref, []), d.tasks)
        n_open += len(current)
        kinds = CENTRE_KINDS if stype is SubjectType.CENTRE else CHILD_KINDS
        actions = reconcile(
            sid, current, by_subject.get(key, []), evaluated_kinds=kinds, current_rules=rules
        )
        if actions:
            planned.append((key, actions))
    return planned, n_open
