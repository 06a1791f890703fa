"""Fast paths of the FHIRPath subset: the simple shapes most search parameters use.

``Type.a.b``, ``(Type.a as T)``, ``Type.a.where(resolve() is T)`` and ``(Type.a as T).b``,
and unions of them, are evaluated by direct dictionary walks (:class:`SimplePath`, with a
per-resource memo :class:`Scope`) instead of the interpreter's closures
(:mod:`healthbridge.fhir.fhirpath`); they give exactly the same collections. Search-index
extraction (:mod:`healthbridge.fhir.searchparams`) uses them on every write.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from healthbridge.fhir.fhirpath_nodes import (
    _CHOICE,
    Node,
    _children,
    _choice_type,
    _resolve,
    _type_matches,
    split_union,
)

__all__ = ["Scope", "SimplePath", "compile_simple"]

#: One union branch of the shapes most search parameters use: ``Type.a.b``, ``(Type.a as T)``,
#: ``Type.a.where(resolve() is T)`` and ``(Type.a as T).b``.
_SIMPLE_BRANCH = re.compile(
    r"^([A-Z][A-Za-z]*)((?:\.[a-z][A-Za-z0-9]*)+)"
    r"(?:\s+as\s+([A-Za-z]+)|\.where\(resolve\(\)\s+is\s+([A-Z][A-Za-z]*)\))?$"
)
_TYPED_THEN = re.compile(
    r"^\(([A-Z][A-Za-z]*)((?:\.[a-z][A-Za-z0-9]*)+)\s+as\s+([A-Za-z]+)\)"
    r"((?:\.[a-z][A-Za-z0-9]*)+)$"
)


class _Branch(NamedTuple):
    root: str
    names: tuple[str, ...]
    as_type: str | None
    resolve_type: str | None
    tail: tuple[str, ...] = ()

    def locate(
        self, resource: dict[str, Any], rtype: str
    ) -> list[tuple[tuple[Any, ...], str | None]]:
        """``(path, FHIR type)`` of each node this branch selects in ``resource`` (of type
        ``rtype``), in evaluation order, before any ``where(resolve() is T)`` filter."""
        if self.root not in (rtype, "Resource", "DomainResource"):
            return []
        items: list[tuple[tuple[Any, ...], str | None, Any]] = [((), rtype, resource)]
        for name in self.names:
            items = [c for p, _t, v in items for c in _located_children(v, p, name)]
        if self.as_type is not None:
            type_name = self.as_type
            items = [i for i in items if _type_matches(Node(i[2], i[1]), type_name)]
        for name in self.tail:
            items = [c for p, _t, v in items for c in _located_children(v, p, name)]
        return [(p, t) for p, t, _v in items]


def _simple_branch(text: str) -> _Branch | None:
    text = text.strip()
    m = _TYPED_THEN.match(text)
    if m is not None:
        return _Branch(
            m.group(1),
            tuple(m.group(2)[1:].split(".")),
            m.group(3),
            None,
            tuple(m.group(4)[1:].split(".")),
        )
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1].strip()
    m = _SIMPLE_BRANCH.match(text)
    if m is None:
        return None
    return _Branch(m.group(1), tuple(m.group(2)[1:].split(".")), m.group(3), m.group(4))


class Scope:
    """Per-resource memo shared by the :class:`SimplePath` evaluations of one resource: the
    choice elements present (``value`` → ``valueQuantity``) and the collections of the paths
    walked so far (``Observation.value`` is the start of five R4 Observation parameters)."""

    __slots__ = ("choices", "paths", "resource", "rtype")

    def __init__(self, resource: dict[str, Any]) -> None:
        self.resource = resource
        self.rtype = str(resource.get("resourceType"))
        self.choices: dict[str, list[str]] = {}
        for key in resource:
            m = _CHOICE.match(key)
            if m is not None:
                self.choices.setdefault(m.group(1), []).append(key)
        self.paths: dict[tuple[str, ...], list[Node]] = {}

    def walk(self, names: tuple[str, ...]) -> list[Node]:
        """The collection ``Type.names...`` (memoised)."""
        found = self.paths.get(names)
        if found is not None:
            return found
        resource = self.resource
        first = names[0]
        nodes: list[Node]
        if first in resource:
            raw = resource[first]
            nodes = [Node(i) for i in (raw if isinstance(raw, list) else [raw]) if i is not None]
        elif first in self.choices:
            nodes = _children(Node(resource, self.rtype), first)
        else:
            nodes = []
        for name in names[1:]:
            if not nodes:
                break
            nodes = [c for n in nodes for c in _children(n, name)]
        self.paths[names] = nodes
        return nodes


class SimplePath:
    """A union of simple branches evaluated by direct dictionary walks.

    Gives exactly the collection :meth:`Expression.evaluate` gives for the same text (the
    equivalence is tested on every official R4 example), without the interpreter's closures:
    index extraction evaluates ~35 expressions per resource on every write.
    """

    __slots__ = ("branches", "text")

    def __init__(self, text: str, branches: tuple[_Branch, ...]) -> None:
        self.text = text
        self.branches = branches

    def evaluate(self, resource: dict[str, Any], scope: Scope | None = None) -> list[Node]:
        """Evaluate against ``resource`` (as :meth:`Expression.evaluate`); ``scope`` shares
        work between the expressions evaluated on one resource."""
        if scope is None or scope.resource is not resource:
            scope = Scope(resource)
        out: list[Node] = []
        for branch in self.branches:
            if branch.root not in (scope.rtype, "Resource", "DomainResource"):
                continue
            nodes = scope.walk(branch.names)
            if not nodes:
                continue
            if branch.as_type is not None:
                type_name = branch.as_type
                nodes = [n for n in nodes if _type_matches(n, type_name)]
            elif branch.resolve_type is not None:
                target = branch.resolve_type
                nodes = [n for n in nodes if _resolves_to(n, target)]
            for name in branch.tail:
                nodes = [c for n in nodes for c in _children(n, name)]
            out.extend(nodes)
        return out

    def locate(self, resource: dict[str, Any]) -> list[tuple[tuple[Any, ...], str | None]] | None:
        """Where in ``resource`` the nodes :meth:`evaluate` gives are, in the same order:
        ``(path of keys and list indexes, FHIR type)`` each; None when a branch filters on
        ``resolve()`` (the outcome depends on reference values, not only on the structure).
        For resources of one structure the locations are the same (index extraction keeps
        them per structure)."""
        rtype = str(resource.get("resourceType"))
        out: list[tuple[tuple[Any, ...], str | None]] = []
        for branch in self.branches:
            if branch.resolve_type is not None:
                return None
            out.extend(branch.locate(resource, rtype))
        return out


def _located_children(
    value: Any, path: tuple[Any, ...], name: str
) -> list[tuple[tuple[Any, ...], str | None, Any]]:
    """:func:`_children` with the path of each child."""
    if not isinstance(value, dict):
        return []
    out: list[tuple[tuple[Any, ...], str | None, Any]] = []
    if name in value:
        raw = value[name]
        if isinstance(raw, list):
            out.extend(((*path, name, i), None, v) for i, v in enumerate(raw) if v is not None)
        elif raw is not None:
            out.append(((*path, name), None, raw))
        return out
    for key, raw in value.items():
        type_name = _choice_type(key, name)
        if type_name is None:
            continue
        if isinstance(raw, list):
            out.extend(((*path, key, i), type_name, v) for i, v in enumerate(raw) if v is not None)
        elif raw is not None:
            out.append(((*path, key), type_name, raw))
    return out


def _resolves_to(node: Node, type_name: str) -> bool:
    """``where(resolve() is T)`` for one node (see :func:`_resolve`)."""
    resolved = _resolve([node], node)
    return len(resolved) == 1 and _type_matches(resolved[0], type_name)


def compile_simple(text: str) -> SimplePath | None:
    """A :class:`SimplePath` for ``text`` when every union branch is simple, else None."""
    branches = []
    for part in split_union(text):
        branch = _simple_branch(part)
        if branch is None:
            return None
        branches.append(branch)
    return SimplePath(text, tuple(branches)) if branches else None
