"""A FHIRPath subset, enough for the R4 SearchParameter expressions of our resource types.

Supported (FHIRPath N1, http://hl7.org/fhirpath/N1/): member navigation with choice types
(``Observation.value`` finds ``valueQuantity``), indexers ``[n]``, ``|`` unions, parentheses,
``as``/``is`` operators and the functions ``as()``, ``ofType()``, ``is()``, ``where()``,
``exists()`` (with or without criteria), ``all()``, ``empty()``, ``not()``, ``first()``,
``count()``, ``hasValue()``, ``resolve()``; ``=``/``!=`` against literals; ``and``/``or``/
``implies``. The base-R4 validator evaluates the invariants that fit this subset
(:mod:`healthbridge.fhir.base_validation`). Anything else is a :class:`FhirPathSyntaxError` at
parse time, which makes the search parameter unsupported (not advertised, rejected as unknown).

``resolve()`` does not fetch anything: it yields the reference typed by the resource type named
in the reference string, which is all ``where(resolve() is Patient)`` needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "Expression",
    "FhirPathSyntaxError",
    "Node",
    "Scope",
    "SimplePath",
    "compile_expression",
    "compile_simple",
    "split_union",
]


class FhirPathSyntaxError(ValueError):
    """The expression uses FHIRPath outside the supported subset."""


class Node(NamedTuple):
    """One item of a FHIRPath collection: the JSON value and its FHIR type if known."""

    value: Any
    type: str | None = None


# FHIR data type names that can end a choice element name (value[x] → valueQuantity).
_PRIMITIVES = {
    "Base64Binary": "base64Binary",
    "Boolean": "boolean",
    "Canonical": "canonical",
    "Code": "code",
    "Date": "date",
    "DateTime": "dateTime",
    "Decimal": "decimal",
    "Id": "id",
    "Instant": "instant",
    "Integer": "integer",
    "Markdown": "markdown",
    "Oid": "oid",
    "PositiveInt": "positiveInt",
    "String": "string",
    "Time": "time",
    "UnsignedInt": "unsignedInt",
    "Uri": "uri",
    "Url": "url",
    "Uuid": "uuid",
}
_COMPLEX = {
    "Address",
    "Age",
    "Annotation",
    "Attachment",
    "CodeableConcept",
    "Coding",
    "ContactDetail",
    "ContactPoint",
    "Count",
    "DataRequirement",
    "Distance",
    "Dosage",
    "Duration",
    "Expression",
    "HumanName",
    "Identifier",
    "Meta",
    "Money",
    "ParameterDefinition",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "Reference",
    "RelatedArtifact",
    "SampledData",
    "Signature",
    "Timing",
    "TriggerDefinition",
    "UsageContext",
}
_QUANTITY_KINDS = {"Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity"}
_CHOICE = re.compile(r"^([a-z][A-Za-z]*?)([A-Z][A-Za-z0-9]*)$")


#: FHIRPath system types (``answer is Boolean``) → the FHIR primitive types they cover.
_SYSTEM_TYPES = {
    "Boolean": {"boolean"},
    "String": {"string", "code", "id", "uri", "url", "canonical", "markdown", "oid", "uuid"},
    "Integer": {"integer", "positiveInt", "unsignedInt"},
    "Decimal": {"decimal"},
    "Date": {"date"},
    "DateTime": {"dateTime", "instant"},
    "Time": {"time"},
}


def _type_matches(node: Node, type_name: str) -> bool:
    system = _SYSTEM_TYPES.get(type_name)
    if system is not None and node.type in system:
        return True
    if node.type is None:
        return _infer_type(node.value) in (None, type_name)
    if node.type == type_name:
        return True
    return type_name == "Quantity" and node.type in _QUANTITY_KINDS


def _infer_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return None  # string, code, uri, dateTime ... cannot be told apart
    if isinstance(value, dict) and "resourceType" in value:
        return str(value["resourceType"])
    return None


def _choice_type(key: str, name: str) -> str | None:
    """The FHIR type of element ``key`` when it is choice element ``name[x]`` of a known type
    (``valueQuantity`` → ``Quantity`` for ``value``), else None."""
    if not key.startswith(name):
        return None
    m = _CHOICE.match(key)
    if m is None or m.group(1) != name:
        return None
    suffix = m.group(2)
    return _PRIMITIVES.get(suffix, suffix if suffix in _COMPLEX else None)


def _children(node: Node, name: str) -> list[Node]:
    value = node.value
    if not isinstance(value, dict):
        return []
    out: list[Node] = []
    if name in value:
        raw = value[name]
        items = raw if isinstance(raw, list) else [raw]
        out.extend(Node(item) for item in items if item is not None)
        return out
    for key, raw in value.items():
        type_name = _choice_type(key, name)
        if type_name is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        out.extend(Node(item, type_name) for item in items if item is not None)
    return out


def split_union(expression: str) -> list[str]:
    """Split on top-level ``|`` (outside parentheses and string literals)."""
    parts: list[str] = []
    depth = 0
    quote = False
    current = ""
    for ch in expression:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == "|" and depth == 0 and not quote:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


# ---------------------------------------------------------------- tokenizer
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>\d+(?:\.\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>!=|[.|()\[\]=,]))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FhirPathSyntaxError(f"cannot parse at {text[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


Fn = Callable[[list[Node], Node], list[Node]]  # (input collection, root) -> output


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise FhirPathSyntaxError(f"expected {value!r}, got {tok!r}")
        self.pos += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == value and tok[0] in ("op", "id")

    def parse(self) -> Fn:
        fn = self.implies_expr()
        if self.peek() is not None:
            raise FhirPathSyntaxError(f"unexpected {self.peek()!r}")
        return fn

    def implies_expr(self) -> Fn:
        left = self.or_expr()
        while self.at("implies"):
            self.take()
            left = _implies(left, self.or_expr())
        return left

    def or_expr(self) -> Fn:
        left = self.and_expr()
        while self.at("or"):
            self.take()
            right = self.and_expr()
            left = _boolean_op(left, right, any)
        return left

    def and_expr(self) -> Fn:
        left = self.eq_expr()
        while self.at("and"):
            self.take()
            right = self.eq_expr()
            left = _boolean_op(left, right, all)
        return left

    def eq_expr(self) -> Fn:
        left = self.union_expr()
        if self.at("=") or self.at("!="):
            negate = self.take()[1] == "!="
            right = self.union_expr()
            return _equality(left, right, negate)
        return left

    def union_expr(self) -> Fn:
        parts = [self.type_expr()]
        while self.at("|"):
            self.take()
            parts.append(self.type_expr())
        if len(parts) == 1:
            return parts[0]

        def union(coll: list[Node], root: Node) -> list[Node]:
            out: list[Node] = []
            for part in parts:
                out.extend(part(coll, root))
            return out

        return union

    def type_expr(self) -> Fn:
        inner = self.postfix()
        if self.at("as") or self.at("is"):
            op = self.take()[1]
            type_name = self.take()[1]
            return _as_type(inner, type_name) if op == "as" else _is_type(inner, type_name)
        return inner

    def postfix(self) -> Fn:
        fn = self.primary()
        while True:
            if self.at("."):
                self.take(".")
                fn = _chain(fn, self.invocation())
            elif self.at("["):
                self.take("[")
                index = int(self.take()[1])
                self.take("]")
                fn = _chain(fn, _index(index))
            else:
                return fn

    def primary(self) -> Fn:
        tok = self.peek()
        if tok is None:
            raise FhirPathSyntaxError("unexpected end")
        if tok[1] == "(" and tok[0] == "op":
            self.take("(")
            inner = self.implies_expr()
            self.take(")")
            return inner
        if tok[0] == "str":
            self.take()
            literal = Node(tok[1][1:-1])
            return lambda coll, root: [literal]
        if tok[0] == "num":
            self.take()
            number = Node(float(tok[1]))
            return lambda coll, root: [number]
        if tok[1] in ("true", "false"):
            self.take()
            boolean = Node(tok[1] == "true")
            return lambda coll, root: [boolean]
        return self.invocation(first=True)

    def invocation(self, first: bool = False) -> Fn:
        name = self.take()[1]
        if self.at("("):
            self.take("(")
            args: list[Fn] = []
            raw_args: list[str] = []
            while not self.at(")"):
                start = self.pos
                args.append(self.implies_expr())
                raw_args.append(" ".join(t[1] for t in self.tokens[start : self.pos]))
                if self.at(","):
                    self.take(",")
            self.take(")")
            return _function(name, args, raw_args)
        if first and name[:1].isupper():
            # A type name at the start: the root resource (Patient.name) or a base type.
            def root_fn(_coll: list[Node], root: Node) -> list[Node]:
                rtype = root.type or _infer_type(root.value)
                if name in (rtype, "Resource", "DomainResource"):
                    return [root]
                return []

            return root_fn
        return lambda coll, root: [c for n in coll for c in _children(n, name)]


def _chain(first: Fn, second: Fn) -> Fn:
    return lambda coll, root: second(first(coll, root), root)


def _index(index: int) -> Fn:
    return lambda coll, root: [coll[index]] if len(coll) > index else []


def _truthy(coll: list[Node]) -> bool | None:
    if not coll:
        return None
    if len(coll) == 1 and isinstance(coll[0].value, bool):
        return bool(coll[0].value)
    return True


def _boolean_op(left: Fn, right: Fn, combine: Callable[[list[bool]], bool]) -> Fn:
    def op(coll: list[Node], root: Node) -> list[Node]:
        a, b = _truthy(left(coll, root)), _truthy(right(coll, root))
        return [Node(combine([bool(a), bool(b)]), "boolean")]

    return op


def _implies(left: Fn, right: Fn) -> Fn:
    """FHIRPath ``implies``: true when the left is false; empty stays empty where the
    specification's truth table says so (N1 §6.5.5)."""

    def op(coll: list[Node], root: Node) -> list[Node]:
        a = _truthy(left(coll, root))
        if a is False:
            return [Node(True, "boolean")]
        b = _truthy(right(coll, root))
        if b is True:
            return [Node(True, "boolean")]
        if a is None or b is None:
            return []
        return [Node(False, "boolean")]

    return op


def _equality(left: Fn, right: Fn, negate: bool) -> Fn:
    def op(coll: list[Node], root: Node) -> list[Node]:
        a, b = left(coll, root), right(coll, root)
        if not a or not b:
            return []
        equal = [n.value for n in a] == [n.value for n in b]
        return [Node(equal != negate, "boolean")]

    return op


def _as_type(inner: Fn, type_name: str) -> Fn:
    return lambda coll, root: [n for n in inner(coll, root) if _type_matches(n, type_name)]


def _is_type(inner: Fn, type_name: str) -> Fn:
    def op(coll: list[Node], root: Node) -> list[Node]:
        items = inner(coll, root)
        if len(items) != 1:
            return []
        return [Node(_type_matches(items[0], type_name), "boolean")]

    return op


def _resolve(coll: list[Node], _root: Node) -> list[Node]:
    out: list[Node] = []
    for n in coll:
        ref = n.value.get("reference") if isinstance(n.value, dict) else n.value
        if isinstance(ref, str):
            parts = ref.split("?")[0].split("/")
            if len(parts) >= 2 and parts[-1] and parts[-2][:1].isupper():
                out.append(Node(ref, parts[-2]))
            elif len(parts) >= 4 and parts[-2] == "_history":
                out.append(Node(ref, parts[-4]))
    return out


def _function(name: str, args: Sequence[Fn], raw_args: Sequence[str]) -> Fn:
    if name in ("as", "ofType", "is") and len(raw_args) == 1:
        type_name = raw_args[0]
        if name == "is":
            return lambda coll, root: (
                [Node(_type_matches(coll[0], type_name), "boolean")] if len(coll) == 1 else []
            )
        return lambda coll, root: [n for n in coll if _type_matches(n, type_name)]
    if name == "where" and len(args) == 1:
        criterion = args[0]
        return lambda coll, root: [n for n in coll if _truthy(criterion([n], root)) is True]
    if name == "exists" and not args:
        return lambda coll, root: [Node(bool(coll), "boolean")]
    if name == "exists" and len(args) == 1:
        test = args[0]
        return lambda coll, root: [
            Node(any(_truthy(test([n], root)) is True for n in coll), "boolean")
        ]
    if name == "all" and len(args) == 1:
        test = args[0]
        return lambda coll, root: [
            Node(all(_truthy(test([n], root)) is True for n in coll), "boolean")
        ]
    if name == "count" and not args:
        return lambda coll, root: [Node(len(coll), "integer")]
    if name == "hasValue" and not args:
        return lambda coll, root: [
            Node(len(coll) == 1 and not isinstance(coll[0].value, dict | list), "boolean")
        ]
    if name == "empty" and not args:
        return lambda coll, root: [Node(not coll, "boolean")]
    if name == "not" and not args:
        return lambda coll, root: (
            [] if _truthy(coll) is None else [Node(not _truthy(coll), "boolean")]
        )
    if name == "first" and not args:
        return lambda coll, root: coll[:1]
    if name == "resolve" and not args:
        return _resolve
    raise FhirPathSyntaxError(f"unsupported function {name}({', '.join(raw_args)})")


@dataclass(frozen=True)
class Expression:
    """A compiled expression; call :meth:`evaluate` with a resource (JSON dict)."""

    text: str
    _fn: Fn

    def evaluate(self, resource: dict[str, Any]) -> list[Node]:
        """Evaluate against ``resource`` (the root and initial context)."""
        root = Node(resource, str(resource.get("resourceType")))
        return self._fn([root], root)

    def evaluate_at(self, context: Node, resource: dict[str, Any]) -> list[Node]:
        """Evaluate with ``context`` as the input collection (an invariant on an element)
        and ``resource`` as the root."""
        root = Node(resource, str(resource.get("resourceType")))
        return self._fn([context], root)


def compile_expression(text: str) -> Expression:
    """Compile ``text``; raises :class:`FhirPathSyntaxError` outside the supported subset."""
    return Expression(text, _Parser(text).parse())


# ---------------------------------------------------------------- fast paths
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
