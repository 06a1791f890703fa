"""Screening-result Observations (profile ``hb-screening-result``) → the
:class:`~healthbridge.clinical.screening_schedule.ScreeningResult` rule inputs, and their
whole-district read for ``healthbridge evaluate``.

Both evaluation paths use :func:`screening_results`: the write path on one child's
Observations (:func:`healthbridge.pipeline.engine.build_record`), the batch path on the
screening Observations found through the ``code`` token index (:func:`district_frame`) or on
their rows of the typed rule-input table (:func:`table_frame`), so they give the same
findings by construction. An Observation counts when it is coded in
``child-screening``, names a child, has a date and is not void.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import Connection, text

from healthbridge import terminology as t
from healthbridge.clinical.records import screening_results_frame
from healthbridge.clinical.screening_schedule import ScreeningResult
from healthbridge.clinical.tables_screening import SCREENING_CODES
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.store import rule_inputs as ri

Resource = x.Resource


def _code(concept: Any, system: str) -> str | None:
    for c in concept.get("coding", ()) if isinstance(concept, dict) else ():
        if isinstance(c, dict) and c.get("system") == system and isinstance(c.get("code"), str):
            return str(c["code"])
    return None


def screening_code(resource: Resource) -> str | None:
    """The ``child-screening`` code of an Observation (None: not a screening result)."""
    code = _code(resource.get("code"), t.CS_CHILD_SCREENING)
    return code if code in SCREENING_CODES else None


def _number(component: Mapping[str, Any]) -> float | None:
    q = component.get("valueQuantity")
    value = q.get("value") if isinstance(q, dict) else component.get("valueInteger")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def screening_result(resource: Resource) -> ScreeningResult | None:
    """One screening Observation as a rule input (None when it is not one, is void or has no
    date)."""
    code = screening_code(resource)
    on = x.effective_date(resource) if code is not None else None
    if code is None or on is None or x.is_void(resource):
        return None
    result = _code(resource.get("valueCodeableConcept"), t.CS_SCREENING_RESULT)
    parts: dict[str, Mapping[str, Any]] = {}
    for comp in resource.get("component") or ():
        name = _code(comp.get("code"), t.CS_SCREENING_COMPONENT) if isinstance(comp, dict) else None
        if name is not None:
            parts[name] = comp

    def number(name: str) -> float | None:
        return _number(parts[name]) if name in parts else None

    def whole(name: str) -> int | None:
        value = number(name)
        return None if value is None else int(value)

    varnish = parts.get("fluoride-varnish", {}).get("valueBoolean")
    instrument = parts.get("instrument", {}).get("valueCodeableConcept")
    return ScreeningResult(
        result_id=str(resource["id"]),
        on=on,
        screening=code,
        refer=None if result not in ("pass", "refer") else result == "refer",
        acuity_left=number("visual-acuity-left"),
        acuity_right=number("visual-acuity-right"),
        caries=whole("caries"),
        teeth=whole("teeth"),
        fluoride_varnish=varnish if isinstance(varnish, bool) else None,
        instrument=_code(instrument, t.CS_DEVELOPMENTAL_INSTRUMENT),
        score=number("score"),
        dq=number("dq"),
    )


def screening_results(observations: Iterable[Resource]) -> list[ScreeningResult]:
    """A child's screening results, by date."""
    out = [r for obs in observations if (r := screening_result(obs)) is not None]
    out.sort(key=lambda r: (r.on, r.result_id))
    return out


def coded_ids(conn: Connection, system: str, code: str | None = None) -> list[str]:
    """Ids of the Observations coded in ``system`` (``code``: that code only), through the
    ``code`` token index: an indexed lookup, not a scan of every Observation. Deleted
    resources keep no index rows; callers read the documents by id."""
    sql = (
        "SELECT DISTINCT res_id FROM idx_token WHERE res_type = 'Observation' "
        "AND param = 'code' AND system = :system"
    )
    params = {"system": system}
    if code is not None:
        sql += " AND code = :code"
        params["code"] = code
    return sorted(str(r[0]) for r in conn.execute(text(sql), params).all())


def coded_observations(conn: Connection, system: str, code: str | None = None) -> list[Resource]:
    """The current Observations :func:`coded_ids` finds, read whole."""
    ids = coded_ids(conn, system, code)
    if not ids:
        return []
    return dbf.documents(conn, "Observation", res_ids=ids)


def table_frame(conn: Connection, known: set[str], among: list[str] | None = None) -> pd.DataFrame:
    """:func:`district_frame` from the typed rule-input table (current: the caller checks):
    each screening result's row holds its id, child, status, date and the elements
    :func:`screening_result` reads (:data:`healthbridge.store.rule_inputs.SCREENING_ELEMENTS`,
    an object in ``extra``; a symptom row's ``extra`` is an array), so the same reading runs
    on that partial resource and no document is read whole; ``among``: only those
    Observation ids (an outbox worker's children)."""
    by_child: defaultdict[str, list[Resource]] = defaultdict(list)
    loads = orjson.loads
    for rid, cid, status, day, extra in ri.scan(
        conn,
        "Observation",
        "res_id, child_id, status, day, extra",
        " AND child_id IS NOT NULL AND extra IS NOT NULL",
        res_ids=among,
    ):
        if cid in known and extra.startswith("{"):
            doc = {**loads(extra), "id": rid, "status": status, "effectiveDateTime": day}
            by_child[cid].append(doc)
    rows = [(cid, r) for cid in sorted(by_child) for r in screening_results(by_child[cid])]
    return screening_results_frame(rows)


def district_frame(conn: Connection, known: set[str]) -> pd.DataFrame:
    """The ``screening_results`` frame of the known children, the documents read whole and
    turned into results by :func:`screening_results` (evidence cites them as Observations):
    the read while the rule-input table is not current (else :func:`table_frame`)."""
    ids = coded_ids(conn, t.CS_CHILD_SCREENING)
    docs = dbf.documents(conn, "Observation", res_ids=ids)  # none for no ids
    if not docs:
        return screening_results_frame(())
    by_child: defaultdict[str, list[Resource]] = defaultdict(list)
    for doc in docs:
        cid = x.subject_id(doc)
        if cid is not None and cid in known:
            by_child[cid].append(doc)
    rows = [(cid, r) for cid in sorted(by_child) for r in screening_results(by_child[cid])]
    return screening_results_frame(rows)
