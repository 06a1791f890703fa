"""Every shipped table equals WHO's original, cell by cell.

The originals are WHO's own LMS tables from the R packages ``anthro`` and ``anthroplus``
(``data-raw/growthstandards``), kept outside the repository in
``../shared/who-growth-standards``. Without them the test fails in CI (``CI=true``) and is
skipped locally.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from growth_standards import tables

REPO = Path(__file__).resolve().parents[2]
ORIGINALS = REPO / ".." / "shared" / "who-growth-standards"

#: shipped table -> WHO original (folder/file)
ORIGINAL_OF = {
    "who2006_wfa": "who2006/weianthro.txt",
    "who2006_lhfa": "who2006/lenanthro.txt",
    "who2006_wfl": "who2006/wflanthro.txt",
    "who2006_wfh": "who2006/wfhanthro.txt",
    "who2006_bfa": "who2006/bmianthro.txt",
    "who2006_hcfa": "who2006/hcanthro.txt",
    "who2006_acfa": "who2006/acanthro.txt",
    "who2006_tsfa": "who2006/tsanthro.txt",
    "who2006_ssfa": "who2006/ssanthro.txt",
    "who2007_hfa": "who2007/hfawho2007.txt",
    "who2007_wfa": "who2007/wfawho2007.txt",
    "who2007_bfa": "who2007/bfawho2007.txt",
}


@pytest.fixture(scope="module")
def originals() -> Path:
    if not ORIGINALS.is_dir():
        message = f"WHO originals not found at {ORIGINALS}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return ORIGINALS


def test_every_table_is_compared() -> None:
    assert set(ORIGINAL_OF) == set(tables.TABLE_NAMES)


@pytest.mark.parametrize("name", tables.TABLE_NAMES)
def test_table_equals_who_original(name: str, originals: Path) -> None:
    original = pd.read_csv(originals / ORIGINAL_OF[name], sep="\t", dtype=str)
    shipped = pd.read_csv(REPO / "growth_standards" / "data" / f"{name}.tsv", sep="\t", dtype=str)
    x_name = shipped.columns[1]
    assert list(shipped.columns) == ["sex", x_name, "l", "m", "s"]
    assert x_name == original.columns[1]
    if name.startswith("who2007"):
        # anthroplus repeats the last month once more (229, or 121 for weight) so that its
        # interpolation works inside the last month; prove it is a copy of the last row,
        # which is what growth_standards uses there.
        for sex in ("1", "2"):
            rows = original[original.sex == sex]
            last, extra = rows.iloc[-2], rows.iloc[-1]
            assert float(extra[x_name]) == float(last[x_name]) + 1
            for column in ("l", "m", "s"):
                assert float(extra[column]) == float(last[column])
        last_months = original.groupby("sex")[x_name].transform(lambda a: a.astype(float).max())
        original = original[original[x_name].astype(float) != last_months]
    assert len(shipped) == len(original)
    for column in ("sex", x_name, "l", "m", "s"):
        ours = shipped[column].astype(float).to_numpy()
        theirs = original[column].astype(float).to_numpy()
        different = np.flatnonzero(ours != theirs)
        assert different.size == 0, (
            f"{name}.{column}: {different.size} cells differ, first at row {different[0]}: "
            f"{ours[different[0]]} != {theirs[different[0]]}"
        )


@pytest.mark.parametrize("name", tables.TABLE_NAMES)
def test_loaded_table_matches_file(name: str) -> None:
    table = tables.load(name)
    raw = pd.read_csv(REPO / "growth_standards" / "data" / f"{name}.tsv", sep="\t")
    for sex in (1, 2):
        rows = raw[raw.sex == sex]
        np.testing.assert_array_equal(table.x, rows.iloc[:, 1].to_numpy())
        np.testing.assert_array_equal(table.l[sex - 1], rows.l.to_numpy())
        np.testing.assert_array_equal(table.m[sex - 1], rows.m.to_numpy())
        np.testing.assert_array_equal(table.s[sex - 1], rows.s.to_numpy())


def test_sources_md_records_the_sha256_of_every_shipped_file() -> None:
    sources = tables.read_text("SOURCES.md")
    for name in tables.TABLE_NAMES:
        digest = hashlib.sha256(
            (REPO / "growth_standards" / "data" / f"{name}.tsv").read_bytes()
        ).hexdigest()
        row = next(line for line in sources.splitlines() if line.startswith(f"| `{name}.tsv`"))
        assert re.findall(r"`([0-9a-f]{64})`", row)[-1] == digest, name


def test_shipped_files_are_not_byte_copies_of_the_originals(originals: Path) -> None:
    for name, original in ORIGINAL_OF.items():
        shipped = (REPO / "growth_standards" / "data" / f"{name}.tsv").read_bytes()
        assert shipped != (originals / original).read_bytes()
