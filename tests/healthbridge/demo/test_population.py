"""The synthetic district: reproducible, well-formed, and containing the cases it promises."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from growth_standards import score
from healthbridge.demo.bundles import bundles
from healthbridge.demo.population import Archetype, District, add_months, generate

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def district() -> District:
    return generate(children=300, seed=7, as_of=AS_OF)


def test_same_seed_same_district(district: District) -> None:
    again = generate(children=300, seed=7, as_of=AS_OF)
    assert again.children == district.children
    assert again.guardians == district.guardians
    pd.testing.assert_frame_equal(again.visits, district.visits)
    pd.testing.assert_frame_equal(again.daily_checks, district.daily_checks)


def test_other_seed_other_district(district: District) -> None:
    other = generate(children=300, seed=8, as_of=AS_OF)
    assert other.children != district.children


def test_children_are_under_three_with_a_guardian(district: District) -> None:
    ages = [(AS_OF - c.birth_date).days for c in district.children]
    assert min(ages) >= 14
    assert max(ages) < 3 * 365
    with_guardian = {g.child_id for g in district.guardians}
    assert with_guardian == {c.id for c in district.children}


def test_enrolled_children_are_in_a_class_of_their_age(district: District) -> None:
    rooms = {r.id: r for r in district.classes}
    band = {"infant": (6, 12), "toddler-young": (12, 24), "toddler-old": (24, 36)}
    enrolled = [c for c in district.children if c.class_id]
    assert len(enrolled) > 150
    for child in enrolled:
        low, high = band[rooms[child.class_id].kind.value]  # type: ignore[index]
        assert add_months(child.birth_date, low) <= AS_OF
        assert add_months(child.birth_date, high) > AS_OF
        assert child.enrolled_since is not None
        assert add_months(child.birth_date, 6) <= child.enrolled_since <= AS_OF


def test_visits_never_after_as_of_and_in_time_order(district: District) -> None:
    visits = district.visits
    assert (visits["date"] <= AS_OF).all()
    for _child, frame in visits.groupby("child_id"):
        assert frame["date"].is_monotonic_increasing


def test_archetypes_show_in_the_who_scores(district: District) -> None:
    """Stunted children score below -2 length-for-age; overweight above +1 weight-for-length."""
    visits = district.visits
    latest = visits[visits["visit"] != "birth"].groupby("child_id").tail(1)
    frame = latest[["child_id", "sex", "age_days", "weight_kg", "lenhei_cm", "measure", "headc_cm"]]
    scored = score(frame)
    kind = {c.id: c.archetype for c in district.children}
    scored["archetype"] = scored["child_id"].map(kind)
    preterm = {c.id for c in district.children if c.gestational_age_weeks < 37}
    term = scored[~scored["child_id"].isin(preterm)]
    stunted = term.loc[term["archetype"] == Archetype.STUNTED, "zlen"]
    typical = term.loc[term["archetype"] == Archetype.TYPICAL, "zlen"]
    overweight = term.loc[term["archetype"] == Archetype.OVERWEIGHT, "zwfl"]
    assert len(stunted) >= 3
    assert stunted.median() < -2.0
    assert abs(typical.median()) < 0.5
    assert overweight.median() > 1.0


def test_archetype_shares(district: District) -> None:
    counts = Counter(c.archetype for c in district.children)
    assert counts[Archetype.TYPICAL] / len(district.children) == pytest.approx(0.80, abs=0.07)


def test_a_fever_cluster_in_one_class_on_the_latest_day(district: District) -> None:
    checks = district.daily_checks
    latest = checks[checks["date"] == checks["date"].max()]
    fevers = latest[latest["temperature_c"] >= 37.3]
    per_class = fevers.groupby("class_id").size()
    assert per_class.max() >= 3


def test_bundles_have_unique_ids_and_resolvable_references(district: District) -> None:
    seen: set[str] = set()
    refs: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                refs.add(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for bundle in bundles(district):
        assert bundle["type"] == "transaction"
        for entry in bundle["entry"]:
            resource = entry["resource"]
            key = f"{resource['resourceType']}/{resource['id']}"
            assert key not in seen
            assert entry["request"] == {"method": "PUT", "url": key}
            seen.add(key)
            walk(resource)
    assert refs <= seen


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 11, 30), 3) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 5, 15), 12) == dt.date(2025, 5, 15)


def test_measurements_are_plausible(district: District) -> None:
    v = district.visits
    assert v["weight_kg"].between(0.8, 25).all()
    assert v["lenhei_cm"].between(35, 110).all()
    assert np.isfinite(v["weight_kg"]).all()


def test_every_resource_claiming_a_profile_is_valid(district: District) -> None:
    from healthbridge.fhir.profile_validation import validate_against_profiles

    problems = []
    claimed = 0
    for bundle in bundles(district):
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource.get("meta", {}).get("profile"):
                claimed += 1
                issues = validate_against_profiles(resource)
                problems += [(resource["id"], i) for i in issues if i.severity == "error"]
    assert claimed > 1000
    assert problems == []


def test_vaccinations_follow_the_schedule_with_some_gaps(district: District) -> None:
    from healthbridge.clinical.ruleset import load_ruleset
    from healthbridge.clinical.vaccination import GivenDose, vaccination_plan
    from healthbridge.clinical.vocab import Sex as ClinicalSex

    table = load_ruleset("cn-child-health", "2026.1").vaccination
    doses = dict(tuple(district.doses.groupby("child_id")))
    statuses: Counter[str] = Counter()
    for child in district.children:
        given = (
            [
                GivenDose(f"{r.series}-{r.dose}", r.vaccine, r.date)
                for r in doses[child.id].itertuples()
            ]
            if child.id in doses
            else []
        )
        sex = ClinicalSex.MALE if child.sex == 1 else ClinicalSex.FEMALE
        plan = vaccination_plan(child.birth_date, sex, given, table, AS_OF)
        assert plan.invalid == (), (child.id, plan.invalid)
        statuses.update(s.status.value for s in plan.doses)
    assert statuses["given"] > 2000
    assert statuses["overdue"] > 5  # the demo has children behind schedule
    # special-population doses are not given to every child (no maternal HBsAg in the demo)
    assert "HBIG" not in set(district.doses["vaccine"])
    # HepB1 at birth: within a day
    hepb1 = district.doses[(district.doses["vaccine"] == "HepB") & (district.doses["dose"] == 1)]
    births = {c.id: c.birth_date for c in district.children}
    late = [(r.date - births[r.child_id]).days for r in hepb1.itertuples()]
    assert sum(1 for d in late if d <= 1) / len(late) > 0.9
