"""Index-value extraction: the search-index rows of a resource, made on every write.

:func:`extract` evaluates every supported search parameter of the resource's type
(:mod:`healthbridge.fhir.searchparam_defs`) and converts the results into
:class:`~healthbridge.fhir.index_rows.IndexRows`; :func:`extract_walked` and
:func:`extract_interpreted` are the slower paths it must agree with. The names the store and
the other layers use from the definitions and the rows are importable from here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from healthbridge.fhir.fhirpath import Expression, Node
from healthbridge.fhir.fhirpath_simple import Scope, SimplePath, _resolves_to, compile_simple
from healthbridge.fhir.index_rows import _CONVERTERS, ROW_KEYS, IndexRows, _Converter, distinct_rows
from healthbridge.fhir.r4 import MAX_SHAPE_LEAVES
from healthbridge.fhir.searchparam_defs import (
    INDEXED_TYPES,
    SearchParam,
    params_for,
    supported_params,
)

__all__ = [
    "INDEXED_TYPES",
    "ROW_KEYS",
    "IndexRows",
    "SearchParam",
    "distinct_rows",
    "extract",
    "extract_interpreted",
    "extract_walked",
    "params_for",
    "supported_params",
]

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
        if not param.indexed or param.compiled is None:
            continue
        if param.roots is not None and param.roots.isdisjoint(present):
            continue
        convert = _CONVERTERS[param.type]
        target = getattr(rows, param.type)
        for node in param.compiled.evaluate(resource):
            convert(code, node, target)
    return rows


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
        if not param.indexed or param.compiled is None or param.expression is None:
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
