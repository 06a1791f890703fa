"""An outbox worker's batch evaluated with the vectorised engine of ``healthbridge evaluate``.

:func:`healthbridge.pipeline.outbox.drain_batch` claims the queued rows of up to a few hundred
children; :func:`evaluate_children` then evaluates them all at once, in the worker's
transaction, with the same steps as the batch evaluation (:mod:`healthbridge.pipeline.batch`)
instead of one :meth:`~healthbridge.pipeline.engine.Pipeline.evaluate` per child:

1. **scope** (:func:`scope_of`): the ids of every resource referring to those children, found
   through the ``reference`` search index (one indexed query), and the staff roles of their
   centres — the read below touches those rows only, never the whole database;
2. **read** (:func:`healthbridge.pipeline.batch_read.read_scoped`): the rule inputs of those
   children from the typed rule-input table, shaped into the frames of
   :mod:`healthbridge.clinical.frames` — the read of ``healthbridge evaluate``;
3. **scores**: the children's growth sessions (the batch read's
   :func:`~healthbridge.pipeline.batch_frames.sessions`, which
   ``tests/healthbridge/pipeline/test_sessions_agree.py`` checks against the write path's
   pairing) scored in one :func:`~healthbridge.pipeline.scoring.score_children` call into the
   same ``hb-growth-score`` Observations, with the same ids, as the write path; written only
   when changed, retracted when no longer derived (the rule of the write path's
   ``Pipeline._write_derived``; only the scores to write have their current rows read) —
   only the sessions the claimed rows can have changed (:mod:`.drain_changes`:
   :func:`changed_sessions`);
4. **rules and alerts** (:func:`~healthbridge.pipeline.batch_plan.findings_of`,
   :func:`~healthbridge.pipeline.batch_plan.plan_actions`,
   :func:`~healthbridge.pipeline.batch_write.apply_planned`): the child findings reconciled
   with the open alerts, only the differences written;
5. **forecasts** (:func:`~healthbridge.pipeline.forecast_batch.publish_in`): each child's
   ``ImmunizationRecommendation``, written when its content changed — rebuilt only when
   its inputs were written or the stored one is of an earlier day (:func:`stale_forecasts`);
6. **centres**: a morning check's centre is evaluated as before
   (:meth:`~healthbridge.pipeline.engine.Pipeline.evaluate_centre`: that centre's checks of
   the window, through the ``enrollment-centre`` chain).

Every write goes through the worker's :class:`~healthbridge.store.transaction.Transaction`
(trusted path; the store queues the rows and inserts them with multi-row ``INSERT``\\ s at
flush), in the same transaction as the deletion of the claimed outbox rows. When the
rule-input table is not current the worker uses the per-child evaluation instead
(:func:`rule_inputs_ready`), and for a chunk of fewer than
:data:`healthbridge.pipeline.outbox.VECTOR_MIN` children (the frames' fixed cost).

Why it costs what it costs (docs/pipeline.md, "Where the worker's CPU goes"): a new child's
first evaluation writes about 40 resources, whose rows SQLite's inserts and the store's write
path take about half the CPU of an all-queued drain; each call also has a fixed cost of
about 87 ms (the frames of the scoped read and of the rules), whatever the number of children.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select

from healthbridge.clinical.vocab import SubjectType
from healthbridge.fhir.values import date_range
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.pipeline import batch_read
from healthbridge.pipeline.batch_plan import findings_of, plan_actions
from healthbridge.pipeline.batch_read import Scope
from healthbridge.pipeline.batch_write import apply_planned
from healthbridge.pipeline.drain_changes import Changes
from healthbridge.pipeline.engine import RECORD_TYPES, Pipeline, now_instant
from healthbridge.pipeline.forecast import day_start, forecast_id
from healthbridge.pipeline.forecast_batch import RESOURCE_TYPE as FORECAST_TYPE
from healthbridge.pipeline.forecast_batch import publish_in
from healthbridge.pipeline.scoring import derived_id, is_derived, same_content, score_children
from healthbridge.store import rule_inputs as ri
from healthbridge.store import search as sql
from healthbridge.store.repository import Transaction

#: The prefix of every derived growth score's id (:func:`.scoring.derived_id`).
_DERIVED_PREFIX = "gs-"
#: The length of a score id's session prefix (``gs-{24 hex}-``, :func:`.scoring.derived_id`).
_PREFIX_LENGTH = len(derived_id("", "", ""))


def changed_sessions(sessions: pd.DataFrame, changes: Changes) -> pd.DataFrame:
    """The rows of the batch read's session frame to score again: every session of a child
    in ``changes.rescore_all``, and of the others the sessions one of whose measurements
    was created (:mod:`.drain_changes`)."""
    if sessions.empty:
        return sessions
    child = sessions["child_id"].astype(str)
    keep = child.isin(changes.rescore_all).to_numpy(copy=True)
    pairs = {f"{cid}\x1f{oid}" for cid, ids in changes.created.items() for oid in ids}
    if pairs:
        for q in ("weight", "lenhei", "headc"):
            keep |= (child + "\x1f" + sessions[f"{q}_id"].astype(str)).isin(pairs).to_numpy()
    return sessions[keep]


def stale_forecasts(
    txn: Transaction, patients: dict[str, x.ChildInfo], changes: Changes, as_of: dt.date
) -> list[str]:
    """The children whose forecast may have changed: those whose forecast inputs a claimed
    row wrote, and those without a stored forecast dated ``as_of`` (:mod:`.drain_changes`)."""
    rest = [cid for cid in sorted(patients) if cid not in changes.forecast]
    ids = {forecast_id(cid): cid for cid in rest}
    current = {ids[rid] for rid in _dated(txn, sorted(ids), as_of)}
    return [cid for cid in sorted(patients) if cid not in current]


def _dated(txn: Transaction, forecast_ids: list[str], as_of: dt.date) -> set[str]:
    """The stored forecasts among ``forecast_ids`` dated ``as_of`` (the date
    :func:`.forecast.recommendation` gives them), found in the ``date`` search index: its
    rows hold the date as the index converter reads it (:func:`~healthbridge.fhir.values.
    date_range`), so no stored forecast (about 17 KB each) is parsed to read it."""
    low = date_range(day_start(as_of))[0]
    idx = sql.index_table("date")
    found: set[str] = set()
    for start in range(0, len(forecast_ids), dbf.ID_CHUNK):
        chunk = forecast_ids[start : start + dbf.ID_CHUNK]
        found.update(
            str(rid)
            for (rid,) in txn.conn.execute(
                select(idx.c.res_id).where(
                    idx.c.res_type == FORECAST_TYPE,
                    idx.c.param == "date",
                    idx.c.low == low,
                    idx.c.res_id.in_(chunk),
                )
            )
        )
    return found


def rule_inputs_ready(txn: Transaction) -> bool:
    """Whether the typed rule-input table is current (else: the per-child evaluation)."""
    return ri.is_current(txn.conn)


def scope_of(txn: Transaction, children: Sequence[str]) -> Scope:
    """The ids of the resources referring to ``children`` (by type) and the staff roles of
    the centres they are enrolled at: indexed lookups in the ``reference`` search index."""
    return _scope(txn, children)[0]


def _scope(txn: Transaction, children: Sequence[str]) -> tuple[Scope, dict[str, str]]:
    """:func:`scope_of` and the child of each stored derived score (its id → child id)."""
    ref = sql.index_table("reference")
    ids: defaultdict[str, set[str]] = defaultdict(set)
    owners: dict[str, str] = {}
    for start in range(0, len(children), 500):
        chunk = list(children[start : start + 500])
        for rtype, rid, target in txn.conn.execute(
            select(ref.c.res_type, ref.c.res_id, ref.c.target_id).where(
                ref.c.target_type == "Patient",
                ref.c.target_id.in_(chunk),
                ref.c.res_type.in_(RECORD_TYPES),
            )
        ):
            ids[str(rtype)].add(str(rid))
            if rtype == "Observation" and str(rid).startswith(_DERIVED_PREFIX):
                owners[str(rid)] = str(target)
    centres = {
        str(c)
        for (c,) in txn.conn.execute(
            select(ref.c.target_id).where(
                ref.c.res_type == "Patient",
                ref.c.res_id.in_(list(children)),
                ref.c.target_type == "Organization",
            )
        )
    }
    roles: set[str] = set()
    if centres:
        roles = {
            str(r)
            for (r,) in txn.conn.execute(
                select(ref.c.res_id).where(
                    ref.c.res_type == "PractitionerRole",
                    ref.c.target_type == "Organization",
                    ref.c.target_id.in_(sorted(centres)),
                )
            )
        }
    scope = Scope(tuple(children), {k: sorted(v) for k, v in ids.items()}, tuple(sorted(roles)))
    return scope, owners


def evaluate_children(
    txn: Transaction,
    pipeline: Pipeline,
    children: Sequence[str],
    daily: set[str],
    changes: Changes | None = None,
) -> None:
    """Evaluate ``children`` (and the centres of those in ``daily``, whose morning check
    changed) in ``txn``, as :meth:`Pipeline.evaluate` does child by child; growth scores and
    forecasts only where ``changes`` (what the claimed outbox rows wrote; ``None``: all of
    every child) can have changed them (:mod:`.drain_changes`)."""
    ruleset, as_of, now = pipeline.ruleset, pipeline.today(), now_instant()
    if changes is None:
        changes = Changes.everything(children)
    txn.flush()
    scope, owners = _scope(txn, sorted(children))
    d, sessions = batch_read.read_scoped(txn.conn, scope)
    # the Patients the alert-message interceptor reads (notify.hooks.on_alert), read ahead
    # in one query: each of its reads would otherwise flush the queued inserts first
    txn.prefetch_current([("Patient", cid) for cid in sorted(d.patients)], lock=False)
    rescored = changed_sessions(sessions, changes)
    _write_scores(txn, owners, d.patients, rescored, changes, pipeline)
    findings = [f for f in findings_of(d, ruleset, as_of) if f.subject_type is SubjectType.CHILD]
    # only the children's own alerts: a centre's (an Organization subject) is reconciled by
    # evaluate_centre below, never against the children's findings alone
    for ref in [r for r in d.flags if not r.startswith("Patient/")]:
        del d.flags[ref]
    planned, _open = plan_actions(d, findings, ruleset)
    apply_planned(txn, txn.conn, d, planned, ruleset, as_of, now)
    stale = stale_forecasts(txn, d.patients, changes, as_of)
    doses = d.data.doses
    publish_in(
        txn,
        {cid: d.patients[cid] for cid in stale},
        doses[doses["child_id"].isin(stale)] if len(stale) < len(d.patients) else doses,
        ruleset,
        as_of,
    )
    centres = sorted(
        {info.centre_id for cid, info in d.patients.items() if cid in daily and info.centre_id}
    )
    if centres:
        txn.flush()
        for centre in centres:
            pipeline.evaluate_centre(txn, centre, as_of, now)


def sessions_by_child(txn: Transaction, sessions: pd.DataFrame) -> dict[str, list[x.Session]]:
    """The batch read's session frame as the write path's :class:`~.extract.Session` lists:
    the instant of each session is its first measurement's ``effectiveDateTime`` as written
    (read for those Observations only), else its date."""
    if sessions.empty:
        return {}
    first = sessions["observation_id"].astype(str).tolist()
    written = dbf.fields(txn.conn, "Observation", {"when": "$.effectiveDateTime"}, res_ids=first)
    when_of = dict(zip(written["res_id"].astype(str), written["when"], strict=True))
    out: defaultdict[str, list[x.Session]] = defaultdict(list)
    columns = ("child_id", "key", "session_on", "observation_id", "measure")
    values = {c: sessions[c].tolist() for c in columns}
    quantities = {q: sessions[q].tolist() for q in ("weight", "lenhei", "headc")}
    ids = {q: sessions[f"{q}_id"].tolist() for q in ("weight", "lenhei", "headc")}
    for i, cid in enumerate(values["child_id"]):
        on = values["session_on"][i].date()
        inputs = tuple(sorted((q, str(ids[q][i])) for q in ids if isinstance(ids[q][i], str)))
        oid = str(values["observation_id"][i])
        when = when_of.get(oid)
        out[str(cid)].append(
            x.Session(
                str(values["key"][i]),
                on,
                oid,
                _number(quantities["weight"][i]),
                _number(quantities["lenhei"][i]),
                values["measure"][i] if isinstance(values["measure"][i], str) else None,
                _number(quantities["headc"][i]),
                inputs,
                str(when) if isinstance(when, str) and when else on.isoformat(),
            )
        )
    return out


def _number(value: Any) -> float | None:
    if value is None:
        return None
    out = float(value)
    return None if math.isnan(out) else out


def _write_scores(
    txn: Transaction,
    owners: dict[str, str],
    patients: dict[str, x.ChildInfo],
    sessions: pd.DataFrame,
    changes: Changes,
    pipeline: Pipeline,
) -> None:
    """Score the ``sessions`` to re-score (:func:`changed_sessions`) in one call; write the
    changed scores and retract those no longer derived (as the write path's
    ``_write_derived``): every stored score of a child re-scored in full, only the
    re-scored sessions' own scores of the others."""
    by_child = sessions_by_child(txn, sessions)
    children = sorted(cid for cid in patients if cid in by_child or cid in changes.rescore_all)
    scored = score_children(
        [(patients[cid], by_child.get(cid, [])) for cid in children],
        pipeline.ruleset.interpretation,
    )
    # the stored scores to compare: all those of a child re-scored in full, else those of
    # its re-scored sessions (their ids start with the session's prefix, see derived_id)
    prefixes = {derived_id(cid, s.key, "") for cid, ss in by_child.items() for s in ss}
    candidates = [
        oid
        for oid, cid in owners.items()
        if cid in changes.rescore_all or oid[:_PREFIX_LENGTH] in prefixes
    ]
    existing: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    if candidates:
        for doc in dbf.documents(txn.conn, "Observation", res_ids=sorted(candidates)):
            cid = x.subject_id(doc)
            if is_derived(doc) and cid in patients:
                existing[str(cid)].append(doc)
    writes: list[tuple[str, dict[str, Any]]] = []
    for cid, scores in zip(children, scored, strict=True):
        current = {str(o["id"]): o for o in existing.get(cid, [])}
        for oid, resource in scores.derived.items():
            old = current.get(oid)
            if old is None or not same_content(old, resource):
                writes.append((oid, resource))
        for oid, old in current.items():
            if oid not in scores.derived and old.get("status") != "entered-in-error":
                writes.append((oid, {**old, "status": "entered-in-error"}))
    # the current rows of the scores about to be written, in one query (each update then
    # neither queries nor flushes); unchanged scores are neither read again nor written
    txn.prefetch_current(sorted({("Observation", oid) for oid, _r in writes}))
    for oid, resource in writes:
        txn.update("Observation", oid, resource, trusted=True)
