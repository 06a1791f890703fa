"""Small-cell suppression of aggregate report tables.

A figure about one or two children identifies them (e.g. "centre X, girls 0–5 months: n = 1,
stunted 100 %"); health statistics publishers suppress such cells (WHO/UNICEF and national
statistics offices use thresholds of 3–10; the UK ONS and US CDC guidance rounds or suppresses
counts below 3–5 — the threshold here is the issue's ``n ≤ 2``, unconfirmed against a Chinese
rule, see docs/reports.md). A row whose group holds 1–2 children (``n``/``denominator``) keeps
its labels but loses its counts and every figure computed from them (rate, mean, SD, SE,
confidence interval), and is marked ``suppressed``. Empty groups (0) reveal nobody and stay.

Not done: complementary suppression (a suppressed centre's counts can still be derived from
the district total minus the other centres).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pandas as pd

#: Groups of at most this many children are suppressed.
SMALL_CELL_MAX: Final = 2
#: What a suppressed count is written as in CSV files and on pages.
SUPPRESSED_TEXT: Final = "<3"
#: Count columns of the report tables (the ones written as ``<3`` when suppressed).
COUNT_COLUMNS: Final = ("n", "cases", "numerator", "denominator")


def suppress_small_cells(
    frame: pd.DataFrame,
    *,
    size: str,
    counts: Sequence[str],
    derived: Sequence[str],
    applies: pd.Series | None = None,
) -> pd.DataFrame:
    """``frame`` with the rows whose ``size`` column is 1..:data:`SMALL_CELL_MAX` suppressed:
    ``counts`` become missing (nullable integers), ``derived`` NaN; a boolean ``suppressed``
    column is added. ``applies`` (aligned boolean Series) limits which rows count children."""
    out = frame.copy()
    if out.empty or size not in out.columns:
        out["suppressed"] = pd.Series(False, index=out.index, dtype=bool)
        return out
    group = pd.to_numeric(out[size], errors="coerce")
    small = ((group >= 1) & (group <= SMALL_CELL_MAX)).fillna(False).astype(bool)
    if applies is not None:
        small &= applies.fillna(False).astype(bool)
    for column in counts:
        if column in out.columns:
            out[column] = out[column].astype("Int64").mask(small)
    for column in derived:
        if column in out.columns:
            out[column] = out[column].mask(small)
    out["suppressed"] = small
    return out


def suppressed_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the suppressed rows' counts written :data:`SUPPRESSED_TEXT`."""
    if "suppressed" not in frame.columns or not frame["suppressed"].any():
        return frame
    out = frame.copy()
    mask = out["suppressed"].astype(bool)
    for column in COUNT_COLUMNS:
        if column in out.columns:
            out[column] = out[column].astype("object").where(~mask, SUPPRESSED_TEXT)
    return out
