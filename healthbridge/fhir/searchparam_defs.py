"""Search parameters from the official R4 definitions (and HealthBridge's own).

The definitions come from the generated ``data/search-parameters.json`` (see
``scripts/build_search_parameters.py``) and ``fhir_profiles/SearchParameter/``. Each
parameter's FHIRPath expression is compiled with :mod:`healthbridge.fhir.fhirpath`;
parameters whose expression falls outside that subset, and ``composite``/``special``
parameters, are *unsupported*: not advertised in the CapabilityStatement and rejected as
unknown when used. Index rows are made from them by :mod:`healthbridge.fhir.searchparams`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from healthbridge.fhir.fhirpath import Expression, FhirPathSyntaxError, compile_expression

#: Parameter types the store indexes.
INDEXED_TYPES = ("token", "string", "date", "reference", "quantity", "number", "uri")
#: Resource-level parameters answered from the resource table itself, not index rows.
COLUMN_PARAMS = ("_id", "_lastUpdated")


@dataclass(frozen=True)
class SearchParam:
    """One search parameter as it applies to one resource type."""

    code: str
    type: str
    expression: str | None
    url: str
    target: tuple[str, ...] = ()
    compiled: Expression | None = field(default=None, compare=False, repr=False)
    unsupported_reason: str | None = None
    #: top-level element names the expression starts from (a cheap pre-filter: when none is
    #: present in a resource the expression cannot yield anything); None = always evaluate
    roots: frozenset[str] | None = None
    #: the parameters of the same resource type and search type whose expressions' union
    #: branches together are exactly this one's (:func:`_unions`): searched through their
    #: index rows, given none of its own
    union_of: tuple[str, ...] = ()
    #: for a reference parameter that is ``union_of`` others restricted by
    #: ``where(resolve() is T)`` (:func:`_restrictions`): T, the one target type of those
    #: parameters' rows that are this one's
    restricted_to: str | None = None

    @property
    def supported(self) -> bool:
        """Whether the server can search on this parameter."""
        return self.unsupported_reason is None

    @property
    def indexed(self) -> bool:
        """Whether the store writes index rows for this parameter (a union has none)."""
        return self.supported and self.compiled is not None and not self.union_of

    @property
    def index_codes(self) -> tuple[str, ...]:
        """The ``param`` values of the index rows a search on this parameter reads."""
        return self.union_of or (self.code,)


def _make(item: dict[str, Any]) -> SearchParam:
    code, ptype, expression = item["code"], item["type"], item.get("expression")
    reason: str | None = None
    compiled: Expression | None = None
    if code in COLUMN_PARAMS:
        pass
    elif ptype not in INDEXED_TYPES:
        reason = f"{ptype} parameters are not supported"
    elif not expression:
        reason = "no FHIRPath expression"
    else:
        try:
            compiled = compile_expression(expression)
        except FhirPathSyntaxError as exc:
            reason = f"expression outside the supported FHIRPath subset: {exc}"
    return SearchParam(
        code=code,
        type=ptype,
        expression=expression,
        url=item["url"],
        target=tuple(item.get("target", ())),
        compiled=compiled,
        unsupported_reason=reason,
        roots=_roots(expression) if compiled is not None and expression else None,
    )


_ROOT = re.compile(r"(?:^|[\s(|])[A-Z][A-Za-z]*\.([a-z][A-Za-z0-9]*)")


def _roots(expression: str) -> frozenset[str] | None:
    """First-level element names of each union branch; None when a branch has no such name."""
    from healthbridge.fhir.fhirpath_nodes import split_union

    if any(op in expression for op in ("exists(", "empty(", "not(", " and ", " or ")):
        return None  # boolean expressions yield a value even when the element is absent
    names: set[str] = set()
    for branch in split_union(expression):
        m = _ROOT.search(branch)
        if m is None:
            return None
        names.add(m.group(1))
    return frozenset(names)


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("healthbridge.fhir").joinpath("data/search-parameters.json")
    data: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return data


@cache
def _custom() -> dict[str, tuple[dict[str, Any], ...]]:
    """Our own SearchParameters (``fhir_profiles/SearchParameter/``) by base resource type."""
    from fhir_profiles.loader import search_parameters

    out: dict[str, list[dict[str, Any]]] = {}
    for item in search_parameters():
        for base in item.get("base", ()):
            out.setdefault(base, []).append(item)
    return {k: tuple(v) for k, v in out.items()}


@cache
def params_for(resource_type: str) -> dict[str, SearchParam]:
    """Every defined parameter of ``resource_type`` (including Resource/DomainResource ones),
    plus the custom parameters HealthBridge publishes (never replacing an official code)."""
    raw = _raw()["resources"]
    out: dict[str, SearchParam] = {}
    for base in ("Resource", "DomainResource", resource_type):
        for item in raw.get(base, ()):
            out[item["code"]] = _make(item)
    for item in _custom().get(resource_type, ()):
        out.setdefault(item["code"], _make(item))
    for code, parts in _unions(out).items():
        out[code] = replace(out[code], union_of=parts)
    for code, (parts, target) in _restrictions(out).items():
        out[code] = replace(out[code], union_of=parts, restricted_to=target)
    return out


def _unions(params: dict[str, SearchParam]) -> dict[str, tuple[str, ...]]:
    """The parameters that are unions of others: each union branch (top-level ``|``) of
    their expression is a branch of another parameter of the same type, and those others'
    branches are all among theirs. R4's are Observation's ``combo-code``,
    ``combo-value-quantity``, ``combo-value-concept`` and ``combo-data-absent-reason``
    (``Observation.code | Observation.component.code`` = ``code`` + ``component-code``;
    http://hl7.org/fhir/R4/observation.html#search). Their index rows would repeat the
    parts' rows (a quarter of a growth Observation's rows), so they get none and a search
    on them reads the parts' rows: the same matches, since a resource matches a union when
    one of its branches gives a matching value (FHIR R4 search §3.1.1)."""
    from healthbridge.fhir.fhirpath_nodes import split_union

    branches = {
        c: frozenset(split_union(p.expression))
        for c, p in params.items()
        if p.supported and p.compiled is not None and p.expression
    }
    out: dict[str, tuple[str, ...]] = {}
    for code, mine in branches.items():
        if len(mine) < 2:
            continue
        parts = sorted(
            c
            for c, theirs in branches.items()
            if c != code and params[c].type == params[code].type and theirs < mine
        )
        if parts and frozenset().union(*(branches[c] for c in parts)) == mine:
            out[code] = tuple(parts)
    return out


#: a union branch ``<path>.where(resolve() is <Type>)``
_RESOLVE_IS = re.compile(r"(.+)\.where\(resolve\(\) is ([A-Z][A-Za-z]*)\)")


def _restrictions(params: dict[str, SearchParam]) -> dict[str, tuple[tuple[str, ...], str]]:
    """The reference parameters that are others restricted to one target type: each union
    branch of their expression is ``B.where(resolve() is T)`` with the same ``T``, and the
    ``B`` are exactly the branches of other reference parameters of the type: 13 of the 14
    R4 parameters with such a filter (not EpisodeOfCare's ``care-manager``), e.g.
    Observation's, Flag's and Condition's ``patient`` (``Observation.subject.where(
    resolve() is Patient)``: ``subject``), Task's ``patient`` (``Task.for``: ``subject``) and
    AuditEvent's (``agent`` and ``entity``; http://hl7.org/fhir/R4/searchparameter-registry.html).
    Their rows would repeat those parameters' rows whose target is a ``T`` (a third of the
    reference rows bench/ingest.py writes), so they get none, and a search on one reads the
    others' rows whose ``target_type`` is ``T``. The index's ``target_type`` and FHIRPath's
    ``resolve() is T`` read a literal reference's type the same way (the type before the id,
    or before ``_history``; tests compare them on the official examples)."""
    from healthbridge.fhir.fhirpath_nodes import split_union

    branches = {
        c: frozenset(b.strip() for b in split_union(p.expression))
        for c, p in params.items()
        if p.type == "reference" and p.indexed and p.expression
    }
    out: dict[str, tuple[tuple[str, ...], str]] = {}
    for code, mine in branches.items():
        found = [_RESOLVE_IS.fullmatch(b) for b in mine]
        targets = {m.group(2) for m in found if m is not None}
        if None in found or len(targets) != 1:
            continue
        bases = frozenset(m.group(1).strip() for m in found if m is not None)
        parts = sorted(c for c, theirs in branches.items() if c != code and theirs <= bases)
        if parts and frozenset().union(*(branches[c] for c in parts)) == bases:
            out[code] = (tuple(parts), targets.pop())
    return out


def supported_params(resource_type: str) -> dict[str, SearchParam]:
    """The parameters of ``resource_type`` the server can search on."""
    return {c: p for c, p in params_for(resource_type).items() if p.supported}


def source_info() -> dict[str, str]:
    """Provenance of the definitions file."""
    raw = _raw()
    return {k: str(raw[k]) for k in ("source", "sourceSha256", "fhirVersion")}
