"""WHO Anthro CSV layout: anthro's argument names, age in days, codes, NA for missing."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from healthbridge.exchange.anthro_export import ANTHRO_COLUMNS, anthro_csv, anthro_frame
from healthbridge.exchange.errors import ExportInputError


def measurements() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "child_id": ["c1", "c2"],
            "sex": ["male", 2],
            "birth_date": ["2025-01-10", "2023-06-01"],
            "date": ["2026-11-01", "2026-11-02"],
            "weight_kg": [9.8, 14.2],
            "lenhei_cm": [76.5, None],
            "measure": ["L", ""],
            "headc_cm": [45.2, None],
            "oedema": ["n", "y"],
            "centre": ["A", "B"],
        }
    )


def test_columns_are_anthro_arguments() -> None:
    assert ANTHRO_COLUMNS[1:11] == (
        "sex",
        "age",
        "weight",
        "lenhei",
        "measure",
        "headc",
        "armc",
        "triskin",
        "subskin",
        "oedema",
    )
    assert list(anthro_frame(measurements()).columns) == list(ANTHRO_COLUMNS)


def test_values_and_codes() -> None:
    rows = list(csv.DictReader(io.StringIO(anthro_csv(measurements()))))
    first, second = rows
    assert first == {
        "id": "c1",
        "sex": "1",
        "age": "660",
        "weight": "9.8",
        "lenhei": "76.5",
        "measure": "l",
        "headc": "45.2",
        "armc": "NA",
        "triskin": "NA",
        "subskin": "NA",
        "oedema": "n",
        "othergr": "A",
    }
    assert (second["sex"], second["age"], second["lenhei"], second["measure"]) == (
        "2",
        "1250",
        "NA",
        "NA",
    )
    assert second["oedema"] == "y"


def test_missing_columns_and_impossible_ages_raise() -> None:
    with pytest.raises(ExportInputError):
        anthro_frame(measurements().drop(columns="birth_date"))
    bad = measurements().assign(date=["2024-01-01", "2026-11-02"])
    with pytest.raises(ExportInputError):
        anthro_frame(bad)
