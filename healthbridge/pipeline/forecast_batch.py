"""The vaccination forecasts of a whole district, from ``healthbridge evaluate``.

The write path (:class:`healthbridge.pipeline.engine.Pipeline`) rewrites a child's
``ImmunizationRecommendation`` (:mod:`healthbridge.pipeline.forecast`) when the child's record
changes. A forecast also changes with the calendar (a dose becomes due, then overdue) and with
the vaccination rule table, neither of which writes to the record: the nightly or post-update
batch evaluation therefore publishes them too, for every child:

* the same resource as the write path: :func:`~healthbridge.pipeline.forecast.recommendation`
  on the same inputs — the child's birth date and sex (:class:`~.extract.ChildInfo`) and the
  completed doses the rules read (the ``doses`` frame of the district read, which the tests
  check equals :func:`~.extract.doses` per child, the reading the write path uses);
* the same id (``forecast-{child id}``, deterministic), so a forecast is replaced, never
  duplicated;
* written only when its content changed (``meta`` and ``date`` aside, as
  :func:`~healthbridge.pipeline.forecast.publish` compares): the stored forecasts are read in
  one scan first, so an unchanged district (a second ``evaluate`` on the same day) writes
  nothing; changed ones are written a few hundred per transaction.

Pure per child (one :func:`~healthbridge.clinical.vaccination.vaccination_plan` call each);
hand-written because the vaccination plan is the rules' own, not re-implemented here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pandas as pd

from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vaccination import GivenDose
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.pipeline.forecast import forecast_id, recommendation
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository, Transaction

RESOURCE_TYPE = "ImmunizationRecommendation"


def _content(resource: Mapping[str, Any]) -> dict[str, Any]:
    """What a forecast says (``meta`` and the evaluation ``date`` aside)."""
    return {k: v for k, v in resource.items() if k not in ("meta", "date")}


def given_by_child(doses: pd.DataFrame) -> dict[str, list[GivenDose]]:
    """The ``doses`` frame (child_id, immunization_id, vaccine, date) as the
    :class:`GivenDose` lists the write path reads (:func:`~.extract.doses`), per child."""
    out: defaultdict[str, list[GivenDose]] = defaultdict(list)
    for cid, iid, vaccine, on in doses[
        ["child_id", "immunization_id", "vaccine", "date"]
    ].itertuples(index=False):
        day = on.date() if isinstance(on, pd.Timestamp) else on
        out[str(cid)].append(GivenDose(str(iid), str(vaccine), day))
    for given in out.values():
        given.sort(key=lambda d: (d.on, d.vaccine, d.immunization_id))
    return out


def planned_forecasts(
    patients: Mapping[str, x.ChildInfo], doses: pd.DataFrame, ruleset: RuleSet, as_of: dt.date
) -> dict[str, dict[str, Any]]:
    """Forecast id → the forecast of every child (the write path's resource)."""
    given = given_by_child(doses)
    return {
        forecast_id(cid): recommendation(
            cid, info.birth_date, info.sex, given.get(cid, []), ruleset, as_of
        )
        for cid, info in sorted(patients.items())
    }


def publish_forecasts(
    repository: Repository,
    patients: Mapping[str, x.ChildInfo],
    doses: pd.DataFrame,
    ruleset: RuleSet,
    as_of: dt.date,
    *,
    per_transaction: int = 200,
    dry_run: bool = False,
) -> int:
    """Write every child's forecast whose content changed; the number (to be) written."""
    wanted = planned_forecasts(patients, doses, ruleset, as_of)
    with repository.engine.connect() as conn:
        stored = dbf.documents(conn, RESOURCE_TYPE)
    current = {str(doc["id"]): doc for doc in stored}
    changed = [
        (rid, resource)
        for rid, resource in wanted.items()
        if rid not in current or _content(current[rid]) != _content(resource)
    ]
    if dry_run:
        return len(changed)
    for start in range(0, len(changed), per_transaction):
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            for rid, resource in changed[start : start + per_transaction]:
                txn.update(RESOURCE_TYPE, rid, resource, trusted=True)
    return len(changed)


def publish_in(
    txn: Transaction,
    patients: Mapping[str, x.ChildInfo],
    doses: pd.DataFrame,
    ruleset: RuleSet,
    as_of: dt.date,
) -> int:
    """:func:`publish_forecasts` for a few children in an outbox worker's transaction ``txn``:
    only their stored forecasts are read (by id); the number written."""
    wanted = planned_forecasts(patients, doses, ruleset, as_of)
    if not wanted:
        return 0
    stored = dbf.documents(txn.conn, RESOURCE_TYPE, res_ids=sorted(wanted))
    current = {str(doc["id"]): doc for doc in stored}
    changed = [
        (rid, resource)
        for rid, resource in wanted.items()
        if rid not in current or _content(current[rid]) != _content(resource)
    ]
    txn.prefetch_current([(RESOURCE_TYPE, rid) for rid, _r in changed])
    for rid, resource in changed:
        txn.update(RESOURCE_TYPE, rid, resource, trusted=True)
    return len(changed)
