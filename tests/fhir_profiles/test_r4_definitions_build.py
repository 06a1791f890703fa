"""The base-R4 validator's shipped rules equal a fresh build from the official definitions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_r4_definitions.py"
SHIPPED = ROOT / "healthbridge" / "fhir" / "data" / "r4-definitions.json"

pytestmark = [pytest.mark.node, pytest.mark.usefixtures("node_tools")]


def run_check(target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--target", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_shipped_definitions_equal_a_fresh_build() -> None:
    result = run_check(SHIPPED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_an_edited_file(tmp_path: Path) -> None:
    edited = tmp_path / "r4-definitions.json"
    shutil.copy(SHIPPED, edited)
    edited.write_text(edited.read_text().replace('"observation-status"', '"x"', 1) + " ")
    result = run_check(edited)
    assert result.returncode == 1
    assert "differs" in result.stdout
