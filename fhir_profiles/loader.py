"""Typed, lazy access to the packaged conformance resources by canonical URL.

Files are read through :mod:`importlib.resources` on first use and cached; nothing is read at
import time. Public functions return deep copies so callers cannot corrupt the cache; the
validator uses :func:`resource_by_url` with ``copy=False`` for speed and never mutates.
"""

from __future__ import annotations

import copy as _copy
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

CANONICAL_BASE = "https://healthbridge.github.io/fhir"
VERSION = "0.1.0"

JSONObject = dict[str, Any]


class UnknownCanonicalError(LookupError):
    """No packaged conformance resource has this canonical URL (or this version of it)."""


@dataclass(frozen=True)
class IndexEntry:
    """One row of ``index.json``."""

    resource_type: str
    id: str
    url: str
    version: str
    name: str
    title: str
    type: str | None
    kind: str | None
    file: str


@dataclass(frozen=True)
class InvalidExpectation:
    """What the validator must report for one invalid example."""

    profile: str
    issues: tuple[tuple[str, str], ...]  # (FHIRPath expression, issue-type code)
    base_r4_invalid: bool


def _read_json(relative: str) -> Any:
    text = resources.files("fhir_profiles").joinpath(relative).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def index() -> tuple[IndexEntry, ...]:
    """Every packaged conformance resource, in publication order."""
    rows = _read_json("index.json")
    return tuple(
        IndexEntry(
            resource_type=r["resourceType"],
            id=r["id"],
            url=r["url"],
            version=r["version"],
            name=r["name"],
            title=r["title"],
            type=r.get("type"),
            kind=r.get("kind"),
            file=r["file"],
        )
        for r in rows
    )


@cache
def _by_url() -> dict[str, IndexEntry]:
    return {entry.url: entry for entry in index()}


@cache
def _load(url: str) -> JSONObject:
    entry = _by_url()[url]
    data: JSONObject = _read_json(entry.file)
    return data


def split_canonical(canonical: str) -> tuple[str, str | None]:
    """``url|version`` → (url, version or None)."""
    url, _, version = canonical.partition("|")
    return url, (version or None)


def is_known(canonical: str) -> bool:
    """Whether ``canonical`` (optionally ``|version``) names a packaged resource."""
    url, version = split_canonical(canonical)
    entry = _by_url().get(url)
    return entry is not None and (version is None or version == entry.version)


def resource_by_url(
    canonical: str, resource_type: str | None = None, *, copy: bool = True
) -> JSONObject:
    """The resource with this canonical URL (``|version`` allowed).

    Raises :class:`UnknownCanonicalError` if none is packaged, the version differs, or it is
    not of ``resource_type``.
    """
    url, version = split_canonical(canonical)
    entry = _by_url().get(url)
    if entry is None or (version is not None and version != entry.version):
        raise UnknownCanonicalError(canonical)
    if resource_type is not None and entry.resource_type != resource_type:
        raise UnknownCanonicalError(
            f"{canonical} is a {entry.resource_type}, not a {resource_type}"
        )
    data = _load(url)
    return _copy.deepcopy(data) if copy else data


def structure_definition(canonical: str) -> JSONObject:
    """A StructureDefinition (with differential and snapshot) by canonical URL."""
    return resource_by_url(canonical, "StructureDefinition")


def code_system(canonical: str) -> JSONObject:
    """A CodeSystem by canonical URL."""
    return resource_by_url(canonical, "CodeSystem")


def value_set(canonical: str) -> JSONObject:
    """A ValueSet (compose only; see :mod:`fhir_profiles.terminology` to expand)."""
    return resource_by_url(canonical, "ValueSet")


def concept_map(canonical: str) -> JSONObject:
    """A ConceptMap by canonical URL."""
    return resource_by_url(canonical, "ConceptMap")


def questionnaire(canonical: str) -> JSONObject:
    """A Questionnaire by canonical URL."""
    return resource_by_url(canonical, "Questionnaire")


def search_parameters() -> tuple[JSONObject, ...]:
    """Every packaged SearchParameter (custom search parameters the server indexes)."""
    return tuple(resource_by_url(url, "SearchParameter") for url in urls("SearchParameter"))


def urls(resource_type: str | None = None) -> tuple[str, ...]:
    """Canonical URLs of every packaged resource (of one type)."""
    return tuple(
        e.url for e in index() if resource_type is None or e.resource_type == resource_type
    )


def profile_urls() -> tuple[str, ...]:
    """Canonical URLs of our resource profiles (extensions excluded)."""
    return tuple(
        e.url for e in index() if e.resource_type == "StructureDefinition" and e.kind == "resource"
    )


def example_names(kind: Literal["valid", "invalid"]) -> tuple[str, ...]:
    """File names of the packaged examples of one kind."""
    folder = resources.files("fhir_profiles").joinpath("examples", kind)
    return tuple(
        sorted(
            p.name
            for p in folder.iterdir()
            if p.name.endswith(".json") and p.name != "expected-issues.json"
        )
    )


def example(kind: Literal["valid", "invalid"], name: str) -> JSONObject:
    """One packaged example resource."""
    data: JSONObject = _read_json(f"examples/{kind}/{name}")
    return data


@cache
def _expectations() -> dict[str, InvalidExpectation]:
    raw = _read_json("examples/invalid/expected-issues.json")
    return {
        name: InvalidExpectation(
            profile=v["profile"],
            issues=tuple((i["expression"], i["code"]) for i in v["issues"]),
            base_r4_invalid=v["base_r4_invalid"],
        )
        for name, v in raw.items()
    }


def invalid_expectation(name: str) -> InvalidExpectation:
    """What the validator must report for the invalid example ``name``."""
    return _expectations()[name]
