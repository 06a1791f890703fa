"""Assemble every output file of ``fhir_profiles/`` as text, keyed by relative path."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from .common import DATE, FHIR_VERSION, JSON, PUBLISHER, VERSION, sd_url
from .pages import index_page, profile_page
from .profiles import Invalid, Op, Profile, all_profiles
from .questionnaire import warning_signs_questionnaire
from .searchparams import search_parameters
from .snapshot import BaseDefinitions, generate_snapshot
from .terminology import terminology_resources


def dump(resource: Any) -> str:
    """The canonical JSON text of a file (stable, reviewable diffs)."""
    return json.dumps(resource, ensure_ascii=False, indent=2) + "\n"


def _pascal(identifier: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", identifier))


def structure_definition(profile: Profile, bases: BaseDefinitions) -> JSON:
    """The StructureDefinition (differential and generated snapshot) of a profile."""
    url = sd_url(profile.id)
    differential = copy.deepcopy(profile.elements)
    for element in differential:
        for constraint in element.get("constraint", []):
            constraint["source"] = url
    sd: JSON = {
        "resourceType": "StructureDefinition",
        "id": profile.id,
        "url": url,
        "version": VERSION,
        "name": _pascal(profile.id),
        "title": profile.title,
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": PUBLISHER,
        "description": profile.description,
        "fhirVersion": FHIR_VERSION,
        "kind": profile.kind,
        "abstract": False,
    }
    if profile.context:
        sd["context"] = profile.context
    sd.update(
        {
            "type": profile.type,
            "baseDefinition": profile.base,
            "derivation": "constraint",
            "snapshot": {"element": generate_snapshot(profile.base, differential, bases)},
            "differential": {"element": differential},
        }
    )
    return sd


def apply_ops(resource: JSON, ops: list[Op]) -> JSON:
    """The resource with the edits of an invalid example applied."""
    out = copy.deepcopy(resource)
    for op, path, value in ops:
        target: Any = out
        for step in path[:-1]:
            target = target[step]
        last = path[-1]
        if op == "set":
            target[last] = copy.deepcopy(value)
        elif op == "del":
            del target[last]
        else:
            raise ValueError(op)
    return out


def build_all(node_modules: Path) -> dict[str, str]:
    """Every generated file, keyed by its path relative to ``fhir_profiles/``."""
    bases = BaseDefinitions(node_modules)
    files: dict[str, str] = {}
    published: list[JSON] = []
    manifest: dict[str, JSON] = {}
    for profile in all_profiles():
        sd = structure_definition(profile, bases)
        published.append(sd)
        files[f"StructureDefinition/{profile.id}.json"] = dump(sd)
        if profile.valid is None:
            continue
        valid_name = f"{profile.id}.json"
        files[f"examples/valid/{valid_name}"] = dump(profile.valid)
        invalid_names: list[str] = []
        for bad in profile.invalid:
            name = f"{profile.id}--{bad.slug}.json"
            invalid_names.append(name)
            files[f"examples/invalid/{name}"] = dump(apply_ops(profile.valid, bad.ops))
            manifest[name] = _expectation(sd["url"], bad)
        files[f"pages/{profile.id}.md"] = profile_page(sd, [valid_name], invalid_names)
    for res in [*terminology_resources(), warning_signs_questionnaire(), *search_parameters()]:
        published.append(res)
        files[f"{res['resourceType']}/{res['id']}.json"] = dump(res)
    files["examples/invalid/expected-issues.json"] = dump(manifest)
    files["pages/index.md"] = index_page(published)
    files["index.json"] = dump(
        [
            {
                "resourceType": r["resourceType"],
                "id": r["id"],
                "url": r["url"],
                "version": r["version"],
                "name": r["name"],
                "title": r.get("title", r["name"]),
                "type": r.get("type"),
                "kind": r.get("kind"),
                "file": f"{r['resourceType']}/{r['id']}.json",
            }
            for r in published
        ]
    )
    return files


def _expectation(url: str, bad: Invalid) -> JSON:
    return {
        "profile": url,
        "issues": [{"expression": expr, "code": code} for expr, code in bad.issues],
        "base_r4_invalid": bad.base_r4,
    }
