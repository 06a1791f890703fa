"""Managed cases of the district for the coverage figures ``managed-frail`` (体弱儿管理率) and
``case-closure`` (结案率) (:mod:`healthbridge.reports.coverage`).

Read set-based like :mod:`healthbridge.district.gather`: the EpisodeOfCare documents (few:
one per managed case) and four fields of every Flag. A child counts as *identified as frail*
on the day an alert of a managed-case condition was raised (``Flag.period.start``):
underweight, stunting, wasting, obesity or anaemia of moderate or high severity (the
conditions of the ``managed-cases`` rule table; mild grades are not managed as cases), even if
the alert has since been resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import pandas as pd
from sqlalchemy import Connection

from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.store.repository import Repository

FRAIL_KINDS: Final = frozenset({"underweight", "stunting", "wasting", "obesity", "anaemia"})
FRAIL_SEVERITIES: Final = frozenset({"moderate", "high"})


def _json(value: Any) -> Any:
    import orjson

    return orjson.loads(value) if isinstance(value, str | bytes) else value


#: The columns of the managed cases and the frail identifications.
CASE_COLUMNS: Final = ["child_id", "start", "end", "outcome", "condition"]
FRAIL_COLUMNS: Final = ["child_id", "date"]
#: The fields of a Flag read for :func:`frail_rows`.
FLAG_FIELDS: Final = {
    "code": "$.code.coding[0].code",
    "severity": "$.extension[0].valueCode",
    "subject": "$.subject",
    "start": "$.period.start",
}


def case_rows(conn: Connection, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """``key`` (``EpisodeOfCare/<id>``, the row's source) and :data:`CASE_COLUMNS` of every
    current EpisodeOfCare (``ids``: those only), in ``key`` order: each row comes from one
    resource, so an incremental refresh replaces the rows of the resources it re-reads
    (:mod:`healthbridge.district.coverage_inputs`)."""
    rows = []
    for ep in dbf.documents(conn, "EpisodeOfCare", res_ids=ids):
        rid = ep["id"]
        cid = x.subject_id(ep)
        if cid is None:
            continue
        for case in x.managed_cases([ep], []):
            rows.append((f"EpisodeOfCare/{rid}", cid, case.start, case.end, case.outcome,
                         case.condition))  # fmt: skip
    return _in_key_order(pd.DataFrame(rows, columns=["key", *CASE_COLUMNS], dtype=object))


def frail_rows(conn: Connection, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """``key`` (``Flag/<id>``) and :data:`FRAIL_COLUMNS` of every current Flag of a managed
    condition (``ids``: of those only), in ``key`` order (as :func:`case_rows`)."""
    flags = dbf.fields(conn, "Flag", FLAG_FIELDS, res_ids=ids)
    rows = []
    for rid, code, severity, subject, start in zip(
        flags["res_id"], flags["code"], flags["severity"], flags["subject"], flags["start"],
        strict=True,
    ):  # fmt: skip
        if code not in FRAIL_KINDS or severity not in FRAIL_SEVERITIES:
            continue
        cid = x.ref_id(_json(subject), "Patient")
        on = x.local_date(start if isinstance(start, str) else None)
        if cid is not None and on is not None:
            rows.append((f"Flag/{rid}", cid, on))
    return _in_key_order(pd.DataFrame(rows, columns=["key", *FRAIL_COLUMNS], dtype=object))


def _in_key_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by ``key`` (stable: a resource's rows keep their order). Every column is
    ``object`` however many rows there are, so frames spliced together by a refresh have
    the dtypes of a full read."""
    return frame.sort_values("key", kind="stable", ignore_index=True)


def case_frames(repository: Repository) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``cases`` (``child_id``, ``start``, ``end``, ``outcome``, ``condition``) and ``frail``
    (``child_id``, ``date``) for :class:`healthbridge.reports.coverage.CoverageInputs`: one
    full read (the server keeps them up to date incrementally instead:
    :mod:`healthbridge.district.coverage_inputs`)."""
    with repository.engine.connect() as conn:
        cases, frail = case_rows(conn), frail_rows(conn)
    return cases.drop(columns="key"), frail.drop(columns="key")
