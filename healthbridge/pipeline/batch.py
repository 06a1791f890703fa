"""Batch re-evaluation of a whole database (``healthbridge evaluate``).

After a rule-table change (or nightly, for date-dependent statuses) every child and centre is
evaluated again, in three steps, each in its own module:

1. **read** (:mod:`healthbridge.pipeline.batch_read`, frames shaped by
   :mod:`healthbridge.pipeline.batch_frames`): every child's rule inputs, from the typed
   rule-input table (or the stored documents when it is not current), plus the open alerts'
   reconciled parts, the centres' managers and the evidence ids;
2. **rules** (:mod:`healthbridge.pipeline.batch_plan`): the pure batch evaluator gives the
   findings, reconciled with the open alerts into actions (new, changed, cleared);
3. **write** (:mod:`healthbridge.pipeline.batch_write`): only those actions, through the
   repository, a few hundred subjects per transaction — an unchanged district writes nothing.

Derived growth Observations are not rewritten here: they depend on the WHO standards and the
measurements, not on the rule tables, and the interceptor keeps them current. The cyclic
garbage collector is paused for the whole run, while the read holds millions of small objects
(:func:`~healthbridge.store.gc_policy.bulk_pause`: only in a batch process, never a server).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from healthbridge.clinical.ruleset import RuleSet
from healthbridge.pipeline import batch_read
from healthbridge.pipeline.batch_plan import findings_of, plan_actions
from healthbridge.pipeline.batch_read import DistrictRead, Source, rule_inputs_current
from healthbridge.pipeline.batch_write import write_actions
from healthbridge.pipeline.forecast_batch import publish_forecasts
from healthbridge.store.gc_policy import bulk_pause
from healthbridge.store.repository import Repository

__all__ = [
    "BatchReport",
    "DistrictRead",
    "Source",
    "evaluate_database",
    "read_district",
    "rule_inputs_current",
]


@dataclass
class BatchReport:
    """What ``healthbridge evaluate`` did."""

    children: int = 0
    observations: int = 0
    findings: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    open_alerts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    source: str = ""  # where the inputs were read from (see read_district)
    forecasts: int = 0  # ImmunizationRecommendations written (or, dry run, to write)


def read_district(repository: Repository, *, source: Source = "auto") -> DistrictRead:
    """Read the rule inputs of every child, in the shapes of :mod:`healthbridge.clinical.frames`.

    ``source``: ``"table"`` reads the typed rule-input table kept at write time
    (:mod:`healthbridge.store.rule_inputs`: column scans); ``"documents"`` extracts the fields
    from the stored JSON (:mod:`healthbridge.inputs.dbframes`); ``"auto"`` (default) the
    table when it is current, else the documents. The same records count as in the
    per-resource functions of :mod:`healthbridge.inputs.extract` (the tests compare all
    three)."""
    with bulk_pause():
        return batch_read.read(repository, source)


def evaluate_database(
    repository: Repository,
    ruleset: RuleSet,
    as_of: date,
    *,
    workers: int = 1,
    subjects_per_transaction: int = 200,
    dry_run: bool = False,
    source: Source = "auto",
) -> BatchReport:
    """Re-run every rule for every child and centre and reconcile the open alerts
    (``source``: where the rule inputs are read from, see :func:`read_district`; ``workers``
    processes for the rules)."""
    report = BatchReport()
    t0 = time.perf_counter()
    # the whole run: while the district read is alive (millions of objects) every collection
    # the writes and the forecasts' documents trigger would traverse it too (a paused
    # read and rules but a collecting write cost 14.6-15.6 s of reconcile and write at 10,000
    # children on PostgreSQL, bench/results/evaluate_district.md)
    with bulk_pause():
        d = read_district(repository, source=source)
        report.children, report.observations = len(d.patients), d.n_observations
        report.source = d.source
        t1 = t2 = time.perf_counter()
        findings = findings_of(d, ruleset, as_of, workers=workers)
        report.findings = len(findings)
        t3 = time.perf_counter()
        planned, report.open_alerts = plan_actions(d, findings, ruleset)
        for _key, actions in planned:
            report.actions.update(a.action.value for a in actions)
        if not dry_run:
            write_actions(repository, d, planned, ruleset, as_of, subjects_per_transaction)
        report.forecasts = publish_forecasts(
            repository, d.patients, d.data.doses, ruleset, as_of,
            per_transaction=subjects_per_transaction, dry_run=dry_run,
        )  # fmt: skip
    t4 = time.perf_counter()
    report.seconds = {
        "read": round(t1 - t0, 2),
        "prepare": round(t2 - t1, 2),
        "evaluate": round(t3 - t2, 2),
        "reconcile_write": round(t4 - t3, 2),
        "total": round(t4 - t0, 2),
    }
    return report
