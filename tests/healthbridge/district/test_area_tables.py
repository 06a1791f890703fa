"""The area tables as the page gets them: the trend's quarters from one pass over the
district equal each quarter computed alone by the full reports, the comparison's coverage
figures equal the full coverage table's (only the compared families are computed), small
cells are suppressed as everywhere, and the kept tables are computed again after a write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY, Settings
from healthbridge.district import areas, compare, figures
from healthbridge.district import reports as district_reports
from healthbridge.district.cache import DistrictCache
from healthbridge.district.frames import DistrictFrames
from healthbridge.district.gather import gather
from healthbridge.reports.coverage import coverage_table
from healthbridge.store.hooks import SYSTEM_CONTEXT

AS_OF = dt.date(2026, 11, 1)
RULESET = load_ruleset_key(DEFAULT_RULESET_KEY)
FIGURES = ["numerator", "denominator", "rate", "ci_lower", "ci_upper", "suppressed"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A 40-child demo province on SQLite: two cities, children measured and vaccinated
    over the year."""
    from healthbridge.demo.load import load_demo
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository

    path = tmp_path_factory.mktemp("area-tables") / "demo.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    repo = Repository(engine)
    load_demo(repo, children=40, as_of=AS_OF)
    yield repo
    engine.dispose()


def _only(frames: DistrictFrames, keep: set[str]) -> DistrictFrames:
    """``frames`` with the children of ``keep`` only (a small area: cells of 1–2 children)."""

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[frame["child_id"].isin(keep)]

    return replace(
        frames,
        children=rows(frames.children),
        measurements=rows(frames.measurements),
        checkups=rows(frames.checkups),
        vaccinations=rows(frames.vaccinations),
    )


def _small_centre(frames: DistrictFrames, tree: areas.AreaTree) -> DistrictFrames:
    """Ningbo with one of its centres down to two children."""
    nb = areas.narrow(frames, tree.centres_under("area-nb"))
    centres = sorted(set(nb.children["centre"]))
    small = nb.children.loc[nb.children["centre"] == centres[-1], "child_id"]
    rest = nb.children.loc[nb.children["centre"] != centres[-1], "child_id"]
    return _only(nb, set(rest) | set(list(small)[:2]))


def _quarter_by_the_full_reports(frames: DistrictFrames, start: dt.date, end: dt.date) -> Any:
    """One quarter's compared figures taken from the district reports, each computed alone."""
    prevalence = district_reports.prevalence_report(frames, as_of=end, period_start=start)
    prev = prevalence.prevalence
    prev = prev.loc[(prev["grouping"] == "all") & prev["indicator"].isin(compare.COMPARED)]
    prev = prev.rename(columns={"indicator": "figure", "cases": "numerator", "n": "denominator",
                                "prevalence": "rate"})  # fmt: skip
    cover = district_reports.coverage_report(frames, as_of=end, ruleset=RULESET)  # 365 days
    cover = cover.loc[(cover["grouping"] == "all") & cover["figure"].isin(compare.COMPARED)]
    both = pd.concat([prev[["figure", *FIGURES]], cover[["figure", *FIGURES]]])
    return both.set_index("figure").sort_index()


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    for column in FIGURES:
        a = got[column].astype("float64").to_numpy()
        b = want[column].astype("float64").to_numpy()
        np.testing.assert_array_equal(a, b, err_msg=column)  # NaN equals NaN: exact figures


def test_the_trend_in_one_pass_equals_each_quarter_computed_alone(demo: Any) -> None:
    frames, tree = gather(demo), areas.read_tree(demo)
    small = _small_centre(frames, tree)
    tiny = _only(frames, set(list(frames.children["child_id"])[:2]))
    suppressed = shown = 0
    for part in (small, tiny):
        trend = compare.trend(part, ruleset=RULESET, as_of=AS_OF)
        for start, end in compare.quarters(AS_OF):
            rows = trend.loc[trend["period_start"] == start.isoformat()]
            assert set(rows["period_end"]) == {end.isoformat()}
            _same(rows.set_index("figure").sort_index(),
                  _quarter_by_the_full_reports(part, start, end))  # fmt: skip
            if part is tiny:
                continue
            # and exactly what the comparison's function gives that quarter alone
            alone = compare.figures_by_group(
                part, {}, ruleset=RULESET, as_of=end, period_start=start, split=False,
                rolling_coverage=True,
            ).drop(columns=["area"])  # fmt: skip
            pd.testing.assert_frame_equal(
                rows.drop(columns=["period_start", "period_end"]).reset_index(drop=True), alone
            )
        suppressed += int(trend["suppressed"].sum())
        shown += int((~trend["suppressed"] & trend["rate"].notna()).sum())
    assert suppressed  # the data has small cells …
    assert shown  # … and figures shown
    # the quarters differ: each has its own measurements and its own report day
    whole = compare.trend(small, ruleset=RULESET, as_of=AS_OF)
    assert whole.groupby("figure")["denominator"].nunique().max() > 1


def test_the_comparison_counts_as_the_full_coverage_table(demo: Any) -> None:
    """Only the compared coverage families (and vaccines) are computed: the figures are the
    full table's, per sub-area, suppression included."""
    frames, tree = gather(demo), areas.read_tree(demo)
    small = _small_centre(frames, tree)
    table = compare.comparison(small, tree, "area-nb", ruleset=RULESET, as_of=AS_OF)
    groups = {c: tree.sub_area("area-nb", c) or "" for c in set(small.children["centre"])}
    inputs = district_reports.coverage_inputs(small, ruleset=RULESET)
    inputs = replace(
        inputs,
        children=inputs.children.assign(district=inputs.children["centre"].map(groups)),
        admission_checks=inputs.admission_checks.assign(
            district=inputs.admission_checks["centre"].map(groups)
        ),
        centres=inputs.centres.assign(district=inputs.centres["centre"].map(groups)),
    )
    full = district_reports.suppress_coverage(
        coverage_table(inputs, as_of=AS_OF, groupings=((), ("district",)))
    )
    full = full.loc[full["figure"].isin(compare.COVERAGE_FIGURES)]
    full = full.assign(area=full["district"].where(full["grouping"] != "all", "all"))
    got = table.loc[table["figure"].isin(compare.COVERAGE_FIGURES)]
    assert len(got) == len(full) > 2
    _same(got.set_index(["area", "figure"]).sort_index(),
          full.set_index(["area", "figure"]).sort_index())  # fmt: skip
    assert got["suppressed"].any()  # the centre of two children


def test_the_tables_are_kept_until_a_write(
    demo: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    cache = DistrictCache()
    calls: list[str] = []
    for name in ("comparison", "trend"):
        real = getattr(compare, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(compare, name, counted)

    def tables(**kwargs: Any) -> dict[str, pd.DataFrame]:
        return figures.area_tables(cache, demo, settings, "area-nb", as_of=AS_OF, **kwargs)

    first = tables()
    assert calls == ["comparison", "trend"]
    again = tables(which=("areas",)), tables(which=("trend",))  # the charts' tables
    assert calls == ["comparison", "trend"]  # kept: nothing computed again
    pd.testing.assert_frame_equal(again[0]["areas"], first["areas"])
    pd.testing.assert_frame_equal(again[1]["trend"], first["trend"])
    again[0]["areas"].loc[:, "numerator"] = -1  # a caller's copy: the kept table is intact
    pd.testing.assert_frame_equal(tables(which=("areas",))["areas"], first["areas"])
    tables(which=("areas",), period_start=dt.date(2026, 10, 1))  # other parameters
    assert calls == ["comparison", "trend", "comparison"]

    # a write: a child of Ningbo leaves the record, so its figures change
    child = gather(demo).children.loc[lambda c: c["centre"] == "org-centre-4", "child_id"].iloc[0]
    with demo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.delete("Patient", child)
    after = tables()
    assert calls[-2:] == ["comparison", "trend"]  # computed again: never stale
    whole = after["areas"].loc[lambda t: t["area"] == "all"]
    before = first["areas"].loc[lambda t: t["area"] == "all"]
    assert whole["denominator"].sum() < before["denominator"].sum()
    cache.close()


def test_the_kept_values_are_bounded(demo: Any) -> None:
    from healthbridge.district.cache import KEPT_ENTRIES

    cache = DistrictCache()
    computed: list[int] = []
    for i in range(KEPT_ENTRIES + 1):
        cache.kept(demo, f"value {i}", lambda i=i: computed.append(i) or i)
    assert cache.kept(demo, f"value {KEPT_ENTRIES}", lambda: -1) == KEPT_ENTRIES  # kept
    assert cache.kept(demo, "value 0", lambda: -1) == -1  # the oldest was dropped
    assert len(computed) == KEPT_ENTRIES + 1
