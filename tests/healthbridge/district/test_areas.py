"""Jurisdictions: the area tree of Organization.partOf, an area's frames as a filter of the
gathered district, and figures that roll up (an area's figure is computed over all its
children, not averaged from its sub-areas)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from healthbridge import terminology as t
from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.district import areas, compare
from healthbridge.district.areas import AreaTree, check_area
from healthbridge.district.gather import gather
from healthbridge.district.reports import coverage_report, prevalence_report
from healthbridge.errors import ForbiddenError

AS_OF = dt.date(2026, 11, 1)


def _org(oid: str, kind: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": oid,
        "name": oid.upper(),
        "type": [{"coding": [{"system": t.CS_ORG_KIND, "code": kind}]}],
        **extra,
    }
    if parent:
        org["partOf"] = {"reference": f"Organization/{parent}"}
    return org


TREE = AreaTree.of(
    [
        _org("p", "province"),
        _org("a", "city", "p"),
        _org("b", "city", "p"),
        _org("a1", "district", "a"),
        _org("a2", "district", "a"),
        _org("b1", "district", "b"),
        _org("c1", "childcare-centre", "a1"),
        _org("c2", "childcare-centre", "a2"),
        _org("c3", "childcare-centre", "b1"),
        _org("c4", "childcare-centre", "b1", active=False),  # closed: in no area
        _org("h", "mch-hospital", "a1"),  # not a centre: not in the tree
        _org("loop1", "district", "loop2"),
        _org("loop2", "district", "loop1"),
    ]
)


def test_the_tree_follows_part_of_down_to_the_centres() -> None:
    assert TREE.centres_under("p") == {"c1", "c2", "c3"}
    assert TREE.centres_under("a") == {"c1", "c2"}
    assert TREE.centres_under("b1") == {"c3"}
    assert TREE.centres_under(None) == {"c1", "c2", "c3"}
    assert [s.id for s in TREE.sub_areas("p")] == ["a", "b"]
    assert [s.id for s in TREE.sub_areas("a")] == ["a1", "a2"]
    assert [s.id for s in TREE.sub_areas("a1")] == ["c1"]  # a district's centres
    assert TREE.sub_area(None, "c3") == "p"
    assert TREE.sub_area("a", "c3") is None
    assert "h" not in TREE.nodes
    assert TREE.chain("loop1") == ["loop1", "loop2"]  # a partOf cycle ends the walk


def test_an_area_is_reached_only_from_itself_or_above() -> None:
    assert check_area(TREE, "a", None) == "a"
    assert check_area(TREE, "a", "a2") == "a2"
    assert check_area(TREE, None, "b") == "b"
    for reach, asked in (("a", "b"), ("a", "b1"), ("a1", "a"), ("a", "c1"), ("a", "nowhere")):
        with pytest.raises(ForbiddenError):
            check_area(TREE, reach, asked)


def test_quarters_end_on_the_report_day() -> None:
    assert compare.quarters(dt.date(2026, 11, 1)) == [
        (dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
        (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
        (dt.date(2026, 10, 1), dt.date(2026, 11, 1)),
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A 60-child demo province on SQLite (enough children for unsuppressed cells)."""
    from healthbridge.demo.load import load_demo
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository

    path = tmp_path_factory.mktemp("areas") / "demo.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    repo = Repository(engine)
    load_demo(repo, children=60, as_of=AS_OF)
    yield repo
    engine.dispose()


def test_an_area_narrows_the_one_gathered_district(demo: Any) -> None:
    frames, tree = gather(demo), areas.read_tree(demo)
    assert [a.id for a in tree.sub_areas(None)] == ["area-zj"]
    hz = areas.narrow(frames, tree.centres_under("area-hz"))
    nb = areas.narrow(frames, tree.centres_under("area-nb"))
    assert set(hz.centres["centre"]) == {f"org-centre-{i}" for i in (1, 2, 3, 6)}
    assert set(nb.centres["centre"]) == {"org-centre-4", "org-centre-5"}
    assert not set(hz.children["child_id"]) & set(nb.children["child_id"])
    enrolled = frames.children.loc[frames.children["centre"].notna()]
    assert len(hz.children) + len(nb.children) == len(enrolled)
    assert set(hz.vaccinations["child_id"]) <= set(hz.children["child_id"])
    assert set(nb.measurements["centre"]) <= {"org-centre-4", "org-centre-5"}


def test_a_province_figure_is_computed_over_all_its_children(demo: Any) -> None:
    """Roll-up: the province row of the comparison has the cities' numerators and
    denominators summed and its rate is their ratio — the figure the district report computes
    over the same children — not the mean of the cities' rates."""
    frames, tree = gather(demo), areas.read_tree(demo)
    ruleset = load_ruleset_key(DEFAULT_RULESET_KEY)
    province = areas.narrow(frames, tree.centres_under("area-zj"))
    table = compare.comparison(province, tree, "area-zj", ruleset=ruleset, as_of=AS_OF)
    assert set(table["area"]) == {"all", "area-hz", "area-nb"}
    assert not table["suppressed"].any()
    differs = False
    for figure, rows in table.loc[table["figure"].isin(compare.COMPARED)].groupby("figure"):
        whole = rows.loc[rows["area"] == "all"].iloc[0]
        cities = rows.loc[rows["area"] != "all"]
        assert whole["numerator"] == cities["numerator"].sum(), figure
        assert whole["denominator"] == cities["denominator"].sum(), figure
        assert whole["rate"] == pytest.approx(100 * whole["numerator"] / whole["denominator"])
        differs |= abs(whole["rate"] - cities["rate"].mean()) > 1e-6
    assert differs  # the data tells a pooled rate from an average of rates

    # the same figures as the district report over the province's children
    report = prevalence_report(province, as_of=AS_OF).prevalence
    stunting = report.loc[(report["grouping"] == "all") & (report["indicator"] == "stunting")]
    whole = table.loc[(table["area"] == "all") & (table["figure"] == "stunting")].iloc[0]
    assert (whole["numerator"], whole["denominator"]) == (
        stunting["cases"].iloc[0],
        stunting["n"].iloc[0],
    )
    coverage = coverage_report(province, as_of=AS_OF, ruleset=ruleset)
    mmr = coverage.loc[
        (coverage["grouping"] == "all") & (coverage["figure"] == "vaccination:MMR:1")
    ]
    whole = table.loc[(table["area"] == "all") & (table["figure"] == "vaccination:MMR:1")].iloc[0]
    assert whole["rate"] == pytest.approx(mmr["rate"].iloc[0])


def test_the_trend_has_each_quarter_of_the_area(demo: Any) -> None:
    frames, tree = gather(demo), areas.read_tree(demo)
    ruleset = load_ruleset_key(DEFAULT_RULESET_KEY)
    nb = areas.narrow(frames, tree.centres_under("area-nb"))
    trend = compare.trend(nb, ruleset=ruleset, as_of=AS_OF)
    assert list(dict.fromkeys(trend["period_start"])) == [
        "2026-01-01",
        "2026-04-01",
        "2026-07-01",
        "2026-10-01",
    ]
    assert set(trend["figure"]) == set(compare.COMPARED)
    last = trend.loc[trend["period_start"] == "2026-10-01"]
    # the last quarter's figure is the comparison's for that quarter
    table = compare.figures_by_group(
        nb, {}, ruleset=ruleset, as_of=AS_OF, period_start=dt.date(2026, 10, 1), split=False
    )
    stunting = table.loc[table["figure"] == "stunting"].iloc[0]
    got = last.loc[last["figure"] == "stunting"].iloc[0]
    assert (got["numerator"], got["denominator"]) == (
        stunting["numerator"],
        stunting["denominator"],
    )
