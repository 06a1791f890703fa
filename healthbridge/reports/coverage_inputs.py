"""What the coverage figures read, and the pieces every figure family is built from.

:class:`CoverageInputs` (the tables and their column contract), the checkup schedule
(``data/checkup_schedule.json``, 基本公卫规范第三版 2017), the admission-check states (DOMAIN.md
§1.4), and the shared helpers: :class:`_Family` (figures sharing one unit list as boolean
matrices units × figures), column checks, dates, calendar-month addition and each child's
centre/district on the report date. The figures themselves are in
:mod:`healthbridge.reports.coverage_families` (rules: :mod:`healthbridge.reports.coverage`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.reports.errors import ReportInputError

BoolMatrix = npt.NDArray[np.bool_]

#: Admission-check states (DOMAIN.md §1.4 suggested system states).
ADMISSION_STATES: frozenset[str] = frozenset(
    {
        "not_submitted",
        "submitted",
        "assessed_complete",
        "assessed_incomplete",
        "catchup_in_progress",
        "catchup_recorded",
        "rechecked",
    }
)
_CHECKED = frozenset(ADMISSION_STATES - {"not_submitted", "submitted"})
_NEEDS_CATCHUP = frozenset(
    {"assessed_incomplete", "catchup_in_progress", "catchup_recorded", "rechecked"}
)
_CATCHUP_DONE_STATES = frozenset({"catchup_recorded", "rechecked"})
#: Values of the separate ``catchup_status`` column that mean the catch-up is done.
CATCHUP_DONE: frozenset[str] = frozenset({"recorded", "rechecked"})


@dataclass(frozen=True)
class Visit:
    """One scheduled checkup."""

    code: str
    due_months: int
    systematic_year: int | None
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class CheckupSchedule:
    """The checkup schedule and the management-rate parameters (a data file)."""

    version: str
    source: str
    visits: tuple[Visit, ...]
    systematic_max_age_months: int
    health_max_age_months: int
    health_excluded_codes: frozenset[str]


@cache
def load_checkup_schedule() -> CheckupSchedule:
    """Read and cache ``data/checkup_schedule.json``."""
    raw = json.loads(
        resources.files("healthbridge.reports")
        .joinpath("data/checkup_schedule.json")
        .read_text(encoding="utf-8")
    )
    visits = tuple(
        Visit(v["code"], int(v["due_months"]), v["systematic_year"], v["label_zh"], v["label_en"])
        for v in raw["visits"]
    )
    return CheckupSchedule(
        version=raw["version"],
        source=raw["source"],
        visits=visits,
        systematic_max_age_months=int(raw["systematic_management"]["max_age_months"]),
        health_max_age_months=int(raw["health_management"]["max_age_months"]),
        health_excluded_codes=frozenset(raw["health_management"]["excluded_visit_codes"]),
    )


def _empty(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


@dataclass(frozen=True)
class CoverageInputs:
    """The tables a coverage report reads. Column names are the contract.

    * ``children``: ``child_id``, ``birth_date``; optional ``sex``, ``centre``, ``district``,
      ``enrolled_on``, ``left_on``.
    * ``checkups``: ``child_id``, ``date``, ``visit_code`` (CodeSystem ``checkup-visit``).
    * ``vaccinations``: ``child_id``, ``vaccine``, ``dose`` (1-based), ``date``.
    * ``required_doses``: ``vaccine``, ``dose``, ``due_age_days``.
    * ``admission_checks``: ``child_id``, ``centre``, ``entry_date``, ``status`` (one of
      :data:`ADMISSION_STATES`); optional ``catchup_status``.
    * ``centres``: ``centre``; optional ``district``, ``places``, ``filed`` (bool, default
      true).
    * ``agreements``: ``centre``, ``hospital``, ``signed_on``; optional ``ends_on``.
    * ``cases``: managed cases, ``child_id``, ``start``; optional ``end``, ``outcome``.
    * ``frail``: children identified as frail, ``child_id``, ``date``.
    * ``population``: resident population of the area, or None when not configured.
    * ``screenings``: ``child_id``, ``date``, ``screening``; ``screening_ages``: ``screening``,
      ``from_days``, ``to_days`` (:mod:`healthbridge.reports.screening_coverage`).
    """

    children: pd.DataFrame
    checkups: pd.DataFrame = field(default_factory=lambda: _empty("child_id", "date", "visit_code"))
    vaccinations: pd.DataFrame = field(
        default_factory=lambda: _empty("child_id", "vaccine", "dose", "date")
    )
    required_doses: pd.DataFrame = field(
        default_factory=lambda: _empty("vaccine", "dose", "due_age_days")
    )
    admission_checks: pd.DataFrame = field(
        default_factory=lambda: _empty("child_id", "centre", "entry_date", "status")
    )
    centres: pd.DataFrame = field(default_factory=lambda: _empty("centre"))
    agreements: pd.DataFrame = field(
        default_factory=lambda: _empty("centre", "hospital", "signed_on")
    )
    population: int | None = None
    cases: pd.DataFrame = field(default_factory=lambda: _empty("child_id", "start"))
    frail: pd.DataFrame = field(default_factory=lambda: _empty("child_id", "date"))
    #: screening results (``screening``: a ``child-screening`` code, ``haemoglobin``, or
    #: ``warning-positive``) and each screening's age range in days
    #: (:mod:`healthbridge.reports.screening_coverage`)
    screenings: pd.DataFrame = field(
        default_factory=lambda: _empty("child_id", "date", "screening")
    )
    screening_ages: pd.DataFrame = field(
        default_factory=lambda: _empty("screening", "from_days", "to_days")
    )


@dataclass(frozen=True)
class _Family:
    """Figures sharing one unit list: boolean matrices units × figures."""

    unit: str
    ids: npt.NDArray[np.object_]
    groups: pd.DataFrame
    codes: tuple[str, ...]
    labels_zh: tuple[str, ...]
    labels_en: tuple[str, ...]
    denominator: BoolMatrix
    numerator: BoolMatrix


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportInputError(f"{name}: missing column(s): {', '.join(missing)}")


def _days(values: pd.Series) -> npt.NDArray[np.datetime64]:
    """Dates as numpy ``datetime64[D]`` (NaT for missing)."""
    converted = pd.to_datetime(values, errors="coerce")
    return np.asarray(converted.to_numpy(dtype="datetime64[D]"))


def add_months(dates: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.datetime64]:
    """Calendar-month addition with end-of-month clamping (31 Jan + 1 m = 28/29 Feb)."""
    month_start = dates.astype("datetime64[M]")
    day = (dates - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.timedelta64(months, "M")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    result: npt.NDArray[np.datetime64] = target.astype("datetime64[D]") + np.minimum(
        day, length - 1
    ).astype("timedelta64[D]")
    return result


def _child_groups(children: pd.DataFrame, as_of: np.datetime64) -> pd.DataFrame:
    groups = pd.DataFrame(index=children.index)
    centre = (
        children["centre"].astype("string")
        if "centre" in children.columns
        else pd.Series(pd.NA, index=children.index, dtype="string")
    )
    enrolled = np.ones(len(children), dtype=bool)
    if "enrolled_on" in children.columns:
        start = _days(children["enrolled_on"])
        enrolled &= ~np.isnat(start) & (start <= as_of)
    if "left_on" in children.columns:
        end = _days(children["left_on"])
        enrolled &= np.isnat(end) | (end > as_of)
    not_enrolled: npt.NDArray[np.bool_] = ~enrolled
    groups["centre"] = centre.mask(not_enrolled)
    groups["district"] = (
        children["district"].astype("string")
        if "district" in children.columns
        else pd.Series(pd.NA, index=children.index, dtype="string")
    )
    return groups.reset_index(drop=True)


def _pair_matrix(
    rows: pd.Index, cols: pd.Index, row_keys: pd.Series, col_keys: pd.Index | pd.Series
) -> BoolMatrix:
    """Boolean matrix rows × cols, True where (row_key, col_key) pairs occur."""
    out = np.zeros((len(rows), len(cols)), dtype=bool)
    r = rows.get_indexer(pd.Index(row_keys))
    c = cols.get_indexer(col_keys if isinstance(col_keys, pd.Index) else pd.Index(col_keys))
    ok = (r >= 0) & (c >= 0)
    out[r[ok], c[ok]] = True
    return out
