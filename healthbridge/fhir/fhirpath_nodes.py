"""The collections the FHIRPath subset works on, and the type and navigation rules they follow.

Shared by the interpreter (:mod:`healthbridge.fhir.fhirpath`) and its fast paths
(:mod:`healthbridge.fhir.fhirpath_simple`): :class:`Node` (one item of a collection with its
FHIR type), the syntax error, the FHIR and FHIRPath system type names (FHIRPath N1 §6.3 type
operators, FHIR R4 §2.24 choice elements ``value[x]``), member navigation
(:func:`_children`), ``resolve()`` (:func:`_resolve`) and :func:`split_union`.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = ["FhirPathSyntaxError", "Node", "split_union"]


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
