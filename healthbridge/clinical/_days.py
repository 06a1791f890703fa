"""Day-number arrays for the vectorised rules: dates as int64 days from 1970-01-01.

A column of dates becomes :func:`day_numbers` (``MISSING`` where empty); ages are added with
:func:`add` (calendar months with end-of-month clamping, as ``ages.add_age``) or
:func:`add_by_birth` (computed once per distinct date: a district shares a few thousand birth
dates).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical.ages import Age, add_age_days

Days = npt.NDArray[np.int64]

#: "no date" in day-number arrays (far outside any calendar date, never added to)
MISSING = np.int64(-(1 << 40))
#: "no limit" (an age limit that does not exist; padding after the last live-dose date)
NEVER = np.int64(1 << 40)


def day_numbers(column: pd.Series | npt.NDArray[np.datetime64]) -> Days:
    """Day numbers of a date column (``MISSING`` for empty values)."""
    values = np.asarray(pd.to_datetime(column), dtype="datetime64[ns]")
    missing = np.isnat(values)
    out = values.astype("datetime64[D]").astype(np.int64)
    out[missing] = MISSING
    return out


def add(days: Days, age: Age) -> Days:
    """:func:`~healthbridge.clinical.ages.add_age_days` keeping ``MISSING`` entries missing."""
    has = days != MISSING
    if has.all():
        return add_age_days(days, age)
    out = add_age_days(np.where(has, days, 0), age)
    return np.where(has, out, MISSING)


def add_by_birth(birth: Days, age: Age) -> Days:
    """:func:`add` computed once per distinct date of ``birth``."""
    unique, inverse = np.unique(birth, return_inverse=True)
    return add(unique, age)[np.asarray(inverse).reshape(-1)]
