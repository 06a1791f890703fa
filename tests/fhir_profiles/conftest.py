"""Shared helpers for the conformance-resource tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tools" / "node"


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """The installed npm tools (``scripts/test`` runs ``npm install`` in tools/node)."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed; run scripts/test or deselect with -m 'not node'")
    if not (NODE_DIR / "node_modules" / "@medplum" / "core").is_dir():
        pytest.fail(
            "tools/node/node_modules is missing; run: "
            "cd tools/node && npm install --no-audit --no-fund"
        )
    return NODE_DIR
