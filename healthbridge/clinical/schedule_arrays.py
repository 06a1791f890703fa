"""The shared arrays of the vectorised schedule rules (:mod:`healthbridge.clinical.schedule_batch`).

The children frame as numpy arrays of day numbers (:class:`Children`: birth dates, sex,
altitude, a child's date at an age once per distinct birth date), the dose-status codes, and
the findings frame collected column-wise (:class:`FindingRows`), shared by the vaccination,
checkup and care rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical._days import MISSING, Days, add, day_numbers
from healthbridge.clinical.ages import Age
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.frames import FINDING_COLUMNS, findings_to_frame
from healthbridge.clinical.vaccination import (
    DoseStatus,
)
from healthbridge.clinical.vocab import AlertKind, Sex

Mask = npt.NDArray[np.bool_]

OFFSET = np.int64(1 << 31)

STATUSES = (
    DoseStatus.GIVEN,
    DoseStatus.DUE,
    DoseStatus.OVERDUE,
    DoseStatus.NOT_YET_DUE,
    DoseStatus.NOT_APPLICABLE,
)
STATUS_CODE = {s: np.int8(i) for i, s in enumerate(STATUSES)}


# --------------------------------------------------------------------------- common


@dataclass(frozen=True, eq=False)
class Children:
    """The children frame as arrays; record frames are located by ``child_id``."""

    ids: list[str]
    index: pd.Index
    birth: Days
    sex: npt.NDArray[np.object_]
    discharge: Days
    #: the distinct birth dates, and each child's position among them
    birth_dates: Days
    birth_index: npt.NDArray[np.intp]
    #: metres above sea level (NaN: unknown)
    altitude: npt.NDArray[np.float64]

    @property
    def n(self) -> int:
        return len(self.ids)

    def at_age(self, age: Age) -> Days:
        """Each child's date at ``age`` (``ages.add_age`` once per distinct birth date)."""
        return add(self.birth_dates, age)[self.birth_index]

    def locate(self, column: pd.Series) -> npt.NDArray[np.int64]:
        """Row position of each record's child in the children frame (-1: not a child)."""
        return np.asarray(self.index.get_indexer(pd.Index(column.astype(str))), dtype=np.int64)


def children_arrays(children: pd.DataFrame) -> Children | None:
    """Arrays of the children frame, or ``None`` when child ids repeat (the per-child path
    then evaluates each row on its own, as before)."""
    ids = children["child_id"].astype(str)
    index = pd.Index(ids)
    if not index.is_unique:
        return None
    sexes = children["sex"].astype(str).to_numpy(dtype=object)
    for value in set(sexes):
        Sex(value)  # the per-child path rejects an unknown sex the same way
    if "discharge_date" in children.columns:
        discharge = day_numbers(children["discharge_date"])
    else:
        discharge = np.full(len(ids), MISSING, dtype=np.int64)
    birth = day_numbers(children["birth_date"])
    unique, inverse = np.unique(birth, return_inverse=True)
    if "altitude_m" in children.columns:
        altitude = pd.to_numeric(children["altitude_m"], errors="coerce").to_numpy(dtype=float)
    else:
        altitude = np.full(len(ids), np.nan)
    return Children(
        ids.tolist(),
        index,
        birth,
        sexes,
        discharge,
        unique,
        np.asarray(inverse, dtype=np.intp).reshape(-1),
        altitude,
    )


def as_dates(days: Days) -> list[date]:
    """``datetime.date`` objects of day numbers."""
    out: list[date] = days.astype("datetime64[D]").astype(object).tolist()
    return out


def ranks(sorted_keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0, 1, 2… within each run of equal keys of a sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    lengths = np.diff(np.r_[starts, len(sorted_keys)])
    ranks: npt.NDArray[np.int64] = np.arange(len(sorted_keys)) - np.repeat(starts, lengths)
    return ranks


def text_codes(values: npt.NDArray[np.object_]) -> npt.NDArray[np.str_]:
    """Strings as a fixed-width array for sorting (code-point order, as Python sorts str;
    several times faster in ``np.lexsort`` than Python objects)."""
    return np.asarray(values, dtype=str)


class FindingRows:
    """Findings frame rows collected column-wise (child subjects)."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in FINDING_COLUMNS}

    def add(self, f: Finding) -> None:
        self.add_values(
            f.subject,
            f.kind,
            f.severity.value,
            f.grade,
            f.evidence_ids,
            f.items,
            f.detail,
            f.rule_id,
            f.rule_version,
            f.observed_on,
            f.subject_type.value,
        )

    def add_values(
        self,
        subject: str,
        kind: AlertKind,
        severity: str,
        grade: str,
        evidence: tuple[str, ...],
        items: tuple[str, ...],
        detail: str,
        rule_id: str,
        rule_version: str,
        observed_on: date | None,
        subject_type: str = "child",
    ) -> None:
        c = self.columns
        c["subject"].append(subject)
        c["subject_type"].append(subject_type)
        c["kind"].append(kind.value)
        c["severity"].append(severity)
        c["grade"].append(grade)
        c["evidence_ids"].append(evidence)
        c["items"].append(items)
        c["detail"].append(detail)
        c["rule_id"].append(rule_id)
        c["rule_version"].append(rule_version)
        c["observed_on"].append(observed_on)

    def extend(
        self,
        subjects: list[str],
        kind: AlertKind,
        severity: str,
        evidence: list[tuple[str, ...]],
        items: list[tuple[str, ...]],
        details: list[str],
        rule_id: str,
        rule_version: str,
        observed_on: list[date],
    ) -> None:
        """Many child findings of one kind (grade empty)."""
        n = len(subjects)
        c = self.columns
        c["subject"] += subjects
        c["subject_type"] += ["child"] * n
        c["kind"] += [kind.value] * n
        c["severity"] += [severity] * n
        c["grade"] += [""] * n
        c["evidence_ids"] += evidence
        c["items"] += items
        c["detail"] += details
        c["rule_id"] += [rule_id] * n
        c["rule_version"] += [rule_version] * n
        c["observed_on"] += observed_on

    def frame(self) -> pd.DataFrame:
        if not self.columns["subject"]:
            return findings_to_frame(())
        return pd.DataFrame(self.columns, columns=list(FINDING_COLUMNS))


# --------------------------------------------------------------------------- vaccination
