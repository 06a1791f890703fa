"""ValueSet expansion and ConceptMap translation over our packaged terminology.

Expansion follows FHIR R4 ValueSet ``compose`` (§4.9.5) for what our value sets use:
``include`` of a whole (our) CodeSystem or of an enumerated concept list (any system).
Anything else (``valueSet`` references, filters, ``exclude``, or a whole external code system
such as LOINC, which cannot be expanded offline) raises :class:`ExpansionError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .loader import UnknownCanonicalError, is_known, resource_by_url, split_canonical


class ExpansionError(ValueError):
    """A value set cannot be expanded from the packaged resources."""


@dataclass(frozen=True, order=True)
class Concept:
    """One (system, code) of an expansion, with its English display when known."""

    system: str
    code: str
    display: str | None = None


def _walk(concepts: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for concept in concepts:
        yield concept
        yield from _walk(concept.get("concept", []))


def _system_concepts(system: str) -> list[Concept]:
    try:
        cs = resource_by_url(system, "CodeSystem", copy=False)
    except UnknownCanonicalError:
        raise ExpansionError(f"cannot expand the whole of external code system {system}") from None
    return [Concept(system, c["code"], c.get("display")) for c in _walk(cs.get("concept", []))]


def _component(component: dict[str, Any]) -> set[Concept]:
    system = component.get("system")
    if system is None or "valueSet" in component or "filter" in component:
        raise ExpansionError("only include by system (whole or with a concept list) is supported")
    if "concept" in component:
        return {Concept(system, c["code"], c.get("display")) for c in component["concept"]}
    return set(_system_concepts(system))


@cache
def expand(canonical: str) -> frozenset[Concept]:
    """Every concept of one of our ValueSets."""
    vs = resource_by_url(canonical, "ValueSet", copy=False)
    compose = vs.get("compose", {})
    if compose.get("exclude"):
        raise ExpansionError(f"{canonical}: compose.exclude is not supported")
    included: set[Concept] = set()
    for component in compose.get("include", []):
        included |= _component(component)
    return frozenset(included)


@cache
def _keys(canonical: str) -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    concepts = expand(canonical)
    return frozenset((c.system, c.code) for c in concepts), frozenset(c.code for c in concepts)


def is_expandable(canonical: str) -> bool:
    """Whether ``canonical`` is one of our packaged ValueSets."""
    url, _ = split_canonical(canonical)
    return is_known(url) and url.split("/")[-2] == "ValueSet"


def contains(canonical: str, system: str | None, code: str) -> bool:
    """Whether (system, code) is in the value set; ``system=None`` matches a bare ``code``."""
    pairs, codes = _keys(split_canonical(canonical)[0])
    if system is None:
        return code in codes
    return (system, code) in pairs


@dataclass(frozen=True)
class MappedCode:
    """One ConceptMap target: the code (None when unmatched), equivalence and comment."""

    system: str
    code: str | None
    equivalence: str
    comment: str | None


def translate(
    concept_map: str, system: str, code: str, target_system: str | None = None
) -> tuple[MappedCode, ...]:
    """Targets of (system, code) in one of our ConceptMaps, optionally for one target system."""
    cm = resource_by_url(concept_map, "ConceptMap", copy=False)
    out: list[MappedCode] = []
    for group in cm.get("group", []):
        if group.get("source") != system or (
            target_system is not None and group.get("target") != target_system
        ):
            continue
        for element in group.get("element", []):
            if element.get("code") == code:
                out.extend(
                    MappedCode(group["target"], t.get("code"), t["equivalence"], t.get("comment"))
                    for t in element.get("target", [])
                )
    return tuple(out)
