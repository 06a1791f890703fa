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

from typing import Any, Final

import pandas as pd

from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.store.repository import Repository

FRAIL_KINDS: Final = frozenset({"underweight", "stunting", "wasting", "obesity", "anaemia"})
FRAIL_SEVERITIES: Final = frozenset({"moderate", "high"})


def _json(value: Any) -> Any:
    import orjson

    return orjson.loads(value) if isinstance(value, str | bytes) else value


def case_frames(repository: Repository) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``cases`` (``child_id``, ``start``, ``end``, ``outcome``, ``condition``) and ``frail``
    (``child_id``, ``date``) for :class:`healthbridge.reports.coverage.CoverageInputs`."""
    with repository.engine.connect() as conn:
        episodes = dbf.parse(dbf.fields(conn, "EpisodeOfCare", {"doc": "$"})["doc"].tolist())
        flags = dbf.fields(
            conn,
            "Flag",
            {
                "code": "$.code.coding[0].code",
                "severity": "$.extension[0].valueCode",
                "subject": "$.subject",
                "start": "$.period.start",
            },
        )
    rows = []
    for ep in episodes:
        cid = x.subject_id(ep)
        if cid is None:
            continue
        for case in x.managed_cases([ep], []):
            rows.append((cid, case.start, case.end, case.outcome, case.condition))
    cases = pd.DataFrame(rows, columns=["child_id", "start", "end", "outcome", "condition"])
    frail_rows = []
    for code, severity, subject, start in zip(
        flags["code"], flags["severity"], flags["subject"], flags["start"], strict=True
    ):
        if code not in FRAIL_KINDS or severity not in FRAIL_SEVERITIES:
            continue
        cid = x.ref_id(_json(subject), "Patient")
        on = x.local_date(start if isinstance(start, str) else None)
        if cid is not None and on is not None:
            frail_rows.append((cid, on))
    frail = pd.DataFrame(frail_rows, columns=["child_id", "date"])
    return cases, frail
