"""Validate a resource against the base FHIR R4 (4.0.1) definitions: the door of every write.

The rules are the official StructureDefinitions, ValueSets and CodeSystems of the core
specification, compiled by ``scripts/build_r4_definitions.py`` into
``healthbridge/fhir/data/r4-definitions.json`` (a test checks the file equals a fresh build).
Checked, after R4 "Validating Resources" (§2.24.0.9) and JSON representation (§2.6.2):

- cardinality (min/max) of every element, and array-vs-single JSON form;
- JSON types of primitives and their lexical form (the spec's ``regex`` for each primitive
  type; positiveInt ≥ 1, unsignedInt ≥ 0, integer 32-bit);
- unknown elements (and ``_x`` primitive extensions only beside primitive elements);
- ele-1 natively: no empty objects, arrays or strings, no JSON ``null`` outside ``_x`` arrays;
- extensions: ext-1 natively (a value or nested extensions, not both), ``url`` required,
  ``value[x]`` among the R4 open types;
- choice types (one ``x[x]`` key at most, of an allowed type);
- Reference target types (the type in ``reference`` against the element's targetProfile);
- required bindings against the expanded R4 value sets (``code``, ``Coding``,
  ``CodeableConcept``); the two the package cannot expand (MIME types, currencies) are not;
- the error-severity invariants whose FHIRPath the project's FHIRPath subset
  (:mod:`healthbridge.fhir.fhirpath`) compiles; :func:`unchecked_invariants` lists the rest.

Contained resources and ``Bundle.entry.resource`` are validated as resources of their own
type (any R4 resource type; a top-level resource must be a supported type).

Hand-written rather than a library because no maintained Python package validates R4 JSON
against the core definitions (``fhir.resources`` models skip bindings, ele-1 and ext-1); the
compiled rules keep the engine small and fast. Profiles
(:mod:`healthbridge.fhir.profile_validation`) layer on top: base first, then profile.
Pure: no web or database imports.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from healthbridge.fhir.fhirpath import Expression, FhirPathSyntaxError, Node, compile_expression
from healthbridge.fhir.profile_validation import ValidationIssue

JSON = dict[str, Any]
DATA = Path(__file__).parent / "data" / "r4-definitions.json"
_INT32 = (-(2**31), 2**31 - 1)


@cache
def definitions() -> JSON:
    """The compiled R4 definitions (read once)."""
    data: JSON = json.loads(DATA.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True, slots=True)
class _Primitive:
    name: str
    json: str
    regex: re.Pattern[str] | None
    dated: bool  # date, dateTime, instant: the day must exist


@dataclass(frozen=True, slots=True)
class _Element:
    name: str
    path: str
    min: int
    max: int | None
    array: bool
    types: tuple[str, ...]
    choice: bool
    node: tuple[str, str] | None  # (type, path) of its own children: backbone or contentRef
    targets: frozenset[str] | None
    binding: str | None
    invariants: tuple[_Invariant, ...]
    #: the JSON keys of its values (``valueQuantity`` … for a choice) and of their ``_x``
    value_keys: tuple[str, ...]
    any_keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Invariant:
    """A compiled invariant. ``keys``: the JSON keys its expression can read on its context
    (None when it may read elsewhere, e.g. names a type); when none of them is present the
    result is ``holds_when_absent``, computed once on an empty object."""

    key: str
    expression: Expression
    keys: frozenset[str] | None
    holds_when_absent: bool
    #: for expressions that only test whether elements exist (``a.empty() or b.exists()``):
    #: the result by which of ``keys`` are present (filled as met)
    by_presence: dict[frozenset[str], bool] | None


@dataclass(frozen=True, slots=True)
class _Node:
    type: str
    path: str
    elements: tuple[_Element, ...]
    #: JSON key → (element, its type code for that key, is the ``_x`` primitive extension)
    keys: dict[str, tuple[_Element, str, bool]]
    required: tuple[_Element, ...]
    choices: tuple[_Element, ...]
    invariants: tuple[_Invariant, ...]


def _upper(code: str) -> str:
    return code[:1].upper() + code[1:]


@cache
def _primitive(name: str) -> _Primitive | None:
    spec = definitions()["primitives"].get(name)
    if spec is None:
        return None
    regex = spec["regex"]
    # ASCII classes, as in the Java regexes the specification's validator applies (\S then
    # matches a no-break space, which R4's own examples contain)
    return _Primitive(
        name,
        spec["json"],
        re.compile(regex, re.ASCII) if regex else None,
        name in ("date", "dateTime", "instant"),
    )


@cache
def _compiled(key: str, expression: str) -> Expression | None:
    del key
    try:
        return compile_expression(expression)
    except FhirPathSyntaxError:
        return None


#: ``a.empty() or b.exists() …``: the result depends on which elements are present only (an
#: element present but empty breaks ele-1, which is reported anyway).
_PRESENCE_ONLY = re.compile(
    r"\(?[a-z]\w*\.(?:empty|exists)\(\)\)?(?:\s+(?:or|and|implies)\s+\(?[a-z]\w*\.(?:empty|exists)\(\)\)?)*"
)
_IDENTIFIER = re.compile(r"'(?:[^'\\]|\\.)*'|([A-Za-z_%$][A-Za-z0-9_]*)")


def _invariants(
    raw: list[list[str]], type_name: str, choices: dict[str, list[str]]
) -> tuple[_Invariant, ...]:
    out: list[_Invariant] = []
    for key, expression in raw:
        compiled = _compiled(key, expression)
        if compiled is None:
            continue
        names = {m for m in _IDENTIFIER.findall(expression) if m}
        keys: frozenset[str] | None = None
        holds = True
        if not any(n[:1].isupper() or n[:1] in "%$" for n in names):
            expanded = set(names)
            for n in names:
                expanded.update(choices.get(n, ()))
            keys = frozenset(expanded)
            result = compiled.evaluate_at(Node({}, type_name), {})
            holds = not (len(result) == 1 and result[0].value is False)
        presence_only = keys is not None and _PRESENCE_ONLY.fullmatch(expression) is not None
        out.append(_Invariant(key, compiled, keys, holds, {} if presence_only else None))
    return tuple(out)


_COMPILED: list[tuple[str, str]] = []


@cache
def _node(type_name: str, path: str) -> _Node:
    tdef = definitions()["types"][type_name]
    elements: list[_Element] = []
    keys: dict[str, tuple[_Element, str, bool]] = {}
    for name, spec in tdef["nodes"].get(path, {}).items():
        choice = name.endswith("[x]")
        ref = spec.get("ref")
        child_path = spec.get("node")
        node = (type_name, ref) if ref else (type_name, child_path) if child_path else None
        types = tuple(spec.get("types", ["BackboneElement"] if ref else []))
        value_keys = tuple(name[:-3] + _upper(t) for t in types) if choice else (name,)
        el = _Element(
            name=name[:-3] if choice else name,
            path=f"{path}.{name}",
            min=int(spec["min"]),
            max=None if spec["max"] == "*" else int(spec["max"]),
            array=bool(spec["array"]),
            types=types,
            choice=choice,
            node=node,
            targets=frozenset(spec["targets"]) if "targets" in spec else None,
            binding=spec.get("binding"),
            invariants=_invariants(spec.get("invariants", []), "", {}),
            value_keys=value_keys,
            any_keys=frozenset(value_keys) | {"_" + k for k in value_keys},
        )
        elements.append(el)
        if choice:
            for t in types:
                keys[el.name + _upper(t)] = (el, t, False)
                if t[:1].islower():
                    keys["_" + el.name + _upper(t)] = (el, t, True)
        else:
            tcode = types[0] if types else "BackboneElement"
            keys[name] = (el, tcode, False)
            if tcode[:1].islower():
                keys["_" + name] = (el, tcode, True)
    choices = {e.name: [e.name + _upper(t) for t in e.types] for e in elements if e.choice}
    _COMPILED.append((type_name, path))
    root_invariants = (
        _invariants(tdef["invariants"], type_name, choices) if path == type_name else ()
    )
    return _Node(
        type_name,
        path,
        tuple(elements),
        keys,
        tuple(e for e in elements if e.min > 0),
        tuple(e for e in elements if e.choice),
        root_invariants,
    )


@cache
def _value_set(url: str) -> tuple[frozenset[tuple[str, str]], frozenset[str]] | None:
    expansion = definitions()["valueSets"].get(url)
    if expansion is None:
        return None
    pairs = frozenset((s, c) for s, codes in expansion.items() for c in codes)
    return pairs, frozenset(c for _s, c in pairs)


@cache
def supported_types() -> frozenset[str]:
    """The types the server stores (a top-level resource must be one of them)."""
    return frozenset(definitions()["supportedTypes"])


@cache
def resource_types() -> frozenset[str]:
    """Every R4 resource type (contained resources and Bundle entries may be any)."""
    return frozenset(t for t, d in definitions()["types"].items() if d["kind"] == "resource")


class _Run:
    """One validation: collects issues while walking the resource."""

    __slots__ = ("issues", "resource_types", "root", "supported")

    def __init__(self) -> None:
        self.issues: list[ValidationIssue] = []
        self.supported = supported_types()
        self.resource_types = resource_types()
        self.root: JSON = {}

    def add(self, code: str, loc: str, diagnostics: str) -> None:
        self.issues.append(ValidationIssue("error", code, diagnostics, loc))

    # -- resources -------------------------------------------------------------------------
    def resource(self, value: Any, loc: str) -> None:
        if not isinstance(value, dict):
            self.add("structure", loc, "Expected a resource (a JSON object)")
            return
        rtype = value.get("resourceType")
        known = self.supported if not loc else self.resource_types
        if not isinstance(rtype, str) or rtype not in known:
            self.add(
                "not-supported",
                f"{loc}.resourceType" if loc else "resourceType",
                f"Unsupported or missing resourceType: {rtype!r}",
            )
            return
        outer, self.root = self.root, value
        try:
            self.object(_node(rtype, rtype), value, loc or rtype, resource=True)
        finally:
            self.root = outer

    # -- objects ---------------------------------------------------------------------------
    def object(self, node: _Node, obj: JSON, loc: str, resource: bool = False) -> None:
        if not obj or (resource and len(obj) == 1):
            self.add("invariant", loc, "ele-1: an element must have a value or children")
        keys = node.keys
        for key, value in obj.items():
            hit = keys.get(key)
            if hit is None:
                if not (resource and key == "resourceType"):
                    self.add("structure", f"{loc}.{key}", f"Unknown element '{key}'")
                continue
            el, tcode, underscore = hit
            self.member(el, tcode, underscore, key, value, f"{loc}.{key}")
        for el in node.required:
            if el.any_keys.isdisjoint(obj):
                self.add(
                    "required",
                    f"{loc}.{el.name}",
                    f"Minimum cardinality of {el.path} is {el.min}, found 0",
                )
        for el in node.choices:
            found = [k for k in el.value_keys if k in obj]
            if len(found) > 1:
                self.add(
                    "structure",
                    f"{loc}.{el.name}",
                    f"Only one of {', '.join(found)} is allowed ({el.path})",
                )
        if node.invariants:
            self.invariants(node.invariants, obj, node.type, loc)

    def member(
        self, el: _Element, tcode: str, underscore: bool, key: str, value: Any, loc: str
    ) -> None:
        if value is None:
            self.add("structure", loc, "JSON null is not a valid FHIR value")
            return
        if el.array:
            if not isinstance(value, list):
                self.add("structure", loc, f"Expected an array of values for {el.path}")
                value = [value]
            elif not value:
                self.add("invariant", loc, "ele-1: an array must not be empty")
                return
            if el.max is not None and len(value) > el.max and not underscore:
                self.add(
                    "structure",
                    loc,
                    f"Maximum cardinality of {el.path} is {el.max}, found {len(value)}",
                )
            for i, item in enumerate(value):
                iloc = f"{loc}[{i}]"
                if item is None:
                    if not underscore:
                        self.add("structure", iloc, "JSON null is not a valid FHIR value")
                    continue
                self.item(el, tcode, underscore, item, iloc)
        elif isinstance(value, list):
            self.add("structure", loc, f"Expected a single value, not an array ({el.path})")
        else:
            self.item(el, tcode, underscore, value, loc)

    def item(self, el: _Element, tcode: str, underscore: bool, value: Any, loc: str) -> None:
        if underscore:  # the id/extensions of a primitive: an Element
            if not isinstance(value, dict):
                self.add("structure", loc, "Expected a JSON object (id and extensions)")
            else:
                self.object(_node("Element", "Element"), value, loc)
            return
        prim = _primitive(tcode)
        if prim is not None:
            problem = _primitive_problem(prim, value)
            if problem is not None:
                self.add(problem[0], loc, problem[1])
            if el.binding is not None and tcode == "code" and isinstance(value, str):
                self.binding(el, tcode, value, loc)
        elif tcode == "Resource":
            self.resource(value, loc)
            return
        elif not isinstance(value, dict):
            self.add("structure", loc, f"Expected a JSON object for {el.path} ({tcode})")
            return
        else:
            if el.node is not None:
                self.object(_node(*el.node), value, loc)
            else:
                self.object(_node(tcode, tcode), value, loc)
                if tcode == "Extension":
                    self.extension(value, loc)
                elif tcode == "Reference" and el.targets is not None:
                    self.reference(el, value, loc)
            if el.binding is not None:
                self.binding(el, tcode, value, loc)
        if el.invariants:
            self.invariants(el.invariants, value, tcode, loc)

    # -- leaves ----------------------------------------------------------------------------
    def binding(self, el: _Element, tcode: str, value: Any, loc: str) -> None:
        url = el.binding
        assert url is not None
        expansion = _value_set(url)
        if expansion is None:
            return
        pairs, codes = expansion
        if tcode == "code":
            ok = value in codes
        elif tcode == "Coding":
            ok = "code" not in value or _coded(value, pairs, codes)
        elif tcode == "CodeableConcept":
            codings = [c for c in value.get("coding", ()) if isinstance(c, dict) and "code" in c]
            ok = not codings or any(_coded(c, pairs, codes) for c in codings)
        else:
            return
        if not ok:
            self.add("code-invalid", loc, f"{_shown(value)} is not in the required value set {url}")

    def extension(self, value: JSON, loc: str) -> None:
        has_value = any(k.startswith(("value", "_value")) for k in value)
        if bool(value.get("extension")) == has_value:
            self.add(
                "invariant",
                loc,
                "ext-1: an extension must have either extensions or a value[x], not both",
            )

    def reference(self, el: _Element, value: JSON, loc: str) -> None:
        targets = el.targets
        assert targets is not None
        ref = value.get("reference")
        if "Resource" in targets or not isinstance(ref, str) or ref.startswith(("#", "urn:")):
            return
        parts = ref.split("?")[0].split("/_history/")[0].split("/")
        if len(parts) < 2:
            return
        rtype = parts[-2]
        if rtype not in targets:
            self.add(
                "invalid",
                f"{loc}.reference",
                f"Reference to {rtype} is not allowed for {el.path}"
                f" (allowed: {', '.join(sorted(targets))})",
            )

    def invariants(
        self, invariants: tuple[_Invariant, ...], value: Any, tcode: str, loc: str
    ) -> None:
        context = Node(value, tcode)
        for inv in invariants:
            if inv.keys is not None and isinstance(value, dict) and inv.keys.isdisjoint(value):
                holds = inv.holds_when_absent
            elif inv.by_presence is not None and isinstance(value, dict):
                assert inv.keys is not None
                present = inv.keys.intersection(value)
                found = inv.by_presence.get(present)
                if found is None:
                    result = inv.expression.evaluate_at(context, self.root)
                    found = not (len(result) == 1 and result[0].value is False)
                    if len(inv.by_presence) < 256:
                        inv.by_presence[present] = found
                holds = found
            else:
                try:
                    result = inv.expression.evaluate_at(context, self.root)
                except (TypeError, ValueError, AttributeError, IndexError):
                    continue  # the expression met a shape it cannot read: not checked
                holds = not (len(result) == 1 and result[0].value is False)
            if not holds:
                self.add("invariant", loc, f"Constraint {inv.key} failed: {inv.expression.text}")


def primitive_problem(type_name: str, value: Any) -> tuple[str, str] | None:
    """(issue code, diagnostics) when ``value`` is not a valid JSON value of primitive type
    ``type_name``, else None (also for non-primitive types). Shared with the profile
    validator (:mod:`healthbridge.fhir.profile_primitives`)."""
    prim = _primitive(type_name)
    return None if prim is None else _primitive_problem(prim, value)


def _primitive_problem(prim: _Primitive, value: Any) -> tuple[str, str] | None:
    kind = prim.json
    if kind == "string":
        ok = isinstance(value, str)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        found = type(value).__name__
        return "structure", f"Expected a JSON {kind} for FHIR type {prim.name}, found {found}"
    if kind == "string":
        if not value.strip():
            return "invariant", "ele-1: a string must not be empty or blank"
        if (prim.regex is not None and prim.regex.fullmatch(value) is None) or (
            prim.dated and not _real_date(value)
        ):
            return "value", f"{value[:80]!r} is not a valid {prim.name}"
    elif kind == "number":
        # a JSON integer of any length is a valid decimal (arbitrary precision, R4 §2.24.0.1);
        # only a float can be infinite (``1e400``) or NaN
        if isinstance(value, float) and not math.isfinite(value):
            return "value", f"{value} is not a valid {prim.name}"
    elif kind == "integer":
        low = {"positiveInt": 1, "unsignedInt": 0}.get(prim.name, _INT32[0])
        if not low <= value <= _INT32[1]:
            return "value", f"{value} is not a valid {prim.name}"
    return None


def _shown(value: Any) -> str:
    """The code(s) of a coded value, for a message: ``'robot'``, ``system|code``."""
    if isinstance(value, str):
        return repr(value[:80])
    codings = value.get("coding", [value]) if isinstance(value, dict) else []
    return ", ".join(
        f"{c.get('system', '')}|{c.get('code', '')}" for c in codings if isinstance(c, dict)
    )


def _real_date(value: str) -> bool:
    """A full date in a date/dateTime/instant names a real day (the regexes allow 02-30), as
    the reference validator checks."""
    if len(value) < 10:
        return True
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def _coded(coding: JSON, pairs: frozenset[tuple[str, str]], codes: frozenset[str]) -> bool:
    code, system = coding.get("code"), coding.get("system")
    if system is None:
        return code in codes
    return (system, code) in pairs


def validate_base(resource: Any) -> list[ValidationIssue]:
    """Every issue of ``resource`` against the base R4 definitions (empty when valid)."""
    run = _Run()
    run.resource(resource, "")
    return list(dict.fromkeys(run.issues))


def checked_invariants() -> dict[str, list[str]]:
    """Type → keys of the error invariants the validator evaluates."""
    return _invariant_report(True)


def unchecked_invariants() -> dict[str, list[str]]:
    """Type → keys of the error invariants outside the FHIRPath subset (not checked)."""
    return _invariant_report(False)


def _invariant_report(checked: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for type_name, tdef in definitions()["types"].items():
        raw = list(tdef["invariants"])
        for children in tdef["nodes"].values():
            for spec in children.values():
                raw.extend(spec.get("invariants", []))
        keys = sorted({k for k, e in raw if (_compiled(k, e) is not None) == checked})
        if keys:
            out[type_name] = keys
    return out


def _compiled_nodes() -> list[tuple[str, str]]:
    """(type, path) of the nodes compiled so far (for tests of the start-up warm-up)."""
    return list(_COMPILED)


def warm_up() -> None:
    """Compile the rules of every supported type and of the data types they reach."""
    for type_name in supported_types() | {"Element", "Extension"}:
        _warm(type_name)


def _warm(type_name: str) -> None:
    tdef = definitions()["types"].get(type_name)
    if tdef is None:
        return
    for path, children in tdef["nodes"].items():
        _node(type_name, path)
        for spec in children.values():
            for t in spec.get("types", []):
                if t[:1].isupper() and t != "Resource" and (t, t) not in _WARMED:
                    _WARMED.add((t, t))
                    _warm(t)
                _primitive(t)
            if "binding" in spec:
                _value_set(spec["binding"])


_WARMED: set[tuple[str, str]] = set()
