"""Screening results of the district for the coverage figures ``screening:<code>``
(:mod:`healthbridge.reports.screening_coverage`).

Read set-based like :mod:`healthbridge.district.cases`: the screening Observations (coded in
``child-screening``) and the haemoglobin Observations (LOINC 718-7) found through the ``code``
token index, and the warning-sign QuestionnaireResponses, each turned into rule inputs by the
pipeline's extractors (one reading of each fact). The age range of each screening comes from
the ``screening-schedule`` rule table: from its first scheduled age to one year past its last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import pandas as pd
from sqlalchemy import Connection, bindparam, text

from healthbridge import terminology as t
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.inputs import screening as ps
from healthbridge.reports.screening_coverage import WARNING_POSITIVE
from healthbridge.store.repository import Repository

#: Days in a year when the last scheduled age is extended (WHO anthro convention).
YEAR_DAYS = 365.25


def screening_ages(ruleset: RuleSet) -> pd.DataFrame:
    """``screening``, ``from_days``, ``to_days`` of every scheduled screening."""
    rows = [
        (s.code, s.ages[0][1].approx_days(), s.ages[-1][1].approx_days() + YEAR_DAYS)
        for s in ruleset.screening_schedule.screenings
        if s.ages
    ]
    return pd.DataFrame(rows, columns=["screening", "from_days", "to_days"])


#: The columns of the screening results.
SCREENING_COLUMNS: Final = ["child_id", "date", "screening"]


def _coded_among(conn: Connection, system: str, code: str | None, ids: Sequence[str]) -> list[str]:
    """:func:`healthbridge.inputs.screening.coded_ids` among ``ids`` only (the same ``code``
    token index; :data:`~healthbridge.inputs.dbframes.ID_CHUNK` ids a query)."""
    found: set[str] = set()
    for start in range(0, len(ids), dbf.ID_CHUNK):
        chunk = list(ids[start : start + dbf.ID_CHUNK])
        sql = (
            "SELECT DISTINCT res_id FROM idx_token WHERE res_type = 'Observation'"
            " AND param = 'code' AND system = :system AND res_id IN :ids"
            + (" AND code = :code" if code is not None else "")
        )
        stmt = text(sql).bindparams(bindparam("ids", expanding=True))
        params = {"system": system, "ids": chunk, **({"code": code} if code else {})}
        found.update(str(r[0]) for r in conn.execute(stmt, params).all())
    return sorted(found)


def _observations(
    conn: Connection, system: str, code: str | None, ids: Sequence[str] | None
) -> list[dict[str, Any]]:
    if ids is None:
        return ps.coded_observations(conn, system, code)
    found = _coded_among(conn, system, code, ids)
    if not found:
        return []
    return dbf.documents(conn, "Observation", res_ids=found)


def observation_rows(conn: Connection, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """``key`` (``Observation/<id>``, the row's source) and :data:`SCREENING_COLUMNS` of the
    screening and haemoglobin Observations (``ids``: among those only), in ``key`` order:
    each row comes from one resource, so an incremental refresh replaces the rows of the
    resources it re-reads (:mod:`healthbridge.district.coverage_inputs`)."""
    rows: list[tuple[str, str, object, str]] = []
    for obs in _observations(conn, t.CS_CHILD_SCREENING, None, ids):
        cid, r = x.subject_id(obs), ps.screening_result(obs)
        if cid is not None and r is not None:
            rows.append((f"Observation/{obs['id']}", cid, r.on, r.screening))
    for obs in _observations(conn, t.LOINC, t.LOINC_HAEMOGLOBIN, ids):
        cid = x.subject_id(obs)
        if cid is not None:
            key = f"Observation/{obs['id']}"
            rows += [(key, cid, h.on, "haemoglobin") for h in x.haemoglobin([obs])]
    return _in_key_order(pd.DataFrame(rows, columns=["key", *SCREENING_COLUMNS], dtype=object))


def response_rows(conn: Connection, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """``key`` (``QuestionnaireResponse/<id>``) and :data:`SCREENING_COLUMNS` of the
    warning-sign responses with a positive item or a regression (``ids``: among those
    only), in ``key`` order (as :func:`observation_rows`)."""
    rows: list[tuple[str, str, object, str]] = []
    for qr in dbf.documents(conn, "QuestionnaireResponse", res_ids=ids):
        rid = qr["id"]
        cid = x.subject_id(qr)
        if cid is None:
            continue
        for s in x.screenings([qr]):
            if s.positive_items or s.regression:
                rows.append((f"QuestionnaireResponse/{rid}", cid, s.on, WARNING_POSITIVE))
    return _in_key_order(pd.DataFrame(rows, columns=["key", *SCREENING_COLUMNS], dtype=object))


def _in_key_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by ``key`` (stable: a resource's rows keep their order). Every column is
    ``object`` however many rows there are, so frames spliced together by a refresh have
    the dtypes of a full read."""
    return frame.sort_values("key", kind="stable", ignore_index=True)


def screening_rows(conn: Connection) -> pd.DataFrame:
    """``key`` and :data:`SCREENING_COLUMNS` of every screening result, in ``key`` order."""
    frame = pd.concat([observation_rows(conn), response_rows(conn)], ignore_index=True)
    return _in_key_order(frame)


def screening_frames(repository: Repository, ruleset: RuleSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``screenings`` (``child_id``, ``date``, ``screening``) and ``screening_ages`` for
    :class:`healthbridge.reports.coverage.CoverageInputs`: one full read (the server keeps
    them up to date incrementally instead: :mod:`healthbridge.district.coverage_inputs`)."""
    with repository.engine.connect() as conn:
        frame = screening_rows(conn)
    return frame.drop(columns="key"), screening_ages(ruleset)
