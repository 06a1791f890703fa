#!/usr/bin/env python3
"""Generate healthbridge/fhir/data/r4-definitions.json: the base-R4 validator's compiled rules.

Source: the StructureDefinitions, ValueSets and CodeSystems of the npm package
``hl7.fhir.r4.examples`` 4.0.1 (the core specification's definitions, installed by
``npm install`` in tools/node). Compiled for :mod:`healthbridge.fhir.base_validation`:

- ``primitives``: each primitive type's JSON type and the spec's lexical regex (the
  ``http://hl7.org/fhir/StructureDefinition/regex`` extension on ``<type>.value``);
- ``types``: every R4 resource type and every complex data type they reach, as
  ``nodes`` (an element path with children → its child elements: min, max, whether the JSON
  is an array, type codes, Reference targets, required binding, contentReference, error
  constraints other than ele-1/ext-1, which the validator implements natively);
- ``valueSets``: the expansion (system → codes) of every value set a required binding of
  those types names, when the package lets it be expanded (whole code systems with complete
  content, enumerated concepts, included value sets); ``unexpanded`` lists the others.

Run from the repository root (``--check`` compares with the committed file instead):

    .venv/bin/python scripts/build_r4_definitions.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tools/node/node_modules/hl7.fhir.r4.examples"
TARGET = ROOT / "healthbridge/fhir/data/r4-definitions.json"
CORE = "http://hl7.org/fhir/StructureDefinition/"
FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
NATIVE_CONSTRAINTS = {"ele-1", "ext-1"}

JSON = dict[str, Any]


class Package:
    """The package's conformance resources by kind, read once."""

    def __init__(self) -> None:
        self.sds: dict[str, JSON] = {}
        self.value_sets: dict[str, JSON] = {}
        self.code_systems: dict[str, JSON] = {}
        self.digest = hashlib.sha256()
        for path in sorted(PACKAGE.glob("*.json")):
            prefix = path.name.split("-", 1)[0]
            if prefix not in ("StructureDefinition", "ValueSet", "CodeSystem"):
                continue
            raw = path.read_bytes()
            self.digest.update(path.name.encode() + b"\0" + raw)
            doc = json.loads(raw)
            if prefix == "StructureDefinition":
                if doc.get("derivation") != "constraint" and doc.get("kind") != "logical":
                    self.sds[doc["type"] if doc["kind"] != "primitive-type" else doc["id"]] = doc
            elif prefix == "ValueSet":
                self.value_sets[doc["url"]] = doc
            else:
                self.code_systems[doc["url"]] = doc


def type_code(t: JSON, resource_id: bool) -> str:
    """The element's type; ``Resource.id`` (System.String in the snapshot) is of type id
    (R4 §2.28 "Resource.id": "Logical id of this artifact", type id)."""
    code = str(t["code"])
    if code.startswith("http://hl7.org/fhirpath/"):
        code = next(
            (str(x["valueUrl"]) for x in t.get("extension", []) if x["url"] == FHIR_TYPE), "string"
        )
        if resource_id:
            code = "id"
    return code


def primitives(pkg: Package) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for name, sd in pkg.sds.items():
        if sd["kind"] != "primitive-type":
            continue
        value = next(e for e in sd["snapshot"]["element"] if e["path"] == f"{name}.value")
        regex = None
        for t in value.get("type", []):
            for ext in t.get("extension", []):
                if ext["url"] == REGEX:
                    regex = ext["valueString"]
        if name in ("boolean",):
            kind = "boolean"
        elif name in ("integer", "positiveInt", "unsignedInt"):
            kind = "integer"
        elif name == "decimal":
            kind = "number"
        else:
            kind = "string"
        out[name] = {"json": kind, "regex": regex}
    return out


def compile_type(sd: JSON, required: set[str]) -> JSON:
    """The nodes of one StructureDefinition's snapshot."""
    elements = sd["snapshot"]["element"]
    paths = {e["path"] for e in elements}
    root = elements[0]
    nodes: dict[str, dict[str, JSON]] = {}
    for e in elements[1:]:
        path = e["path"]
        parent, _, name = path.rpartition(".")
        spec: JSON = {"min": e.get("min", 0), "max": e.get("max", "*")}
        base_max = e.get("base", {}).get("max", spec["max"])
        spec["array"] = base_max != "1"
        if "contentReference" in e:
            spec["ref"] = e["contentReference"].lstrip("#")
        else:
            resource_id = sd["kind"] == "resource" and path == f"{sd['type']}.id"
            types = [type_code(t, resource_id) for t in e.get("type", [])]
            spec["types"] = types
            if any(p.startswith(path + ".") for p in paths) and types[0] in (
                "BackboneElement",
                "Element",
            ):
                spec["node"] = path
            targets = sorted(
                {
                    p.removeprefix(CORE)
                    for t in e.get("type", [])
                    if t["code"] == "Reference"
                    for p in t.get("targetProfile", [])
                }
            )
            if targets:
                spec["targets"] = targets
        binding = e.get("binding", {})
        if binding.get("strength") == "required" and binding.get("valueSet"):
            url = binding["valueSet"].split("|")[0]
            spec["binding"] = url
            required.add(url)
        invariants = [
            [c["key"], c["expression"]]
            for c in e.get("constraint", [])
            if c.get("severity") == "error"
            and c["key"] not in NATIVE_CONSTRAINTS
            and c.get("expression")
            and not c.get("source", CORE).startswith(CORE + "Element")
        ]
        if invariants:
            spec["invariants"] = invariants
        nodes.setdefault(parent, {})[name] = spec
    return {
        "kind": sd["kind"],
        "invariants": [
            [c["key"], c["expression"]]
            for c in root.get("constraint", [])
            if c.get("severity") == "error"
            and c["key"] not in NATIVE_CONSTRAINTS
            and c.get("expression")
        ],
        "nodes": nodes,
    }


def flatten(concepts: list[JSON]) -> list[str]:
    out: list[str] = []
    for c in concepts:
        out.append(c["code"])
        out.extend(flatten(c.get("concept", [])))
    return out


def expand(
    pkg: Package, url: str, seen: frozenset[str] = frozenset()
) -> dict[str, set[str]] | None:
    """system → codes of value set ``url``, or None when the package cannot expand it."""
    vs = pkg.value_sets.get(url)
    if vs is None or url in seen or "compose" not in vs:
        return None
    out: dict[str, set[str]] = {}
    for include in vs["compose"].get("include", []):
        part: dict[str, set[str]] = {}
        if include.get("filter"):
            return None
        system = include.get("system")
        if system is not None:
            if include.get("concept"):
                part[system] = {c["code"] for c in include["concept"]}
            else:
                cs = pkg.code_systems.get(system)
                if cs is None or cs.get("content") != "complete":
                    return None
                part[system] = set(flatten(cs.get("concept", [])))
        for ref in include.get("valueSet", []):
            sub = expand(pkg, ref.split("|")[0], seen | {url})
            if sub is None:
                return None
            if system is not None:  # intersection of the system part with the value set
                part = {system: part[system] & sub.get(system, set())}
            else:
                for s, codes in sub.items():
                    part.setdefault(s, set()).update(codes)
        for s, codes in part.items():
            out.setdefault(s, set()).update(codes)
    for exclude in vs["compose"].get("exclude", []):
        if exclude.get("filter") or exclude.get("valueSet") or not exclude.get("concept"):
            return None
        out.get(exclude["system"], set()).difference_update(c["code"] for c in exclude["concept"])
    return out


def build() -> str:
    sys.path.insert(0, str(ROOT))
    from healthbridge.fhir.r4 import SUPPORTED_TYPES

    pkg = Package()
    required: set[str] = set()
    types: dict[str, JSON] = {}
    # every resource type: contained resources and Bundle entries may be of any type
    todo = [n for n, sd in pkg.sds.items() if sd["kind"] == "resource"] + ["Extension"]
    while todo:
        name = todo.pop()
        if name in types or name not in pkg.sds or pkg.sds[name]["kind"] == "primitive-type":
            continue
        compiled = compile_type(pkg.sds[name], required)
        types[name] = compiled
        for children in compiled["nodes"].values():
            for spec in children.values():
                todo.extend(t for t in spec.get("types", []) if t[:1].isupper())
    value_sets: dict[str, dict[str, list[str]]] = {}
    unexpanded: list[str] = []
    for url in sorted(required):
        expansion = expand(pkg, url)
        if expansion is None or not any(expansion.values()):
            unexpanded.append(url)
        else:
            value_sets[url] = {s: sorted(c) for s, c in sorted(expansion.items())}
    document = {
        "source": "hl7.fhir.r4.examples 4.0.1: StructureDefinition-*, ValueSet-*, CodeSystem-*",
        "sourceSha256": pkg.digest.hexdigest(),
        "fhirVersion": "4.0.1",
        "generator": "scripts/build_r4_definitions.py",
        "supportedTypes": list(SUPPORTED_TYPES),
        "primitives": dict(sorted(primitives(pkg).items())),
        "types": dict(sorted(types.items())),
        "valueSets": value_sets,
        "unexpanded": unexpanded,
    }
    return json.dumps(document, sort_keys=False, separators=(",", ":"), ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--target", type=Path, default=TARGET, help="the compiled file")
    args = parser.parse_args()
    text = build()
    if args.check:
        current = args.target.read_text(encoding="utf-8") if args.target.exists() else ""
        if current != text:
            print(f"differs: {args.target} (run scripts/build_r4_definitions.py)")
            return 1
        print(f"up to date: {args.target}")
        return 0
    args.target.parent.mkdir(parents=True, exist_ok=True)
    args.target.write_text(text, encoding="utf-8")
    print(f"wrote {args.target}: {len(text) // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
