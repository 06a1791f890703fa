from __future__ import annotations

import pandas as pd

from healthbridge.reports.absence import COLUMNS, sick_absence_table


def _rows(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(COLUMNS))


def test_counts_by_class_and_cause_with_small_cells_suppressed() -> None:
    records = _rows(
        ("c1", "k1", "a", "2026-11-18", "fever"),
        ("c1", "k1", "a", "2026-11-19", "fever"),
        ("c1", "k1", "b", "2026-11-19", "fever"),
        ("c1", "k1", "c", "2026-11-19", "fever"),
        ("c1", "k1", "d", "2026-11-19", "gastrointestinal"),
        ("c1", "k1", "d", "2026-11-19", "fever"),  # the same child-day, a second cause
        ("c1", "k2", "e", "2026-11-19", "rash"),
    )
    table = sick_absence_table(records, ["fever", "respiratory", "gastrointestinal", "rash"])
    k1 = table[table["class_id"] == "k1"].iloc[0]
    assert (k1["n"], k1["cases"], k1["fever"], k1["respiratory"]) == (4, 5, 4, 0)
    assert not k1["suppressed"]
    assert k1["small"] == ("gastrointestinal",)  # one child: shown as <3
    k2 = table[table["class_id"] == "k2"].iloc[0]
    assert k2["suppressed"]
    assert pd.isna(k2["n"])
    assert pd.isna(k2["rash"])


def test_no_sick_absence_is_an_empty_table() -> None:
    table = sick_absence_table(_rows(), ["fever"])
    assert table.empty
    assert "suppressed" in table.columns
