"""The committed JSON equals a fresh build (differentials + snapshots from the R4 base)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_profiles import loader

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_profiles.py"


def run_check(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *extra],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.node
@pytest.mark.usefixtures("node_tools")
def test_committed_files_match_a_fresh_build() -> None:
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.node
@pytest.mark.usefixtures("node_tools")
def test_check_mode_reports_edits_stale_and_missing_files(tmp_path: Path) -> None:
    out = tmp_path / "fhir_profiles"
    shutil.copytree(ROOT / "fhir_profiles", out)
    (out / "pages" / "hb-bmi.md").write_text("edited\n", encoding="utf-8")
    (out / "ValueSet" / "left-over.json").write_text("{}\n", encoding="utf-8")
    (out / "CodeSystem" / "task-kind.json").unlink()
    result = run_check("--out", str(out))
    assert result.returncode == 1
    assert "differs: pages/hb-bmi.md" in result.stdout
    assert "stale: ValueSet/left-over.json" in result.stdout
    assert "missing: CodeSystem/task-kind.json" in result.stdout


def element(url_id: str, element_id: str) -> dict[str, Any]:
    sd = loader.structure_definition(f"{loader.CANONICAL_BASE}/StructureDefinition/{url_id}")
    found: dict[str, Any]
    (found,) = [e for e in sd["snapshot"]["element"] if e["id"] == element_id]
    return found


def test_snapshot_expands_datatypes_and_keeps_base_information() -> None:
    start = element("hb-checkup-encounter", "Encounter.period.start")
    assert start["min"] == 1
    assert start["base"]["path"] == "Period.start"  # expanded from the Period definition
    code = element("hb-body-length", "Observation.code.coding:LengthCode.code")
    assert code["fixedCode"] == "8306-3"
    assert code["path"] == "Observation.code.coding.code"
    # inherited from the core body-weight profile, tightened by ours
    unit = element("hb-body-weight", "Observation.value[x]:valueQuantity.code")
    assert unit["fixedCode"] == "kg"
    assert unit["binding"]["valueSet"].startswith("http://hl7.org/fhir/ValueSet/ucum-bodyweight")
    weight_code = element("hb-body-weight", "Observation.code.coding:BodyWeightCode.code")
    assert weight_code["fixedCode"] == "29463-7"


def test_invariants_are_appended_to_base_constraints() -> None:
    root = element("hb-immunization", "Immunization")
    keys = [c["key"] for c in root["constraint"]]
    assert "dom-2" in keys
    assert keys[-1] == "hb-imm-1"
    assert root["constraint"][-1]["source"].endswith("/hb-immunization")
