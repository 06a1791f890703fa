"""The checkup figures by one lookup of plain text ids and codes are the figures of the
string-dtype lookups (the previous computation, still taken when an id or code is not a
text): children with no checkup, checkups of unknown children or codes, after the report
day or undated, the excluded daily check, and the small cells a centre split suppresses."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from healthbridge.district.reports import suppress_coverage
from healthbridge.reports import coverage_families
from healthbridge.reports.coverage import coverage_table
from healthbridge.reports.coverage_inputs import CoverageInputs

AS_OF = dt.date(2026, 6, 30)
CODES = ["newborn", "1m", "3m", "6m", "8m", "12m", "18m", "24m", "30m", "36m", "4y", "5y", "6y"]


def _inputs(seed: int, children: int, checkups: int) -> CoverageInputs:
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(children)]
    kids = pd.DataFrame(
        {
            "child_id": ids,
            "birth_date": [
                AS_OF - dt.timedelta(days=int(d)) for d in rng.integers(-30, 2900, children)
            ],
            "centre": rng.choice(["big", "mid", "tiny"], children, p=[0.6, 0.38, 0.02]),
            "district": rng.choice(["d1", "d2"], children),
        }
    )
    dates = [AS_OF - dt.timedelta(days=int(d)) for d in rng.integers(-60, 3000, checkups)]
    frame = pd.DataFrame(
        {
            # a third of the children have no checkup; some checkups are of unknown children
            "child_id": rng.choice([*ids[: 2 * children // 3 + 1], "stranger"], checkups),
            "date": pd.Series(dates, dtype="object"),
            "visit_code": rng.choice([*CODES, "daily-check", "unknown-code"], checkups),
        }
    )
    if checkups:
        frame.loc[0, "date"] = None  # undated
    return CoverageInputs(children=kids, checkups=frame)


def _both(inputs: CoverageInputs, monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, ...]:
    def table() -> pd.DataFrame:
        return suppress_coverage(
            coverage_table(
                inputs, as_of=AS_OF, families=("checkup",),
                groupings=((), ("centre",), ("district",), ("centre", "district")),
            )
        )  # fmt: skip

    fast = table()
    with monkeypatch.context() as m:
        m.setattr(coverage_families, "_all_text", lambda *columns: False)
        slow = table()
    return fast, slow


@pytest.mark.parametrize(("seed", "children", "checkups"), [(1, 300, 2000), (2, 5, 3), (3, 4, 0)])
def test_lookup_of_plain_values_gives_the_string_dtype_figures(
    seed: int, children: int, checkups: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _inputs(seed, children, checkups)
    assert coverage_families._all_text(inputs.children["child_id"], inputs.checkups["child_id"])
    fast, slow = _both(inputs, monkeypatch)
    pd.testing.assert_frame_equal(fast, slow)
    if children == 300:  # the figures are not all zero, and the tiny centre is suppressed
        assert fast["numerator"].sum() > 0
        assert fast["suppressed"].any()


def test_a_child_without_checkups_is_in_the_denominator_only() -> None:
    inputs = _inputs(4, 30, 0)
    table = coverage_table(inputs, as_of=AS_OF, families=("checkup",))
    assert table["denominator"].sum() > 0
    assert table["numerator"].sum() == 0


def test_missing_or_numeric_ids_take_the_string_path(monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = _inputs(5, 50, 400)
    checkups = inputs.checkups.copy()
    checkups.loc[1, "child_id"] = None
    checkups.loc[2, "visit_code"] = np.nan
    odd = CoverageInputs(children=inputs.children, checkups=checkups)
    assert not coverage_families._all_text(checkups["child_id"], checkups["visit_code"])
    fast, slow = _both(odd, monkeypatch)
    pd.testing.assert_frame_equal(fast, slow)
