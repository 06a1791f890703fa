from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from fhir_profiles import loader
from healthbridge.cli import main


def write(tmp_path: Path, name: str, resource: Mapping[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(resource), encoding="utf-8")
    return path


def test_valid_and_invalid_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.json", loader.example("valid", "hb-immunization.json"))
    assert main(["validate", str(good)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["outcome"]["issue"][0]["severity"] == "information"

    bad = write(tmp_path, "bad.json", loader.example("invalid", "hb-immunization--no-lot.json"))
    assert main(["validate", str(good), str(bad)]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[1]["outcome"]["issue"][0]["expression"] == ["Immunization"]


def test_bundle_and_explicit_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weight = loader.example("valid", "hb-body-weight.json")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": weight}]}
    path = write(tmp_path, "bundle.json", bundle)
    height = f"{loader.CANONICAL_BASE}/StructureDefinition/hb-body-height"
    assert main(["validate", "--profile", height, str(path)]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["source"].endswith("bundle.json#entry[0]")
