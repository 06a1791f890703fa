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

This module holds the parser and the interpreter (``compile_expression``); the collections,
type rules and navigation it evaluates with are in :mod:`healthbridge.fhir.fhirpath_nodes`,
the fast paths for the simple shapes of most search parameters in
:mod:`healthbridge.fhir.fhirpath_simple`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from healthbridge.fhir.fhirpath_nodes import (
    FhirPathSyntaxError,
    Node,
    _children,
    _infer_type,
    _resolve,
    _type_matches,
)

__all__ = [
    "Expression",
    "FhirPathSyntaxError",
    "Node",
    "compile_expression",
]


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
