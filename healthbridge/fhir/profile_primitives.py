"""JSON representation rules for FHIR R4 primitive types (R4 §2.1.28.0 "Primitive Types").

The regular expressions are the ones the R4 specification gives for each type's lexical
space (date, dateTime, instant, time, code, id); integers are JSON numbers and strings are
JSON strings (R4 JSON §2.6.2).
"""

from __future__ import annotations

import re
from typing import Any

_STRINGS = {
    "string",
    "code",
    "id",
    "uri",
    "url",
    "canonical",
    "oid",
    "uuid",
    "markdown",
    "base64Binary",
    "instant",
    "date",
    "dateTime",
    "time",
    "xhtml",
}
_FORMATS = {
    "date": re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"),
    "dateTime": re.compile(
        r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
        r"(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$"
    ),
    "instant": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"),
    "time": re.compile(r"^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?$"),
    "code": re.compile(r"^[^\s]+(\s[^\s]+)*$"),
    "id": re.compile(r"^[A-Za-z0-9\-.]{1,64}$"),
}


def primitive_problem(tcode: str, value: Any) -> tuple[str, str] | None:
    """(issue-type code, diagnostics) when ``value`` is not a valid JSON ``tcode``, else None."""
    if tcode == "boolean":
        ok = isinstance(value, bool)
    elif tcode in {"integer", "positiveInt", "unsignedInt"}:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tcode == "decimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tcode in _STRINGS:
        ok = isinstance(value, str)
    else:
        return None
    if not ok:
        return (
            "structure",
            f"Expected a JSON value of FHIR type {tcode}, found {type(value).__name__}",
        )
    fmt = _FORMATS.get(tcode)
    if (
        (fmt is not None and not fmt.match(value))
        or (tcode == "positiveInt" and value < 1)
        or (tcode == "unsignedInt" and value < 0)
    ):
        return "value", f"{value!r} is not a valid {tcode}"
    return None
