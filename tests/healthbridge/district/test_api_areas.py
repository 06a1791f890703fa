"""An official reaches their area and below over ``/reports/...`` (real tokens, SQLite and
PostgreSQL): a city official never sees another city's sub-areas, centres or figures."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest

from tests.healthbridge.district.conftest import AS_OF

HZ_DISTRICTS = {"area-hz-binjiang", "area-hz-xihu", "area-hz-shangcheng"}
HZ_CENTRES = {f"org-centre-{i}" for i in (1, 2, 3, 6)}
NB_CENTRES = {"org-centre-4", "org-centre-5"}


@pytest.fixture
def officials(client_as: Any) -> dict[str, Any]:
    """The demo's officials, each with a token naming their PractitionerRole."""
    from healthbridge.demo.load import load_demo
    from healthbridge.store.repository import Repository

    system = client_as("system")
    load_demo(Repository(system.client.app.state.repository.engine), children=30, as_of=AS_OF)
    return {
        name: client_as(
            "district-official", user=name, fhir_user=f"PractitionerRole/official-{name}-role"
        )
        for name in ("zj", "hz", "nb", "binjiang")
    }


def _rows(client: Any, url: str) -> list[dict[str, Any]]:
    got = client.get(url)
    assert got.status_code == 200, got.text[:300]
    rows: list[dict[str, Any]] = got.json()["rows"]
    return rows


def test_a_city_official_sees_their_districts_only(officials: dict[str, Any]) -> None:
    hz = officials["hz"]
    areas = _rows(hz, f"/reports/areas?as_of={AS_OF}")
    assert {r["area"] for r in areas} == {"all", *HZ_DISTRICTS}
    assert {r["name"] for r in areas} >= {"杭州市", "滨江区"}
    coverage = _rows(hz, f"/reports/coverage?as_of={AS_OF}")
    centres = {r["centre"] for r in coverage if r["grouping"] == "centre"}
    assert centres <= HZ_CENTRES
    assert centres & HZ_CENTRES
    prevalence = _rows(hz, f"/reports/prevalence?as_of={AS_OF}")
    assert {r["centre"] for r in prevalence if r["grouping"] == "centre"} <= HZ_CENTRES | {"none"}
    # a district under the city: its centres only
    xihu = _rows(hz, f"/reports/coverage?as_of={AS_OF}&area=area-hz-xihu")
    assert {r["centre"] for r in xihu if r["grouping"] == "centre"} <= {"org-centre-2"}
    # another city, its districts, a centre and an unknown id: refused alike
    for other in ("area-nb", "area-nb-haishu", "area-zj", "org-centre-4", "nowhere"):
        for path in ("areas", "coverage", "prevalence", "trend", "areas/chart.png"):
            got = hz.get(f"/reports/{path}?as_of={AS_OF}&area={other}")
            assert got.status_code == 403, (path, other, got.text[:200])
            assert got.json()["resourceType"] == "OperationOutcome"


def test_the_province_sees_its_cities_and_the_cities_add_up(officials: dict[str, Any]) -> None:
    zj = officials["zj"]
    areas = _rows(zj, f"/reports/areas?as_of={AS_OF}")
    assert {r["area"] for r in areas} == {"all", "area-hz", "area-nb"}
    nb = _rows(zj, f"/reports/areas?as_of={AS_OF}&area=area-nb")
    assert {r["area"] for r in nb} == {"all", "area-nb-haishu", "area-nb-yinzhou"}
    # the province's denominators are its cities' (suppression aside: cells of 1-2 hide counts)
    for figure in {r["figure"] for r in areas}:
        rows = [r for r in areas if r["figure"] == figure]
        whole = next(r for r in rows if r["area"] == "all")
        parts = [r["denominator"] for r in rows if r["area"] != "all"]
        if whole["denominator"] is not None and None not in parts:
            assert whole["denominator"] == sum(parts), figure
    city = next(r for r in nb if r["area"] == "all" and r["figure"] == "vaccination:MMR:1")
    from_nb = next(
        r
        for r in _rows(officials["nb"], f"/reports/areas?as_of={AS_OF}")
        if r["area"] == "all" and r["figure"] == "vaccination:MMR:1"
    )
    assert city == from_nb  # the city's figure is the same to its own official and above


def test_a_district_official_compares_centres(officials: dict[str, Any]) -> None:
    binjiang = officials["binjiang"]
    areas = _rows(binjiang, f"/reports/areas?as_of={AS_OF}")
    assert {r["area"] for r in areas} <= {"all", "org-centre-1", "org-centre-6"}
    assert binjiang.get(f"/reports/areas?as_of={AS_OF}&area=area-hz").status_code == 403


def test_trend_and_csv(officials: dict[str, Any]) -> None:
    nb = officials["nb"]
    trend = _rows(nb, f"/reports/trend?as_of={AS_OF}")
    assert len({r["period_start"] for r in trend}) == 4
    got = nb.get(f"/reports/areas?as_of={AS_OF}&format=csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.BytesIO(got.content), encoding="utf-8-sig")
    assert set(table["area"]) <= {"all", "area-nb-haishu", "area-nb-yinzhou"}
    assert "宁波市" in set(table["name"])
    trend_csv = nb.get(f"/reports/trend?as_of={AS_OF}&format=csv")
    assert trend_csv.status_code == 200
    assert b"period_start" in trend_csv.content
    chart = officials["zj"].get(f"/reports/trend/chart.png?as_of={AS_OF}&lang=en")
    assert chart.status_code == 200
    assert chart.content[:4] == b"\x89PNG"
    bars = officials["zj"].get(f"/reports/areas/chart.png?as_of={AS_OF}&figure=vaccination:MMR:1")
    assert bars.status_code == 200
    assert bars.content[:4] == b"\x89PNG"


@pytest.mark.usefixtures("officials")
def test_the_record_decides_the_officials_area(client_as: Any) -> None:
    # an organisation claim that disagrees with the PractitionerRole is not believed
    claims = client_as(
        "district-official",
        user="nb-claims-hz",
        fhir_user="PractitionerRole/official-nb-role",
        org="Organization/area-hz",
    )
    rows = _rows(claims, f"/reports/areas?as_of={AS_OF}")
    assert {r["area"] for r in rows} <= {"all", "area-nb-haishu", "area-nb-yinzhou"}
    # a paediatrician's role is not an official's
    doctor = client_as(
        "district-official", user="doc", fhir_user="PractitionerRole/pr-org-mch-1-role"
    )
    assert doctor.get(f"/reports/areas?as_of={AS_OF}").status_code == 403
    # a token without fhirUser keeps its organisation claim (provider-asserted)
    asserted = client_as("district-official", user="nb-token", org="Organization/area-nb")
    rows = _rows(asserted, f"/reports/coverage?as_of={AS_OF}")
    assert {r["centre"] for r in rows if r["grouping"] == "centre"} <= NB_CENTRES
    # a centre is not an area: refused
    centre = client_as("district-official", user="x", org="Organization/org-centre-1")
    assert centre.get(f"/reports/areas?as_of={AS_OF}").status_code == 403
