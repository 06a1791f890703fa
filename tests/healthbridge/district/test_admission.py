"""Entry checks (入托查验), signed centres and places read from the demo district: the frames
match the generated population, and the coverage report shows real figures for them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from healthbridge.demo.population import CENTRE_AGREEMENTS, CENTRE_PLACES, generate
from healthbridge.district.admission import ENROLLMENT_EXTENSION, enrolment_checks
from healthbridge.district.gather import gather
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN


def _enrolment(*parts: dict[str, object]) -> dict[str, object]:
    return {
        "url": ENROLLMENT_EXTENSION,
        "extension": [
            {"url": "centre", "valueReference": {"reference": "Organization/c1"}},
            {"url": "period", "valuePeriod": {"start": "2026-03-01"}},
            *parts,
        ],
    }


def test_enrolment_checks_of_one_patient() -> None:
    patient = {
        "resourceType": "Patient",
        "id": "k1",
        "extension": [
            _enrolment({"url": "admission-check-state", "valueCode": "rechecked"}),
            _enrolment(),  # no state yet
            _enrolment({"url": "admission-check-state", "valueCode": "approved"}),  # not a code
            {"url": ENROLLMENT_EXTENSION, "extension": []},  # no centre: not an entry
        ],
    }
    assert enrolment_checks(patient) == [
        ("k1", "c1", "2026-03-01", "rechecked"),
        ("k1", "c1", "2026-03-01", "not_submitted"),
        ("k1", "c1", "2026-03-01", "not_submitted"),
    ]


def test_demo_district_figures(make_client: Callable[..., TestClient]) -> None:
    client = make_client("district-official", demo=True, district_population=20_000)
    district = generate(children=DEMO_CHILDREN, as_of=AS_OF)
    frames = gather(client.app.state.repository)  # type: ignore[attr-defined]

    expected = sorted(
        (c.id, str(c.centre_id), str(c.enrolled_since), str(c.admission_state))
        for c in district.children
        if c.enrolled_since is not None
    )
    checks = frames.admission_checks
    got = sorted(
        zip(
            checks["child_id"],
            checks["centre"],
            checks["entry_date"].dt.date.astype(str),
            checks["status"],
            strict=True,
        )
    )
    assert got == expected
    assert expected  # the small demo has enrolled children

    rows = client.get(f"/reports/coverage?as_of={AS_OF}").json()["rows"]
    overall = {r["figure"]: r for r in rows if r["grouping"] == "all"}
    period = pd.Timestamp(AS_OF) - pd.Timedelta(days=364)
    entrants = checks.loc[
        (checks["entry_date"] >= period) & (checks["entry_date"] <= pd.Timestamp(AS_OF))
    ]
    checked = ~entrants["status"].isin(["not_submitted", "submitted"])
    assert (overall["admission-check"]["numerator"], overall["admission-check"]["denominator"]) == (
        int(checked.sum()),
        len(entrants),
    )
    per_centre = [r for r in rows if r["grouping"] == "centre" and r["figure"] == "admission-check"]
    # centres with 1-2 entrants are suppressed (small cells): they hold the remainder
    shown = sum(r["denominator"] for r in per_centre if not r["suppressed"])
    hidden = [r for r in per_centre if r["suppressed"]]
    assert all(r["denominator"] is None for r in hidden)
    assert shown + len(hidden) <= len(entrants) <= shown + 2 * len(hidden)
    assert "admission-catchup" in overall

    signed = overall["signed-centres"]
    assert (signed["numerator"], signed["denominator"]) == (
        sum(1 for a in CENTRE_AGREEMENTS if a),
        len(CENTRE_PLACES),
    )
    assert overall["places-per-1000"]["rate"] == pytest.approx(sum(CENTRE_PLACES) / 20)
