"""The index rows of one resource, and how a FHIRPath result becomes rows of each kind.

:class:`IndexRows` holds a resource's rows per index table (:data:`ROW_KEYS` is the layout of
each kind); the converters read a node of a search parameter's result as the R4 search types
read it (FHIR R4 §3.1.1.4: token, string, date, reference, quantity, number, uri) and append
rows. Used by the extraction in :mod:`healthbridge.fhir.searchparams`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from healthbridge.fhir.fhirpath import Node
from healthbridge.fhir.searchparam_defs import INDEXED_TYPES
from healthbridge.fhir.values import MAX_DATE, MIN_DATE, date_range, fold

#: The keys of each index kind's rows after ``param``, in the order the converters below
#: write them (the store lays out its inserts by this).
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "token": ("system", "code"),
    "string": ("value", "exact"),
    "date": ("low", "high"),
    "reference": ("target_type", "target_id", "url"),
    "quantity": ("value", "system", "code"),
    "number": ("value",),
    "uri": ("value",),
}


@dataclass
class IndexRows:
    """Index rows of one resource, per index table; each row is a plain dict."""

    token: list[dict[str, Any]] = field(default_factory=list)
    string: list[dict[str, Any]] = field(default_factory=list)
    date: list[dict[str, Any]] = field(default_factory=list)
    reference: list[dict[str, Any]] = field(default_factory=list)
    quantity: list[dict[str, Any]] = field(default_factory=list)
    number: list[dict[str, Any]] = field(default_factory=list)
    uri: list[dict[str, Any]] = field(default_factory=list)
    #: True when every row was made by this module's converters: each row's keys are
    #: ``param`` then :data:`ROW_KEYS` of its kind, in that order (the store then lays the
    #: rows out without looking at their keys)
    canonical: bool = field(default=False, compare=False)

    def tables(self) -> Iterable[tuple[str, list[dict[str, Any]]]]:
        """``(table kind, rows)`` pairs."""
        for kind in INDEXED_TYPES:
            yield kind, getattr(self, kind)


def distinct_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` without repeats (first kept, order kept): the rows the store writes.

    A search asks whether a resource *has* a value (an ``EXISTS`` probe or ``res_id IN``),
    never how many times, so a repeated row answers nothing the first does not; an
    AuditEvent naming 20 Observations repeats its ``entity-type`` token 20 times (41 % of
    the token rows of an audited database, bench/results/storage.md)."""
    if len(rows) < 2:
        return rows
    seen: set[tuple[Any, ...]] = set()
    out = []
    for row in rows:
        key = tuple(row.items())
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _tokens(node: Node) -> Iterable[tuple[str | None, str]]:
    value = node.value
    if isinstance(value, bool):
        yield None, "true" if value else "false"
    elif isinstance(value, str | int | float):
        yield None, str(value)
    elif isinstance(value, dict):
        if "coding" in value or node.type == "CodeableConcept":
            for coding in value.get("coding", ()):
                if coding.get("code") is not None:
                    yield coding.get("system"), str(coding["code"])
        elif "code" in value:
            yield value.get("system"), str(value["code"])
        elif "value" in value:  # Identifier, ContactPoint
            yield value.get("system"), str(value["value"])


def _strings(node: Node) -> Iterable[str]:
    value = node.value
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in (
            "text",
            "family",
            "given",
            "prefix",
            "suffix",
            "line",
            "city",
            "district",
            "state",
            "postalCode",
            "country",
        ):
            item = value.get(key)
            for s in item if isinstance(item, list) else [item]:
                if isinstance(s, str):
                    yield s


def _dates(node: Node) -> Iterable[tuple[str, str]]:
    value = node.value
    try:
        if isinstance(value, str):
            yield date_range(value)
        elif isinstance(value, dict):
            if "start" in value or "end" in value:  # Period
                low = date_range(value["start"])[0] if value.get("start") else MIN_DATE
                high = date_range(value["end"])[1] if value.get("end") else MAX_DATE
                yield low, high
            for event in value.get("event", ()):  # Timing
                yield date_range(event)
    except ValueError:
        return


def _references(node: Node) -> Iterable[dict[str, Any]]:
    value = node.value
    ref: Any = value.get("reference") if isinstance(value, dict) else value
    if isinstance(value, dict) and "resourceType" in value and "id" in value:
        ref = f"{value['resourceType']}/{value['id']}"
    if not isinstance(ref, str):
        return
    parts = ref.split("|")[0].split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2][:1].isupper() and not ref.startswith("#"):
        yield {"target_type": parts[-2], "target_id": parts[-1], "url": ref}
    else:
        yield {"target_type": None, "target_id": None, "url": ref}


def index_number(value: Any) -> float | None:
    """A JSON number as the index's double, None when it does not fit one.

    FHIR decimals are arbitrary precision (R4 §2.24.0.1 ``decimal``; HAPI stores them as
    ``BigDecimal``): a valid number beyond a double's range (±1.8e308, e.g. 400 digits) is
    stored as sent, only its index row is left out, so a numeric search does not find it.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _quantities(node: Node) -> Iterable[dict[str, Any]]:
    value = node.value
    number = index_number(value.get("value")) if isinstance(value, dict) else None
    if isinstance(value, dict) and number is not None:
        yield {
            "value": number,
            "system": value.get("system"),
            "code": value.get("code") or value.get("unit"),
        }
    elif isinstance(value, dict) and ("low" in value or "high" in value):  # Range
        for end in ("low", "high"):
            if isinstance(value.get(end), dict):
                yield from _quantities(Node(value[end], "Quantity"))


def _token_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    for system, tcode in _tokens(node):
        out.append({"param": code, "system": system, "code": tcode})


def _string_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    for s in _strings(node):
        out.append({"param": code, "value": fold(s)[:255], "exact": s[:255]})


def _date_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    for low, high in _dates(node):
        out.append({"param": code, "low": low, "high": high})


def _reference_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    for ref in _references(node):
        out.append({"param": code, **ref})


def _quantity_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    for q in _quantities(node):
        out.append({"param": code, **q})


def _number_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    number = index_number(node.value)
    if number is not None:
        out.append({"param": code, "value": number})


def _uri_rows(code: str, node: Node, out: list[dict[str, Any]]) -> None:
    if isinstance(node.value, str):
        out.append({"param": code, "value": node.value})


_Converter = Callable[[str, Node, list[dict[str, Any]]], None]
_CONVERTERS: dict[str, _Converter] = {
    "token": _token_rows,
    "string": _string_rows,
    "date": _date_rows,
    "reference": _reference_rows,
    "quantity": _quantity_rows,
    "number": _number_rows,
    "uri": _uri_rows,
}
