"""Search parameters from the official R4 definitions, and index-value extraction.

The definitions come from the generated ``data/search-parameters.json`` (see
``scripts/build_search_parameters.py``). Each parameter's FHIRPath expression is compiled with
:mod:`healthbridge.fhir.fhirpath`; parameters whose expression falls outside that subset, and
``composite``/``special`` parameters, are *unsupported*: not advertised in the
CapabilityStatement and rejected as unknown when used.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from healthbridge.fhir.fhirpath import (
    Expression,
    FhirPathSyntaxError,
    Node,
    compile_expression,
)
from healthbridge.fhir.fhirpath_simple import Scope, SimplePath, _resolves_to, compile_simple
from healthbridge.fhir.r4 import MAX_SHAPE_LEAVES
from healthbridge.fhir.values import MAX_DATE, MIN_DATE, date_range, fold

#: Parameter types the store indexes.
INDEXED_TYPES = ("token", "string", "date", "reference", "quantity", "number", "uri")
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

    @property
    def supported(self) -> bool:
        """Whether the server can search on this parameter."""
        return self.unsupported_reason is None


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
    return out


def supported_params(resource_type: str) -> dict[str, SearchParam]:
    """The parameters of ``resource_type`` the server can search on."""
    return {c: p for c, p in params_for(resource_type).items() if p.supported}


def source_info() -> dict[str, str]:
    """Provenance of the definitions file."""
    raw = _raw()
    return {k: str(raw[k]) for k in ("source", "sourceSha256", "fhirVersion")}


# ----------------------------------------------------------------------- extraction


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


_CHOICE_KEY = re.compile(r"^([a-z][A-Za-z]*?)[A-Z]")


def _element_names(resource: dict[str, Any]) -> set[str]:
    """Top-level element names present, with choice elements also under their base name
    (``valueQuantity`` → ``value``)."""
    names = set(resource)
    for key in resource:
        m = _CHOICE_KEY.match(key)
        if m is not None:
            names.add(m.group(1))
    return names


def extract_interpreted(resource: dict[str, Any]) -> IndexRows:
    """Index rows by interpreting every parameter's FHIRPath expression.

    The reference implementation :func:`extract` must agree with (tests compare both on every
    official R4 example); not used on the write path.
    """
    rows = IndexRows(canonical=True)
    present = _element_names(resource)
    for code, param in supported_params(str(resource["resourceType"])).items():
        if param.compiled is None:
            continue
        if param.roots is not None and param.roots.isdisjoint(present):
            continue
        convert = _CONVERTERS[param.type]
        target = getattr(rows, param.type)
        for node in param.compiled.evaluate(resource):
            convert(code, node, target)
    return rows


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


@dataclass(frozen=True)
class _Step:
    code: str
    kind: str
    roots: frozenset[str] | None
    evaluate: Callable[[dict[str, Any], Scope], list[Node]]
    convert: _Converter
    simple: SimplePath | None = None


@dataclass(frozen=True)
class _Plan:
    """The extraction steps of one resource type, compiled once (see :func:`extract`)."""

    source: dict[str, SearchParam]
    size: int
    steps: tuple[_Step, ...]
    #: element name → positions in ``steps`` of the parameters starting there
    by_root: dict[str, tuple[int, ...]]
    #: positions of the parameters evaluated whatever elements are present
    always: tuple[int, ...]

    def selected(self, present: Iterable[str]) -> list[_Step]:
        """The steps that can yield values given the top-level element names present."""
        chosen = set(self.always)
        for name in present:
            chosen.update(self.by_root.get(name, ()))
        return [self.steps[i] for i in sorted(chosen)]


_PLANS: dict[str, _Plan] = {}


def _plan(resource_type: str) -> _Plan:
    params = params_for(resource_type)
    plan = _PLANS.get(resource_type)
    # rebuilt when the definitions change (a new params_for result, or one that grew)
    if plan is not None and plan.source is params and plan.size == len(params):
        return plan
    steps: list[_Step] = []
    for code, param in params.items():
        if not param.supported or param.compiled is None or param.expression is None:
            continue
        fast = compile_simple(param.expression)
        evaluate = fast.evaluate if fast is not None else _interpreted(param.compiled)
        steps.append(_Step(code, param.type, param.roots, evaluate, _CONVERTERS[param.type], fast))
    by_root: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        for root in step.roots or ():
            by_root.setdefault(root, []).append(i)
    always = tuple(i for i, step in enumerate(steps) if step.roots is None)
    plan = _Plan(
        params,
        len(params),
        tuple(steps),
        {k: tuple(v) for k, v in by_root.items()},
        always,
    )
    _PLANS[resource_type] = plan
    return plan


def _interpreted(expression: Expression) -> Callable[[dict[str, Any], Scope], list[Node]]:
    return lambda resource, _scope: expression.evaluate(resource)


def extract_walked(resource: dict[str, Any]) -> IndexRows:
    """Index rows by walking every parameter's compiled plan (see :func:`extract`)."""
    rows = IndexRows(canonical=True)
    scope = Scope(resource)
    for step in _plan(str(resource["resourceType"])).selected([*resource, *scope.choices]):
        nodes = step.evaluate(resource, scope)
        if nodes:
            target = getattr(rows, step.kind)
            for node in nodes:
                step.convert(step.code, node, target)
    return rows


class _Slot:
    """One located node of one parameter in resources of one structure.

    ``path`` leads to the node; ``type_name`` is its FHIR type (choice elements);
    ``resolve`` is the type a ``where(resolve() is T)`` branch keeps (checked on the value
    each time). ``start:stop`` are the positions, in :func:`~healthbridge.fhir.r4.shape`'s
    ``leaves``, of the primitives inside the node: within one structure, the rows the node
    gives depend only on those values (and the parameter), so they are remembered per
    tuple of values in ``memo`` — the coding of a LOINC code, the subject of a child's
    measurements, a day's date range are converted once, not once per resource. ``memo`` is
    None where that cannot pay or could be wrong: floats among the values (``0.0 == -0.0``
    and NaN), or a node whose values keep changing (an identifier; dropped after
    :data:`_MEMO_TRIAL` misses with fewer hits than misses).
    """

    __slots__ = ("hits", "memo", "misses", "path", "resolve", "start", "stop", "type_name")

    def __init__(
        self,
        path: tuple[Any, ...],
        type_name: str | None,
        resolve: str | None,
        span: tuple[int, int],
        memo: bool,
    ) -> None:
        self.path = path
        self.type_name = type_name
        self.resolve = resolve
        self.start, self.stop = span
        #: keyed by the one primitive, or the tuple of them when the node holds several
        self.memo: dict[Any, list[dict[str, Any]]] | None = {} if memo else None
        self.hits = 0
        self.misses = 0


#: Located steps per resource structure: ``(step, slots or None)`` (None: walk it).
_Located = tuple[tuple[_Step, tuple[_Slot, ...] | None], ...]
_BY_SHAPE: dict[Any, _Located] = {}
#: Structures remembered (emptied past this; a Bundle of growth data holds a handful).
_MAX_SHAPES = 1024
#: Values remembered per slot before its memo starts over (bounds memory).
_MAX_MEMO = 4096
#: Misses after which a slot whose values rarely repeat stops remembering them.
_MEMO_TRIAL = 64


def _leaf_spans(
    value: Any, path: tuple[Any, ...], spans: dict[tuple[Any, ...], tuple[int, int]], at: int
) -> int:
    """Record the ``leaves`` positions (as :func:`~healthbridge.fhir.r4.shape` appends them)
    of every node under ``path``; returns the next position."""
    start = at
    if type(value) is dict:
        for k, v in value.items():
            if k == "resourceType" and type(v) is str:
                continue  # part of the shape key, not a leaf
            at = _leaf_spans(v, (*path, k), spans, at)
    elif type(value) is list:
        for i, v in enumerate(value):
            at = _leaf_spans(v, (*path, i), spans, at)
    else:
        at += 1
    spans[path] = (start, at)
    return at


def _locate_branches(
    simple: SimplePath, resource: dict[str, Any]
) -> list[tuple[tuple[Any, ...], str | None, str | None]]:
    """:meth:`SimplePath.locate` including ``where(resolve() is T)`` branches: ``(path,
    type, T or None)`` per node before that filter, in :meth:`SimplePath.evaluate`'s order
    (such branches have no tail, see ``fhirpath_simple._simple_branch``)."""
    rtype = str(resource.get("resourceType"))
    return [
        (p, t, branch.resolve_type)
        for branch in simple.branches
        for p, t in branch.locate(resource, rtype)
    ]


def _locate(resource: dict[str, Any], leaves: list[Any]) -> _Located:
    scope = Scope(resource)
    spans: dict[tuple[Any, ...], tuple[int, int]] = {}
    _leaf_spans(resource, (), spans, 0)
    out: list[tuple[_Step, tuple[_Slot, ...] | None]] = []
    for step in _plan(str(resource["resourceType"])).selected([*resource, *scope.choices]):
        if step.simple is None:
            out.append((step, None))
            continue
        slots = []
        for path, type_name, resolve in _locate_branches(step.simple, resource):
            start, stop = spans[path]
            memo = not any(type(v) is float for v in leaves[start:stop])
            slots.append(_Slot(path, type_name, resolve, (start, stop), memo))
        out.append((step, tuple(slots)))
    return tuple(out)


def extract(resource: dict[str, Any]) -> IndexRows:
    """Evaluate every supported parameter of the resource's type and return index rows.

    Runs on every write, so the parameters of each type are compiled once into a plan:
    expressions made only of simple paths (``Type.a.b``, ``(Type.a as T)``,
    ``Type.a.where(resolve() is T)`` and unions of these: most R4 definitions) are walked
    directly, the rest go through the FHIRPath interpreter; parameters whose first element
    is absent are skipped (:func:`extract_walked`). Where the nodes of a simple path are
    depends only on the resource's structure (keys, array lengths, nulls, JSON types,
    ``resourceType`` values: :func:`healthbridge.fhir.r4.shape`), so the locations found for
    the first resource of a structure are kept (:class:`_Slot`) and later ones read their
    values straight from there — ``resolve()`` filters are applied to the located values, and
    the rows of a node whose values were seen before in that structure are copied from its
    memo; interpreted expressions are evaluated every time.
    The result equals :func:`extract_interpreted` (tests compare all three).
    """
    leaves: list[Any] = []
    try:
        key = _shape(resource, leaves)
    except RecursionError:
        return extract_walked(resource)
    if len(leaves) > MAX_SHAPE_LEAVES:
        return extract_walked(resource)
    located = _BY_SHAPE.get(key)
    if located is None:
        located = _locate(resource, leaves)
        if len(_BY_SHAPE) >= _MAX_SHAPES:
            _BY_SHAPE.clear()
        _BY_SHAPE[key] = located
    rows = IndexRows(canonical=True)
    scope: Scope | None = None
    for step, slots in located:
        target = getattr(rows, step.kind)
        if slots is None:
            if scope is None:
                scope = Scope(resource)
            for node in step.evaluate(resource, scope):
                step.convert(step.code, node, target)
            continue
        for slot in slots:
            memo = slot.memo
            if memo is not None:
                start, stop = slot.start, slot.stop
                values = leaves[start] if stop - start == 1 else tuple(leaves[start:stop])
                found = memo.get(values)
                if found is not None:
                    slot.hits += 1
                    target.extend(map(dict, found))
                    continue
            value = _at(resource, slot.path)
            if slot.resolve is not None and not _resolves_to(Node(value), slot.resolve):
                made: list[dict[str, Any]] = []
            else:
                made = []
                step.convert(step.code, Node(value, slot.type_name), made)
            target.extend(made)
            if memo is not None:
                slot.misses += 1
                if slot.misses >= _MEMO_TRIAL and slot.hits < slot.misses:
                    slot.memo = None  # values rarely repeat here: not worth remembering
                else:
                    if len(memo) >= _MAX_MEMO:
                        memo.clear()
                    memo[values] = [dict(r) for r in made]
    return rows


def _shape(value: dict[str, Any], leaves: list[Any]) -> Any:
    """:func:`healthbridge.fhir.r4.shape` of a JSON object (the same key and leaves; tests
    compare both), primitives handled inline rather than by a call each — index extraction
    takes the shape of every resource written."""
    parts: list[Any] = ["d"]
    append = parts.append
    for k, v in value.items():
        kind = type(v)
        if kind is dict:
            append((k, _shape(v, leaves)))
        elif kind is list:
            append((k, _shape_list(v, leaves)))
        elif k == "resourceType" and kind is str:
            append((k, ("=", v)))
        else:
            leaves.append(v)
            append((k, kind))
    return tuple(parts)


def _shape_list(value: list[Any], leaves: list[Any]) -> Any:
    parts: list[Any] = ["l"]
    for v in value:
        kind = type(v)
        if kind is dict:
            parts.append(_shape(v, leaves))
        elif kind is list:
            parts.append(_shape_list(v, leaves))
        else:
            leaves.append(v)
            parts.append(kind)
    return tuple(parts)


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value
