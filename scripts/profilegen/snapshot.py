"""Snapshot generation: apply a differential to its base definition's snapshot.

Follows FHIR R4 "Profiling" §5.1.0.4 (snapshot generation) for the subset of constraints our
profiles use: cardinality, types (including type slices ``value[x]:valueQuantity``),
fixed[x]/pattern[x], bindings, slicing and slices, invariants (appended), and the expansion of a
datatype's elements (from its own StructureDefinition) when a differential reaches inside it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path

from .common import JSON


class SnapshotError(ValueError):
    """A differential element cannot be placed in the base snapshot."""


_NOT_MERGED = {"id", "path"}


class BaseDefinitions:
    """The R4 base StructureDefinitions (resources, datatypes, core profiles) by URL."""

    def __init__(self, node_modules: Path) -> None:
        self._by_url: dict[str, JSON] = {}
        r4 = node_modules / "@medplum" / "definitions" / "dist" / "fhir" / "r4"
        for name in ("profiles-types.json", "profiles-resources.json"):
            bundle = json.loads((r4 / name).read_text(encoding="utf-8"))
            for entry in bundle["entry"]:
                res = entry["resource"]
                if res.get("resourceType") == "StructureDefinition":
                    self._by_url[res["url"]] = res
        examples = node_modules / "hl7.fhir.r4.examples"
        for name in ("vitalsigns", "bodyweight", "bodyheight", "headcircum", "bmi", "bodytemp"):
            res = json.loads(
                (examples / f"StructureDefinition-{name}.json").read_text(encoding="utf-8")
            )
            self._by_url[res["url"]] = res

    def get(self, url: str) -> JSON:
        try:
            return self._by_url[url]
        except KeyError:
            raise SnapshotError(f"no base definition for {url}") from None

    def datatype(self, code: str) -> JSON:
        return self.get(f"http://hl7.org/fhir/StructureDefinition/{code}")


def _split_last(element_id: str) -> tuple[str, str]:
    parent, _, last = element_id.rpartition(".")
    return parent, last


def _index(snapshot: list[JSON], element_id: str) -> int | None:
    for i, element in enumerate(snapshot):
        if element["id"] == element_id:
            return i
    return None


def _end_of_group(snapshot: list[JSON], start: int, element_id: str) -> int:
    """Index just after the element at ``start``, its descendants and its slices."""
    i = start + 1
    while i < len(snapshot):
        other = snapshot[i]["id"]
        if other.startswith(element_id + ".") or other.startswith(element_id + ":"):
            i += 1
        else:
            break
    return i


def _type_of_parent(parent: JSON) -> str:
    types = [t["code"] for t in parent.get("type", [])]
    slice_name = parent.get("sliceName")
    if len(types) != 1 and slice_name:
        prefix = parent["path"].rsplit(".", 1)[-1].removesuffix("[x]")
        types = [t for t in types if prefix + t[:1].upper() + t[1:] == slice_name]
    if len(types) != 1:
        raise SnapshotError(f"cannot expand {parent['id']}: types {types}")
    return str(types[0])


def _ensure(snapshot: list[JSON], element_id: str, bases: BaseDefinitions) -> int:
    found = _index(snapshot, element_id)
    if found is not None:
        return found
    parent_id, last = _split_last(element_id)
    if ":" in last:
        name, slice_name = last.split(":", 1)
        sliced_id = f"{parent_id}.{name}" if parent_id else name
        base_index = _ensure(snapshot, sliced_id, bases)
        base = snapshot[base_index]
        new = copy.deepcopy(base)
        new.pop("slicing", None)
        new["id"] = element_id
        new["sliceName"] = slice_name
        position = _end_of_group(snapshot, base_index, sliced_id)
        snapshot.insert(position, new)
        return position
    if not parent_id:
        raise SnapshotError(f"unknown root element {element_id}")
    parent_index = _ensure(snapshot, parent_id, bases)
    parent = snapshot[parent_index]
    if _index_prefix(snapshot, parent_id + "."):
        raise SnapshotError(f"{element_id} is not an element of {parent_id}")
    type_code = _type_of_parent(parent)
    children = bases.datatype(type_code)["snapshot"]["element"][1:]
    inserted: list[JSON] = []
    for child in children:
        c = copy.deepcopy(child)
        suffix_id = c["id"][len(type_code) :]
        suffix_path = c["path"][len(type_code) :]
        c["id"] = parent_id + suffix_id
        c["path"] = parent["path"] + suffix_path
        inserted.append(c)
    snapshot[parent_index + 1 : parent_index + 1] = inserted
    found = _index(snapshot, element_id)
    if found is None:
        raise SnapshotError(f"{element_id} is not an element of {type_code}")
    return found


def _index_prefix(snapshot: list[JSON], prefix: str) -> bool:
    return any(e["id"].startswith(prefix) for e in snapshot)


def _merge(target: JSON, diff: Mapping[str, object]) -> None:
    for key, value in diff.items():
        if key in _NOT_MERGED:
            continue
        if key == "constraint":
            target["constraint"] = [*target.get("constraint", []), *copy.deepcopy(value)]  # type: ignore[misc]
        else:
            if key.startswith(("fixed", "pattern")):
                for old in [k for k in target if k.startswith(("fixed", "pattern"))]:
                    del target[old]
            target[key] = copy.deepcopy(value)


def generate_snapshot(
    base_url: str, differential: list[JSON], bases: BaseDefinitions
) -> list[JSON]:
    """The snapshot elements of a profile with ``differential`` on ``base_url``."""
    snapshot: list[JSON] = copy.deepcopy(bases.get(base_url)["snapshot"]["element"])
    for diff in differential:
        index = _ensure(snapshot, diff["id"], bases)
        _merge(snapshot[index], diff)
    return snapshot
