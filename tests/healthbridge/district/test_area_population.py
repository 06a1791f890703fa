"""Population per area: read from the ``area-population`` extension of an area Organization,
rolled up (own figure, else the sum of every sub-area's), and used for places per 1,000 in
the coverage report and the area comparison; an area without one says "not configured"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from healthbridge import terminology as t
from healthbridge.district import area_population, areas, compare, figures
from healthbridge.district.area_population import (
    NOT_CONFIGURED,
    PLACES_FIGURE,
    POPULATION_EXTENSION,
    population_of,
)
from healthbridge.district.areas import AreaTree
from healthbridge.district.gather import gather

AS_OF = dt.date(2026, 11, 1)
#: the demo's illustrative district populations (healthbridge.demo.organisations)
HZ = 504_000 + 1_129_000 + 1_323_000
NB = 597_000 + 1_613_000


def _org(oid: str, kind: str, parent: str | None = None, population: Any = None) -> dict[str, Any]:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": oid,
        "name": oid,
        "type": [{"coding": [{"system": t.CS_ORG_KIND, "code": kind}]}],
    }
    if parent:
        org["partOf"] = {"reference": f"Organization/{parent}"}
    if population is not None:
        org["extension"] = [{"url": POPULATION_EXTENSION, "valuePositiveInt": population}]
    return org


def test_an_area_has_its_own_population_else_the_sum_of_all_its_sub_areas() -> None:
    tree = AreaTree.of(
        [
            _org("p", "province"),
            _org("a", "city", "p"),
            _org("b", "city", "p", population=900),  # its own figure, no districts' needed
            _org("a1", "district", "a", population=100),
            _org("a2", "district", "a", population=250),
            _org("b1", "district", "b", population=1),  # ignored: b has its own
            _org("q", "province", population=5_000),
            _org("q1", "city", "q"),  # no figure, but q has its own
            _org("r", "province"),
            _org("r1", "city", "r", population=70),
            _org("r2", "city", "r"),  # missing: r's sum would be partial
            _org("c", "childcare-centre", "a1", population=999),  # a centre is no area
        ]
    )
    assert population_of(tree, "a1") == 100
    assert population_of(tree, "a") == 350  # the sum of its districts
    assert population_of(tree, "b") == 900  # own figure wins over its districts' sum
    assert population_of(tree, "p") == 1_250  # own nothing: cities a (summed) + b
    assert population_of(tree, "q") == 5_000
    assert population_of(tree, "q1") is None
    assert population_of(tree, "r") is None  # one city without: not configured
    assert population_of(tree, "r1") == 70
    assert population_of(tree, "c") is None
    assert population_of(tree, "nowhere") is None
    # the whole database: the setting when configured, else its top areas' sum (r has none)
    assert population_of(tree, None, 42) == 42
    assert population_of(tree, None) is None
    assert population_of(AreaTree.of([_org("p", "province", population=8)]), None) == 8


def test_the_reader_keeps_only_positive_integers() -> None:
    assert area_population.read(_org("a", "city", population=12)) == 12
    for bad in (0, -5, "12", True, 1.5):
        org = _org("a", "city")
        org["extension"] = [{"url": POPULATION_EXTENSION, "valuePositiveInt": bad}]
        assert area_population.read(org) is None, bad
    assert area_population.read(_org("a", "city")) is None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from healthbridge.demo.load import load_demo
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository

    path = tmp_path_factory.mktemp("population") / "demo.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    repo = Repository(engine)
    load_demo(repo, children=20, as_of=AS_OF)
    yield repo
    engine.dispose()


def _places(table: pd.DataFrame) -> dict[str, pd.Series]:
    rows = table.loc[table["figure"] == PLACES_FIGURE]
    return {str(r["area"]): r for _i, r in rows.iterrows()}


def test_the_comparison_has_places_per_1000_of_each_area_rolled_up(demo: Any) -> None:
    from healthbridge.clinical.ruleset import load_ruleset_key
    from healthbridge.config import DEFAULT_RULESET_KEY

    frames, tree = gather(demo), areas.read_tree(demo)
    assert population_of(tree, "area-hz") == HZ
    assert population_of(tree, "area-zj") == HZ + NB
    ruleset = load_ruleset_key(DEFAULT_RULESET_KEY)
    province = areas.narrow(frames, tree.centres_under("area-zj"))
    table = compare.comparison(province, tree, "area-zj", ruleset=ruleset, as_of=AS_OF)
    rows = _places(table)
    assert set(rows) == {"all", "area-hz", "area-nb"}
    # demo places: Hangzhou's centres 1, 2, 3, 6 = 90 + 120 + 80 + 30; Ningbo's 60 + 50
    assert (rows["area-hz"]["numerator"], rows["area-hz"]["denominator"]) == (320, HZ)
    assert (rows["area-nb"]["numerator"], rows["area-nb"]["denominator"]) == (110, NB)
    whole = rows["all"]
    assert (whole["numerator"], whole["denominator"]) == (430, HZ + NB)
    assert whole["rate"] == pytest.approx(430 / ((HZ + NB) / 1000))
    assert whole["note"] is None
    assert rows["all"]["name"] == "浙江省"

    # a district compares its centres: only the district's own row has places per 1,000
    xihu = areas.narrow(frames, tree.centres_under("area-hz-xihu"))
    table = compare.comparison(xihu, tree, "area-hz-xihu", ruleset=ruleset, as_of=AS_OF)
    assert set(_places(table)) == {"all"}
    assert _places(table)["all"]["rate"] == pytest.approx(120 / 1_129)


def test_an_area_without_population_is_not_configured(demo: Any) -> None:
    from healthbridge.clinical.ruleset import load_ruleset_key
    from healthbridge.config import DEFAULT_RULESET_KEY

    frames = gather(demo)
    organizations = [
        {**org, "extension": []} if org["id"] == "area-nb-yinzhou" else org
        for org in _organizations(demo)
    ]
    tree = AreaTree.of(organizations)
    ruleset = load_ruleset_key(DEFAULT_RULESET_KEY)
    province = areas.narrow(frames, tree.centres_under("area-zj"))
    rows = _places(compare.comparison(province, tree, "area-zj", ruleset=ruleset, as_of=AS_OF))
    assert rows["area-hz"]["denominator"] == HZ
    for key in ("area-nb", "all"):  # Yinzhou missing: Ningbo and the province are unknown
        assert rows[key]["note"] == NOT_CONFIGURED
        assert pd.isna(rows[key]["rate"])
        assert pd.isna(rows[key]["denominator"])
    assert rows["area-nb"]["numerator"] == 110  # the places are still counted


def _organizations(repo: Any) -> list[dict[str, Any]]:
    from healthbridge.district import read

    with repo.engine.connect() as conn:
        return list(read.organizations(conn))


def test_the_coverage_report_uses_the_area_population(demo: Any) -> None:
    """Places per 1,000 in an area's coverage report: before, only the whole database's
    configured population was used and an area had none."""
    from healthbridge.config import Settings

    settings = Settings(district_population=1_000_000)
    frames = figures.area_frames(_Cache(demo), demo, "area-nb")
    _day, table = figures.coverage_figures(frames, settings, AS_OF, None, 0, demo, "area-nb")
    places = table.loc[table["figure"] == PLACES_FIGURE].iloc[0]
    assert (places["numerator"], places["denominator"]) == (110, NB)
    assert figures.population(settings, None, demo) == 1_000_000  # the setting, whole database
    assert figures.population(Settings(), None, demo) == HZ + NB  # else the top areas' sum


class _Cache:
    def __init__(self, repo: Any) -> None:
        self.frames = gather(repo)

    def gather(self, _repo: Any) -> Any:
        return self.frames
