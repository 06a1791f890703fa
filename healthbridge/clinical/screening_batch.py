"""Scheduled-screening findings for a whole district (the batch ``healthbridge evaluate`` path).

Runs :func:`~healthbridge.clinical.screening_schedule.screening_schedule_findings` — the very
function the per-write path runs — child by child, so both paths agree by construction. Every
child can have a due screening, so this is a loop over all children (not the array selection
of :mod:`.schedule_batch`); the age-point windows are cached per birth date and table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pandas as pd

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.anaemia import HbResult
from healthbridge.clinical.frames import as_date, findings_to_frame
from healthbridge.clinical.records import DistrictData, frame_screening_results
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening_schedule import screening_schedule_findings


def _hb_by_child(frame: pd.DataFrame, as_of: date) -> defaultdict[str, list[HbResult]]:
    out: defaultdict[str, list[HbResult]] = defaultdict(list)
    if frame.empty:
        return out
    for cid, oid, on, value in zip(
        frame["child_id"].astype(str),
        frame["observation_id"].astype(str),
        frame["date"],
        frame["hb_g_l"],
        strict=True,
    ):
        day = as_date(on)
        if day <= as_of:
            out[cid].append(HbResult(oid, day, float(value)))
    return out


def district_screening_findings(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame:
    """``screening-due`` / ``-overdue`` / ``-abnormal`` for every child of ``data``."""
    hb = _hb_by_child(data.haemoglobin, as_of)
    results = frame_screening_results(data.screening_results)
    table = ruleset.screening_schedule
    found: list[Finding] = []
    children = data.children
    for cid, born in zip(children["child_id"].astype(str), children["birth_date"], strict=True):
        found += screening_schedule_findings(
            cid, as_date(born), results.get(cid, ()), hb.get(cid, ()), table, as_of
        )
    return findings_to_frame(found)
