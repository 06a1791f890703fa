"""The write of ``healthbridge evaluate``: the planned alert actions applied through the
repository, a few hundred subjects per transaction.

The district read (:mod:`healthbridge.pipeline.batch_read`) keeps only the reconciled parts of
the open Flags and Tasks; the few the actions change are read whole, by id, before they are
written (:func:`_alert_documents`), never rebuilt from those parts. Each child's alerts are
routed as the per-write path routes them (:func:`healthbridge.pipeline.engine.child_routing`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import Connection

from healthbridge.clinical.alerts import AlertAction
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import SubjectType
from healthbridge.inputs import dbframes as dbf
from healthbridge.pipeline.alerts import Routing, apply_actions
from healthbridge.pipeline.batch_read import DistrictRead
from healthbridge.pipeline.engine import child_routing, now_instant
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository, Transaction

#: Planned actions: per subject (type, id), what reconciling its alerts does.
Planned = list[tuple[tuple[SubjectType, str], tuple[AlertAction, ...]]]


def write_actions(
    repository: Repository,
    d: DistrictRead,
    planned: Planned,
    ruleset: RuleSet,
    as_of: date,
    subjects_per_transaction: int,
) -> None:
    """Apply ``planned`` (subjects in order), ``subjects_per_transaction`` a transaction."""
    if not planned:
        return
    now = now_instant()
    with repository.engine.connect() as conn:
        documents = _alert_documents(conn, d, planned)
    for start in range(0, len(planned), subjects_per_transaction):
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            part = planned[start : start + subjects_per_transaction]
            apply_planned(txn, None, d, part, ruleset, as_of, now, documents)


def apply_planned(
    txn: Transaction,
    conn: Connection | None,
    d: DistrictRead,
    planned: Planned,
    ruleset: RuleSet,
    as_of: date,
    now: str,
    documents: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Apply ``planned`` in ``txn`` (``documents``: the whole Flags and Tasks they change,
    else read on ``conn`` — an outbox worker's own transaction)."""
    if not planned:
        return
    if documents is None:
        documents = _alert_documents(conn if conn is not None else txn.conn, d, planned)
    # the current rows of the alerts the actions update, in one query per type (each update
    # then neither queries nor flushes the queued inserts)
    keys = [key.split("/", 1) for key in sorted(documents)]
    txn.prefetch_current([(rtype, rid) for rtype, rid in keys])
    child_encounters = _encounter_docs(
        d, {sid for (st, sid), _a in planned if st is SubjectType.CHILD}
    )
    cited = _cited_types(d.evidence, {sid for (st, sid), _a in planned if st is SubjectType.CHILD})
    for (stype, sid), actions in planned:
        routing, id_types = _routing(d, stype, sid, child_encounters, cited)
        apply_actions(
            txn,
            actions,
            ruleset=ruleset,
            routing=routing,
            as_of=as_of,
            now=now,
            id_types=id_types,
            known=_known(d, stype, sid, actions, documents),
        )


def _alert_documents(
    conn: Connection, d: DistrictRead, planned: Planned
) -> dict[str, dict[str, Any]]:
    """The whole current Flags and Tasks the planned actions change (``Type/id`` → resource):
    the district read keeps only their reconciled parts."""
    flag_ids = sorted({a.alert_id for _key, actions in planned for a in actions if a.alert_id})
    task_ids = sorted(str(d.tasks[f]["id"]) for f in flag_ids if f in d.tasks)
    out: dict[str, dict[str, Any]] = {}
    for rtype, ids in (("Flag", flag_ids), ("Task", task_ids)):
        if ids:
            for doc in dbf.documents(conn, rtype, res_ids=ids):
                out[f"{rtype}/{doc['id']}"] = doc
    return out


def _encounter_docs(d: DistrictRead, children: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The Encounter fields :func:`child_routing` reads, as resources, per child."""
    out: dict[str, list[dict[str, Any]]] = {}
    enc = d.encounters.loc[d.encounters["child_id"].isin(children)]
    for rid, cid, fields in enc.itertuples(index=False):
        doc: dict[str, Any] = {"id": rid}
        if isinstance(fields, str):
            doc.update(orjson.loads(fields))
        elif isinstance(fields, dict):
            doc.update(fields)
        out.setdefault(str(cid), []).append(doc)
    return out


def _routing(
    d: DistrictRead,
    stype: SubjectType,
    sid: str,
    encounters: dict[str, list[dict[str, Any]]],
    cited: dict[str, dict[str, str]],
) -> tuple[Routing, dict[str, str]]:
    if stype is SubjectType.CENTRE:
        return Routing(d.managers.get(sid, f"Organization/{sid}"), None), {}
    info = d.patients[sid]
    manager = None
    if info.centre_id:
        manager = d.managers.get(info.centre_id, f"Organization/{info.centre_id}")
    return child_routing(info, encounters.get(sid, []), manager), cited.get(sid, {})


def _cited_types(evidence: pd.DataFrame, children: set[str]) -> dict[str, dict[str, str]]:
    """Per child of ``children``, the type of each resource its findings may cite (res_id →
    res_type), in one pass over the evidence frame: a pandas group lookup per subject
    (``groups``, ``get_group``) was a quarter of a district's alert writes (7 s of 27 s for
    15,000 actions at 10,000 children on PostgreSQL, py-spy)."""
    out: dict[str, dict[str, str]] = {}
    rows = evidence[evidence["child_id"].isin(children)]
    ids = rows["res_id"].astype(str).tolist()  # lists: iterating Arrow arrays is slow
    for cid, rid, rtype in zip(
        rows["child_id"].tolist(), ids, rows["res_type"].tolist(), strict=True
    ):
        out.setdefault(cid, {})[rid] = rtype
    return out


def _known(
    d: DistrictRead,
    stype: SubjectType,
    sid: str,
    actions: tuple[AlertAction, ...],
    documents: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The subject's whole Flags and Tasks (read in bulk by :func:`_alert_documents`) that
    these actions touch."""
    out: dict[str, dict[str, Any]] = {}
    wanted = {a.alert_id for a in actions if a.alert_id}
    ref = f"{'Organization' if stype is SubjectType.CENTRE else 'Patient'}/{sid}"
    for flag in d.flags.get(ref, []):
        whole = documents.get(f"Flag/{flag['id']}")
        if flag["id"] in wanted and whole is not None:
            out[f"Flag/{flag['id']}"] = whole
    for fid in wanted:
        task = d.tasks.get(str(fid))
        whole = documents.get(f"Task/{task['id']}") if task is not None else None
        if whole is not None:
            out[f"Task/{whole['id']}"] = whole
    return out
