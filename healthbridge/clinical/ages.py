"""Calendar ages: ``"2m"``, ``"1y6m"``, ``"28d"`` added to dates with end-of-month clamping.

The NIP schedule counts months as calendar months and clamps to the end of the month
(31 January + 1 month = 28/29 February), and "before X months" means up to the day before the
child reaches X months (DOMAIN.md §1.3, engineering notes). Ages in rule tables are written as
``<years>y<months>m<days>d`` with any part optional.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from healthbridge.clinical.errors import RuleTableError

_AGE_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?$")


@dataclass(frozen=True, slots=True)
class Age:
    """A calendar age: whole years and months first (clamped), then days."""

    years: int = 0
    months: int = 0
    days: int = 0

    @property
    def total_months(self) -> int:
        return self.years * 12 + self.months

    def __str__(self) -> str:
        parts = [
            f"{self.years}y" if self.years else "",
            f"{self.months}m" if self.months else "",
            f"{self.days}d" if self.days else "",
        ]
        return "".join(parts) or "0d"

    def approx_days(self) -> float:
        """Length in days using mean calendar lengths (for ordering and vectorised bands)."""
        return self.years * 365.25 + self.months * 30.4375 + self.days


@lru_cache(maxsize=256)
def parse_age(text: str) -> Age:
    """Parse ``"1y6m"``-style text; raises :class:`RuleTableError` on anything else."""
    match = _AGE_RE.match(text.strip())
    if not text.strip() or match is None:
        raise RuleTableError(f"invalid age {text!r}: expected e.g. '28d', '2m', '1y6m'")
    years, months, days = (int(g) if g else 0 for g in match.groups())
    return Age(years, months, days)


def add_months(start: date, months: int) -> date:
    """``start`` plus calendar months, clamped to the last day of the target month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def add_age(start: date, age: Age) -> date:
    """The date on which a child born on ``start`` reaches ``age``."""
    return _add(start, age.years * 12 + age.months, age.days)


@lru_cache(maxsize=1 << 18)
def _add(start: date, months: int, days: int) -> date:
    # cached: a district shares a few thousand birth dates and a few dozen schedule ages
    return add_months(start, months) + timedelta(days=days)


@lru_cache(maxsize=65536)
def age_date(start: date, text: str) -> date:
    """Cached :func:`add_age` for an age written as text (rule tables repeat the same ages)."""
    return add_age(start, parse_age(text))


def age_in_days(birth: date, on: date) -> int:
    """Chronological age in completed days."""
    return (on - birth).days


#: Day numbers (vectorised dates) count days from this date, as ``datetime64[D]`` does.
EPOCH = date(1970, 1, 1)


def day_number(on: date) -> int:
    """Days from :data:`EPOCH` (the integer form of a date in the vectorised rules)."""
    return on.toordinal() - EPOCH.toordinal()


def from_day_number(days: int) -> date:
    """Inverse of :func:`day_number`."""
    return date.fromordinal(int(days) + EPOCH.toordinal())


def add_age_days(days: npt.NDArray[np.int64], age: Age) -> npt.NDArray[np.int64]:
    """Vectorised :func:`add_age` over day numbers (same calendar-month clamping)."""
    months = age.years * 12 + age.months
    out = np.asarray(days, dtype=np.int64)
    if months:
        on = out.astype("datetime64[D]")
        month = on.astype("datetime64[M]")
        day_of_month = (on - month.astype("datetime64[D]")).astype(np.int64)
        target = month + np.timedelta64(months, "M")
        first = target.astype("datetime64[D]").astype(np.int64)
        last = (target + np.timedelta64(1, "M")).astype("datetime64[D]").astype(np.int64) - 1
        out = np.minimum(first + day_of_month, last)
    return out + age.days if age.days else out.copy()
