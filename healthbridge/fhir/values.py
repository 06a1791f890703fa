"""Search value normalisation shared by indexing and querying.

Dates become closed UTC ranges rendered as fixed-width strings (``YYYY-MM-DDTHH:MM:SS.ffffff``)
so both SQLite and PostgreSQL compare them correctly as text. A partial date stands for its
whole span (FHIR R4 search §3.1.1.4.2.1: "2013-01" means the whole month). Strings are folded to
lower case without accents (the default string match is case- and accent-insensitive, §3.1.1.4.6).
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from healthbridge.errors import BadRequestError

MIN_DATE = "0001-01-01T00:00:00.000000"
MAX_DATE = "9999-12-31T23:59:59.999999"
_FMT = "%Y-%m-%dT%H:%M:%S.%f"
_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _fmt(value: datetime) -> str:
    # the same text as value.strftime(_FMT) zero-padded to 26 characters, without strftime
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def date_range(text: str) -> tuple[str, str]:
    """The closed UTC range ``(low, high)`` covered by a FHIR date/dateTime/instant string.

    Raises :class:`ValueError` if ``text`` is not a FHIR date.
    """
    m = _DATE.match(text.strip())
    if m is None:
        raise ValueError(f"not a FHIR date: {text!r}")
    year = int(m["y"])
    if m["m"] is None:
        low = datetime(year, 1, 1)
        high = datetime(year, 12, 31, 23, 59, 59, 999999)
        return _fmt(low), _fmt(high)
    month = int(m["m"])
    if m["d"] is None:
        last = calendar.monthrange(year, month)[1]
        return _fmt(datetime(year, month, 1)), _fmt(datetime(year, month, last, 23, 59, 59, 999999))
    day = int(m["d"])
    if m["H"] is None:
        return _fmt(datetime(year, month, day)), _fmt(
            datetime(year, month, day, 23, 59, 59, 999999)
        )
    hour = int(m["H"])
    minute = int(m["M"] or 0)
    if m["S"] is None:
        low = datetime(year, month, day, hour, minute)
        span = timedelta(minutes=1) if m["M"] else timedelta(hours=1)
    else:
        frac = m["f"] or ""
        micro = int((frac + "000000")[:6]) if frac else 0
        low = datetime(year, month, day, hour, minute, int(m["S"]), micro)
        span = timedelta(microseconds=10 ** max(0, 6 - len(frac))) if frac else timedelta(seconds=1)
    tz = m["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
        low = _shift(low, -sign * offset)
    high = _shift(low, span - timedelta(microseconds=1))
    return _fmt(low), _fmt(high)


def _shift(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the calendar's ends (year 1 / 9999) instead of overflowing
    (e.g. ``9999-12-31T23:59:59Z`` + its one-second span, or ``0001-01-01T00:00+08:00`` in UTC)."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max if delta > timedelta(0) else datetime.min


def instant_now() -> datetime:
    """The current time in UTC (millisecond precision, as FHIR instants are usually sent)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def format_instant(value: datetime) -> str:
    """A FHIR ``instant`` string for an aware datetime."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def index_instant(value: datetime) -> str:
    """The index form (UTC, fixed width) of an aware datetime."""
    return _fmt(value.astimezone(UTC).replace(tzinfo=None))


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a string for ``string`` search."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def decimal_range(text: str) -> tuple[float, float, float]:
    """``(value, low, high)``: a search number with its implicit precision range.

    FHIR R4 search §3.1.1.4.1: ``100`` matches [99.5, 100.5); ``100.00`` matches
    [99.995, 100.005).
    """
    try:
        dec = Decimal(text)
    except InvalidOperation as exc:
        raise BadRequestError(f"Invalid number: {text!r}") from exc
    if not dec.is_finite():
        raise BadRequestError(f"Invalid number: {text!r}")
    exponent = dec.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5) * Decimal(10) ** (exponent - 1)
    return float(dec), float(dec - half), float(dec + half)
