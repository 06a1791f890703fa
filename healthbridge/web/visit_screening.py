"""The screening part of the paediatrician's visit form → ``hb-screening-result`` Observations
(pure; no I/O).

Hearing and eye results (pass / refer), uncorrected visual acuities (decimal), the oral check
(decayed and erupted teeth, fluoride varnish) and a developmental assessment's RESULT
(instrument, score, developmental quotient, pass/refer) — never an instrument's items. Whether
a result is abnormal is the rule table's business (``screening-schedule``); the form only
checks what can be typed. Haemoglobin stays the visit form's ``hb_g_l`` (``hb-haemoglobin``).
The Observations are built by :mod:`healthbridge.fhir.screening_result` (shared with the
demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from healthbridge.fhir.screening_result import (
    WHOLE,
    ScreeningEntry,
)

RESULTS: Final = ("pass", "refer")
#: ``developmental-instrument`` codes the form offers (CodeSystem order).
INSTRUMENTS: Final = ("wst580", "gesell", "asq-c", "ddst", "dst", "griffiths", "bayley")
#: Typing limits (not clinical cut-offs): field → (low, high, catalogue key of the field).
LIMITS: Final[dict[str, tuple[float, float, str]]] = {
    "acuity_left": (0.01, 2.0, "screen.acuity_left"),
    "acuity_right": (0.01, 2.0, "screen.acuity_right"),
    "caries": (0, 20, "screen.caries"),
    "teeth": (0, 32, "screen.teeth"),
    "dev_score": (0, 1000, "screen.dev_score"),
    "dev_dq": (10, 200, "screen.dev_dq"),
}


def _one(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def parse_screenings(
    form: Mapping[str, Any],
) -> tuple[tuple[ScreeningEntry, ...], list[tuple[str, dict[str, str]]]]:
    """The screening entries of a posted form and its problems (catalogue key, values)."""
    problems: list[tuple[str, dict[str, str]]] = []
    numbers: dict[str, float] = {}
    for name, (low, high, key) in LIMITS.items():
        raw = _one(form, name).replace(",", ".")
        if not raw:
            continue
        try:
            value = float(raw)
            if name in WHOLE and value != int(value):
                raise ValueError
        except ValueError:
            problems.append(("visit.err_number", {"field": key}))
            continue
        if not low <= value <= high:
            limits = {"value": raw, "low": f"{low:g}", "high": f"{high:g}"}
            problems.append(("visit.err_range", {"field": key, **limits}))
            continue
        numbers[name] = value
    results: dict[str, str | None] = {}
    for name in ("hearing", "eye", "dev_result"):
        raw = _one(form, name)
        if raw and raw not in RESULTS:
            problems.append(("screen.err_result", {"value": raw}))
            raw = ""
        results[name] = raw or None
    instrument = _one(form, "dev_instrument") or None
    if instrument is not None and instrument not in INSTRUMENTS:
        problems.append(("screen.err_instrument", {"value": instrument}))
        instrument = None
    dev_given = any(k in numbers for k in ("dev_score", "dev_dq")) or results["dev_result"]
    if dev_given and instrument is None:
        problems.append(("screen.err_no_instrument", {}))
    if instrument is not None and "dev_dq" not in numbers and results["dev_result"] is None:
        problems.append(("screen.err_no_dev_result", {}))
    out: list[ScreeningEntry] = []

    def picked(*names: str) -> tuple[tuple[str, float], ...]:
        return tuple((n, numbers[n]) for n in names if n in numbers)

    if results["hearing"]:
        out.append(ScreeningEntry("hearing", results["hearing"]))
    eye = picked("acuity_left", "acuity_right")
    if results["eye"] or eye:
        out.append(ScreeningEntry("eye", results["eye"], eye))
    oral = picked("caries", "teeth")
    varnish = _one(form, "fluoride") == "yes"
    if oral or varnish:
        out.append(ScreeningEntry("oral", None, oral, True if varnish else None))
    if instrument is not None:
        out.append(
            ScreeningEntry(
                "development",
                results["dev_result"],
                picked("dev_score", "dev_dq"),
                None,
                instrument,
            )
        )
    return tuple(out), problems
