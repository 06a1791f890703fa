"""/reports/...: JSON equal to the pure functions on the same data, CSV, charts, roles."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.district.gather import gather
from healthbridge.district.reports import (
    PREVALENCE_GROUPINGS,
    coverage_inputs,
    records,
    suppress_coverage,
    suppress_prevalence,
)
from healthbridge.district.screening import screening_frames
from healthbridge.reports.coverage import coverage_table
from healthbridge.reports.prevalence import latest_per_child, prevalence_table
from tests.healthbridge.district.conftest import AS_OF, as_role

BASE = "https://healthbridge.github.io/fhir"


def test_reports_equal_the_pure_functions(make_client: Callable[..., TestClient]) -> None:
    client = make_client("district-official", demo=True)
    frames = gather(client.app.state.repository)  # type: ignore[attr-defined]

    latest = latest_per_child(
        frames.measurements,
        start=pd.Timestamp(AS_OF) - pd.Timedelta(days=364),
        end=pd.Timestamp(AS_OF),
    )
    latest["centre"] = latest["centre"].astype("object").where(latest["centre"].notna(), "none")
    for convention in ("who", "cn-2024"):
        expected = suppress_prevalence(
            prevalence_table(latest, convention=convention, groupings=PREVALENCE_GROUPINGS)
        )
        got = client.get(f"/reports/prevalence?as_of={AS_OF}&convention={convention}")
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["total_records"] == expected.total_records == len(latest) > 0
        assert body["rows"] == records(expected.prevalence)
        assert body["period_start"] == "2025-11-02"

    z = client.get(f"/reports/zscores?as_of={AS_OF}").json()
    expected_z = suppress_prevalence(prevalence_table(latest, groupings=PREVALENCE_GROUPINGS))
    assert z["rows"] == records(expected_z.zscores)

    cov = client.get(f"/reports/coverage?as_of={AS_OF}").json()
    screenings = screening_frames(
        client.app.state.repository,  # type: ignore[attr-defined]
        load_ruleset_key(DEFAULT_RULESET_KEY),
    )
    expected_cov = suppress_coverage(
        coverage_table(
            coverage_inputs(
                frames,
                ruleset=load_ruleset_key(DEFAULT_RULESET_KEY),
                screenings=screenings,
                # no DISTRICT_POPULATION: the demo province's (its districts' sum)
                population=504_000 + 1_129_000 + 1_323_000 + 597_000 + 1_613_000,
            ),
            as_of=AS_OF,
        )
    )
    assert cov["rows"] == records(expected_cov)
    figures = {r["figure"] for r in cov["rows"]}
    assert {"systematic-management-u3", "health-management-u7", "vaccination:DTP:1"} <= figures
    assert {"screening:haemoglobin", "screening:eye", "screening:development"} <= figures
    # aggregates only: no child identifiers anywhere in the reports
    children = set(frames.children["child_id"])
    for path in ("prevalence", "zscores", "coverage"):
        text = client.get(f"/reports/{path}?as_of={AS_OF}").text
        assert not any(c in text for c in children)


def test_csv_and_charts(make_client: Callable[..., TestClient]) -> None:
    client = make_client("district-official", demo=True)
    as_json = client.get(f"/reports/coverage?as_of={AS_OF}").json()
    got = client.get(f"/reports/coverage?as_of={AS_OF}&format=csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "coverage-2026-11-01.csv" in got.headers["content-disposition"]
    assert got.content.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(io.BytesIO(got.content), encoding="utf-8-sig")
    assert len(table) == len(as_json["rows"])
    assert list(table["figure"]) == [r["figure"] for r in as_json["rows"]]

    prev = client.get(f"/reports/prevalence?as_of={AS_OF}&format=csv")
    assert "indicator" in prev.text.splitlines()[0]

    for path in (
        f"/reports/prevalence/chart.png?as_of={AS_OF}&indicator=stunting&grouping=centre",
        f"/reports/prevalence/chart.png?as_of={AS_OF}&indicator=overweight&grouping=age_group&lang=en",
        f"/reports/coverage/chart.png?as_of={AS_OF}&figure=checkup:6m",
    ):
        png = client.get(path)
        assert png.status_code == 200, png.text
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG")
    bad = client.get(f"/reports/prevalence/chart.png?as_of={AS_OF}&indicator=nonsense")
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("role", ["", "parent", "health-manager", "paediatrician"])
def test_reports_need_the_district_role(make_client: Callable[..., TestClient], role: str) -> None:
    client = make_client(*([role] if role else []))
    for path in (
        "/reports/prevalence",
        "/reports/zscores",
        "/reports/coverage?format=csv",
        "/reports/coverage/chart.png",
    ):
        got = client.get(path)
        assert got.status_code == 403, path
        assert got.json()["resourceType"] == "OperationOutcome"


def test_agreements_places_and_population(make_client: Callable[..., TestClient]) -> None:
    client = make_client("admin", district_population=50_000)
    places_ext = {"url": f"{BASE}/StructureDefinition/childcare-places", "valueInteger": 20}
    centre: dict[str, Any] = {
        "resourceType": "Organization",
        "id": "centre-a",
        "active": True,
        "name": "小太阳托育园",
        "type": [
            {
                "coding": [
                    {"system": f"{BASE}/CodeSystem/organization-kind", "code": "childcare-centre"}
                ]
            }
        ],
        "extension": [
            {"url": f"{BASE}/StructureDefinition/childcare-places", "valueInteger": 80},
            {
                "url": f"{BASE}/StructureDefinition/childcare-agreement",
                "extension": [
                    {"url": "hospital", "valueReference": {"reference": "Organization/h1"}},
                    {"url": "period", "valuePeriod": {"start": "2026-01-01"}},
                ],
            },
        ],
    }
    other = {**centre, "id": "centre-b", "name": "彩虹托育中心"}
    other["extension"] = [places_ext]
    for resource in (centre, other):
        put = client.put(f"/fhir/Organization/{resource['id']}", json=resource)
        assert put.status_code in (200, 201), put.text
    rows = client.get(f"/reports/coverage?as_of={AS_OF}").json()["rows"]
    by_figure = {r["figure"]: r for r in rows if r["grouping"] == "all"}
    signed = by_figure["signed-centres"]
    assert (signed["numerator"], signed["denominator"]) == (1, 2)
    places = by_figure["places-per-1000"]
    assert places["rate"] == pytest.approx(100 / 50)
    without = make_client("admin").get(f"/reports/coverage?as_of={AS_OF}").json()
    assert without["population"] is None


def test_reports_keep_the_district_in_the_data_directory(
    make_client: Callable[..., TestClient],
) -> None:
    """The served reports pass the data directory to gather: a restarted server starts from
    the snapshot written there (tests/healthbridge/district/test_gather_snapshot.py)."""
    from healthbridge.district.cache import SNAPSHOT_SUBDIR

    client = make_client("district-official", demo=True)
    app = client.app
    directory = app.state.settings.data_dir / SNAPSHOT_SUBDIR  # type: ignore[attr-defined]
    want = client.get(f"/reports/coverage?as_of={AS_OF}").json()
    assert app.state.district_cache.last.mode == "full"  # type: ignore[attr-defined]
    client.__exit__(None, None, None)  # shutdown: the lifespan closes the cache
    assert len(list(directory.glob("district-frames-*.json"))) == 1
    with TestClient(app) as restarted:  # as after a restart: a new cache, the same data
        as_role(restarted, "district-official")
        assert restarted.get(f"/reports/coverage?as_of={AS_OF}").json() == want
        assert app.state.district_cache.last.mode == "snapshot"  # type: ignore[attr-defined]


def test_small_cells_are_suppressed(make_client: Callable[..., TestClient]) -> None:
    client = make_client("district-official", demo=True)
    for path, size, figures in (
        ("prevalence", "n", ("cases", "prevalence", "ci_lower", "ci_upper")),
        ("zscores", "n", ("mean", "sd", "ci_lower", "ci_upper")),
        ("coverage", "denominator", ("numerator", "rate", "ci_lower", "ci_upper")),
    ):
        rows = client.get(f"/reports/{path}?as_of={AS_OF}").json()["rows"]
        small = [r for r in rows if r["suppressed"]]
        assert small, path  # a 10-child district has groups of one or two
        for row in small:
            assert row[size] is None
            assert all(row[f] is None for f in figures), row
        assert not [
            r
            for r in rows
            if r[size] is not None
            and 1 <= r[size] <= 2
            and (path != "coverage" or r["unit"] == "child")
        ], path
        csv = client.get(f"/reports/{path}?as_of={AS_OF}&format=csv").text
        assert "<3" in csv
