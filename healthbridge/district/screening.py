"""Screening results of the district for the coverage figures ``screening:<code>``
(:mod:`healthbridge.reports.screening_coverage`).

Read set-based like :mod:`healthbridge.district.cases`: the screening Observations (coded in
``child-screening``) and the haemoglobin Observations (LOINC 718-7) found through the ``code``
token index, and the warning-sign QuestionnaireResponses, each turned into rule inputs by the
pipeline's extractors (one reading of each fact). The age range of each screening comes from
the ``screening-schedule`` rule table: from its first scheduled age to one year past its last.
"""

from __future__ import annotations

import pandas as pd

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


def screening_frames(repository: Repository, ruleset: RuleSet) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``screenings`` (``child_id``, ``date``, ``screening``) and ``screening_ages`` for
    :class:`healthbridge.reports.coverage.CoverageInputs`."""
    rows: list[tuple[str, object, str]] = []
    with repository.engine.connect() as conn:
        for obs in ps.coded_observations(conn, t.CS_CHILD_SCREENING):
            cid, r = x.subject_id(obs), ps.screening_result(obs)
            if cid is not None and r is not None:
                rows.append((cid, r.on, r.screening))
        for obs in ps.coded_observations(conn, t.LOINC, t.LOINC_HAEMOGLOBIN):
            cid = x.subject_id(obs)
            if cid is not None:
                rows += [(cid, h.on, "haemoglobin") for h in x.haemoglobin([obs])]
        responses = dbf.parse(
            dbf.fields(conn, "QuestionnaireResponse", {"doc": "$"})["doc"].tolist()
        )
    for qr in responses:
        cid = x.subject_id(qr)
        if cid is None:
            continue
        for s in x.screenings([qr]):
            if s.positive_items or s.regression:
                rows.append((cid, s.on, WARNING_POSITIVE))
    frame = pd.DataFrame(rows, columns=["child_id", "date", "screening"])
    return frame, screening_ages(ruleset)
