"""Independent validation: Medplum's validator (tools/node/validate.mjs) against base R4 and
our profiles, for every example and every conformance resource we publish."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fhir_profiles import loader

pytestmark = [pytest.mark.node, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "fhir_profiles"


def medplum(
    node_tools: Path, files: list[Path] | None = None, stdin: str | None = None
) -> dict[str, Any]:
    args = ["node", str(node_tools / "validate.mjs"), *(str(f) for f in files or [])]
    result = subprocess.run(args, capture_output=True, text=True, input=stdin, check=False)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return {r["source"]: r for r in json.loads(result.stdout)["results"]}


def test_valid_examples_pass_base_r4_and_their_profile(node_tools: Path) -> None:
    files = [PROFILES / "examples" / "valid" / n for n in loader.example_names("valid")]
    results = medplum(node_tools, files)
    assert len(results) == len(files)
    for source, r in results.items():
        assert r["valid"], (source, r["issues"])
        assert r["profiles"], source


def test_invalid_examples(node_tools: Path) -> None:
    names = loader.example_names("invalid")
    results = medplum(node_tools, [PROFILES / "examples" / "invalid" / n for n in names])
    for name in names:
        r = results[str(PROFILES / "examples" / "invalid" / name)]
        base_errors = [
            i for i in r["issues"] if i["against"] == "R4" and i["severity"] in {"error", "fatal"}
        ]
        if loader.invalid_expectation(name).base_r4_invalid:
            assert base_errors, name
            assert not r["valid"]
        else:  # broken only against our profile: still well-formed R4
            assert not base_errors, (name, base_errors)


def test_published_conformance_resources_are_valid_r4(node_tools: Path) -> None:
    files = [PROFILES / e.file for e in loader.index()]
    results = medplum(node_tools, files)
    assert len(results) == len(files)
    bad = {s: r["issues"] for s, r in results.items() if not r["valid"]}
    assert not bad


def test_stdin_bundle_and_unknown_profile(node_tools: Path) -> None:
    child = loader.example("valid", "hb-child.json")
    ghost = dict(child, meta={"profile": [f"{loader.CANONICAL_BASE}/StructureDefinition/ghost"]})
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": child}, {"resource": ghost}],
    }
    results = medplum(node_tools, stdin=json.dumps(bundle))
    assert results["stdin"]["valid"]
    assert results["stdin#entry[0]"]["valid"]
    assert not results["stdin#entry[1]"]["valid"]
    assert results["stdin#entry[1]"]["issues"][0]["code"] == "not-found"
