"""The demo records the scheduled screenings of a well-run district, as the visit form writes
them: most children are up to date, a minority has a screening due or overdue, a few results
are abnormal."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from healthbridge.clinical.anaemia import HbResult
from healthbridge.clinical.checkups import VisitStatus
from healthbridge.clinical.ruleset import load_ruleset
from healthbridge.clinical.screening_schedule import screening_plan
from healthbridge.demo.bundles import visit_resources
from healthbridge.demo.population import generate
from healthbridge.inputs.screening import screening_code, screening_results

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def plans() -> dict[str, tuple[object, ...]]:
    """Each child's screening plan on AS_OF from the Observations the demo writes, read back by
    the pipeline's reader (inputs.screening)."""
    district = generate(children=200, as_of=AS_OF)
    table = load_ruleset("cn-child-health", "2026.1").screening_schedule
    births = {c.id: c.birth_date for c in district.children}
    out = {}
    for child_id, visits in district.visits.groupby("child_id", sort=False):
        resources = [
            r
            for n, (_i, row) in enumerate(visits.iterrows(), start=1)
            for r in visit_resources(row, n)
        ]
        observations = [r for r in resources if r["resourceType"] == "Observation"]
        results = screening_results(o for o in observations if screening_code(o))
        hb = [
            HbResult(f"hb-{i}", row["date"], float(row["hb_g_l"]))
            for i, row in visits.iterrows()
            if row["hb_g_l"] == row["hb_g_l"]
        ]
        out[str(child_id)] = (
            screening_plan(births[str(child_id)], results, hb, table, AS_OF),
            results,
        )
    return out


def test_the_demo_records_screening_results_the_reader_reads(plans: dict) -> None:
    kinds = Counter(r.screening for _plan, results in plans.values() for r in results)
    assert set(kinds) == {"eye", "hearing", "oral"}  # haemoglobin is the visits' Hb
    assert kinds["eye"] > kinds["oral"] > kinds["hearing"] > 0
    oral = [r for _p, results in plans.values() for r in results if r.screening == "oral"]
    assert all(r.teeth is not None and r.caries is not None for r in oral)


def test_most_children_are_up_to_date_a_minority_is_not(plans: dict) -> None:
    """Before the demo recorded screenings every child of 3 months or more had eye (and most
    hearing and oral) points due or overdue; now most children are up to date."""
    behind = [
        cid
        for cid, (plan, _r) in plans.items()
        if any(p.status in (VisitStatus.DUE, VisitStatus.OVERDUE) for p in plan)
    ]
    share = len(behind) / len(plans)
    assert 0.05 < share < 0.45, share
    given = sum(p.status is VisitStatus.GIVEN for plan, _r in plans.values() for p in plan)
    open_points = sum(
        p.status in (VisitStatus.DUE, VisitStatus.OVERDUE)
        for plan, _r in plans.values()
        for p in plan
    )
    assert given > 8 * open_points


def test_a_few_results_are_abnormal(plans: dict) -> None:
    results = [r for _p, results in plans.values() for r in results]
    refer = sum(bool(r.refer) for r in results)
    caries = sum((r.caries or 0) > 0 for r in results)
    assert 0 < refer < 0.06 * len(results)
    assert caries > 0
