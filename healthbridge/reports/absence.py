"""Sick absence by cause and class for the district (因病缺勤, issue 16 item 3).

Input: one row per sick child-day and cause (``centre``, ``class_id``, ``child``, ``day``,
``cause``), ``cause`` being the syndrome of the symptoms the family reported (``fever``,
``respiratory``, ``gastrointestinal``, ``rash``, …, or ``unspecified``), computed by the
caller from the daily-check rule table. Output: per centre and class, the distinct children
absent sick (``n``), the sick child-days (``cases``) and the distinct children per cause.

Small cells (:mod:`healthbridge.reports.suppression`): a class row with 1–2 sick children
loses all its counts (``suppressed``); in the other rows, a cause count of 1–2 is shown as
"<3" too (``small`` lists those causes), so no figure names one or two children.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from healthbridge.reports.suppression import SMALL_CELL_MAX, suppress_small_cells

COLUMNS = ("centre", "class_id", "child", "day", "cause")


def sick_absence_table(records: pd.DataFrame, causes: Sequence[str]) -> pd.DataFrame:
    """Per (centre, class_id): ``n``, ``cases``, one count column per cause (``causes`` in
    order, plus any other cause seen), ``suppressed`` and ``small`` (causes shown as <3)."""
    seen = list(causes) + sorted(set(records["cause"]) - set(causes)) if len(records) else []
    keys = ["centre", "class_id"]
    if records.empty:
        empty = pd.DataFrame(columns=[*keys, "n", "cases", *seen])
        return empty.assign(suppressed=pd.Series(dtype=bool), small=pd.Series(dtype=object))
    days = records.drop_duplicates([*keys, "child", "day"])  # a child-day with two causes
    out = days.groupby(keys, sort=True).agg(n=("child", "nunique"), cases=("day", "size"))
    out = out.reset_index()
    by_cause = records.groupby([*keys, "cause"])["child"].nunique().unstack("cause", fill_value=0)
    by_cause = by_cause.reindex(columns=seen, fill_value=0).reset_index()
    out = out.merge(by_cause, on=keys, how="left")
    out = suppress_small_cells(out, size="n", counts=["n", "cases", *seen], derived=[])
    out["small"] = [
        tuple(c for c in seen if not row.suppressed and 1 <= int(row[c]) <= SMALL_CELL_MAX)
        for _, row in out.iterrows()
    ]
    return out
