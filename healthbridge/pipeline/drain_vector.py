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
   ``Pipeline._write_derived``; only the scores to write have their current rows read);
4. **rules and alerts** (:func:`~healthbridge.pipeline.batch_plan.findings_of`,
   :func:`~healthbridge.pipeline.batch_plan.plan_actions`,
   :func:`~healthbridge.pipeline.batch_write.apply_planned`): the child findings reconciled
   with the open alerts, only the differences written;
5. **forecasts** (:func:`~healthbridge.pipeline.forecast_batch.publish_in`): each child's
   ``ImmunizationRecommendation``, written when its content changed;
6. **centres**: a morning check's centre is evaluated as before
   (:meth:`~healthbridge.pipeline.engine.Pipeline.evaluate_centre`: that centre's checks of
   the window, through the ``enrollment-centre`` chain).

Every write goes through the worker's :class:`~healthbridge.store.transaction.Transaction`
(trusted path; the store queues the rows and inserts them with multi-row ``INSERT``\\ s at
flush), in the same transaction as the deletion of the claimed outbox rows. When the
rule-input table is not current the worker uses the per-child evaluation instead
(:func:`rule_inputs_ready`), and for a chunk of fewer than
:data:`healthbridge.pipeline.outbox.VECTOR_MIN` children (the frames' fixed cost).

Why it costs what it costs (docs/pipeline.md, "The vectorised worker"): reading, scoring and
the rules of a batch are about a fifth of the worker's CPU; the rest is the store's write
path for the resources the pipeline writes (about four per input resource).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select

from healthbridge.clinical.vocab import SubjectType
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.pipeline import batch_read
from healthbridge.pipeline.batch_plan import findings_of, plan_actions
from healthbridge.pipeline.batch_read import Scope
from healthbridge.pipeline.batch_write import apply_planned
from healthbridge.pipeline.engine import RECORD_TYPES, Pipeline, now_instant
from healthbridge.pipeline.forecast_batch import publish_in
from healthbridge.pipeline.scoring import is_derived, same_content, score_children
from healthbridge.store import rule_inputs as ri
from healthbridge.store import search as sql
from healthbridge.store.repository import Transaction

#: The prefix of every derived growth score's id (:func:`.scoring.derived_id`).
_DERIVED_PREFIX = "gs-"


def rule_inputs_ready(txn: Transaction) -> bool:
    """Whether the typed rule-input table is current (else: the per-child evaluation)."""
    return ri.is_current(txn.conn)


def scope_of(txn: Transaction, children: Sequence[str]) -> Scope:
    """The ids of the resources referring to ``children`` (by type) and the staff roles of
    the centres they are enrolled at: indexed lookups in the ``reference`` search index."""
    ref = sql.index_table("reference")
    ids: defaultdict[str, set[str]] = defaultdict(set)
    for start in range(0, len(children), 500):
        chunk = list(children[start : start + 500])
        for rtype, rid in txn.conn.execute(
            select(ref.c.res_type, ref.c.res_id).where(
                ref.c.target_type == "Patient",
                ref.c.target_id.in_(chunk),
                ref.c.res_type.in_(RECORD_TYPES),
            )
        ):
            ids[str(rtype)].add(str(rid))
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
    return Scope(tuple(children), {k: sorted(v) for k, v in ids.items()}, tuple(sorted(roles)))


def evaluate_children(
    txn: Transaction, pipeline: Pipeline, children: Sequence[str], daily: set[str]
) -> None:
    """Evaluate ``children`` (and the centres of those in ``daily``, whose morning check
    changed) in ``txn``, as :meth:`Pipeline.evaluate` does child by child."""
    ruleset, as_of, now = pipeline.ruleset, pipeline.today(), now_instant()
    txn.flush()
    scope = scope_of(txn, sorted(children))
    d, sessions = batch_read.read_scoped(txn.conn, scope)
    # the Patients the alert-message interceptor reads (notify.hooks.on_alert), read ahead
    # in one query: each of its reads would otherwise flush the queued inserts first
    txn.prefetch_current([("Patient", cid) for cid in sorted(d.patients)], lock=False)
    _write_scores(txn, scope, d.patients, sessions, pipeline)
    findings = [f for f in findings_of(d, ruleset, as_of) if f.subject_type is SubjectType.CHILD]
    # only the children's own alerts: a centre's (an Organization subject) is reconciled by
    # evaluate_centre below, never against the children's findings alone
    for ref in [r for r in d.flags if not r.startswith("Patient/")]:
        del d.flags[ref]
    planned, _open = plan_actions(d, findings, ruleset)
    apply_planned(txn, txn.conn, d, planned, ruleset, as_of, now)
    publish_in(txn, d.patients, d.data.doses, ruleset, as_of)
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
    scope: Scope,
    patients: dict[str, x.ChildInfo],
    sessions: pd.DataFrame,
    pipeline: Pipeline,
) -> None:
    """Score every session of the children in one call; write the changed scores and
    retract those no longer derived (as the write path's ``_write_derived``)."""
    by_child = sessions_by_child(txn, sessions)
    children = sorted(patients)
    scored = score_children(
        [(patients[cid], by_child.get(cid, [])) for cid in children],
        pipeline.ruleset.interpretation,
    )
    candidates = [i for i in scope.of("Observation") if i.startswith(_DERIVED_PREFIX)]
    existing: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    if candidates:
        got = dbf.fields(txn.conn, "Observation", {"doc": "$"}, res_ids=candidates)
        for doc in dbf.parse(got["doc"].tolist()):
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
