"""gather() reads back exactly what the demo generator wrote."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from fastapi.testclient import TestClient

from healthbridge.demo.population import generate
from healthbridge.district.gather import gather
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN


def test_gather_matches_the_generated_district(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system", demo=True)
    frames = gather(client.app.state.repository)  # type: ignore[attr-defined]
    district = generate(children=DEMO_CHILDREN, as_of=AS_OF)

    children = frames.children.set_index("child_id").sort_index()
    assert list(children.index) == sorted(c.id for c in district.children)
    for c in district.children:
        row: pd.Series = children.loc[c.id]  # type: ignore[assignment]
        assert row["birth_date"] == pd.Timestamp(c.birth_date)
        assert int(row["sex"]) == int(c.sex)
        assert (row["centre"] if pd.notna(row["centre"]) else None) == c.centre_id

    # every visit is a checkup Encounter with one paired measurement row
    assert len(frames.checkups) == len(district.visits)
    assert len(frames.measurements) == len(district.visits)
    got = frames.measurements.sort_values(["child_id", "date"])["weight_kg"].to_numpy()
    want = district.visits.sort_values(["child_id", "date"])["weight_kg"].to_numpy()
    assert got.tolist() == want.astype(float).tolist()
    assert set(frames.measurements["measure"]) <= {"l", "h"}
    assert frames.measurements["zwei"].notna().all()
    assert len(frames.vaccinations) == len(district.doses)
    assert set(frames.centres["centre"]) == {
        o.id for o in district.organizations if o.kind.value == "childcare-centre"
    }


def test_gather_of_an_empty_database(make_client: Callable[..., TestClient]) -> None:
    frames = gather(make_client("system").app.state.repository)  # type: ignore[attr-defined]
    assert frames.children.empty
    assert frames.measurements.empty
    assert frames.checkups.empty


def test_cached_frames_follow_every_write(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system", demo=True)
    repo = client.app.state.repository  # type: ignore[attr-defined]
    cache = client.app.state.district_cache  # type: ignore[attr-defined]
    first = cache.gather(repo)
    first.children["child_id"] = "changed"  # a caller's change stays its own
    again = cache.gather(repo)
    assert len(again.children) == DEMO_CHILDREN
    assert "changed" not in set(again.children["child_id"])
    pd.testing.assert_frame_equal(again.measurements, gather(repo).measurements)
    cid = str(again.children["child_id"].iloc[0])
    patient = client.get(f"/fhir/Patient/{cid}").json()
    patient["birthDate"] = "2025-01-01"
    r = client.put(
        f"/fhir/Patient/{cid}", json=patient, headers={"Content-Type": "application/fhir+json"}
    )
    assert r.status_code == 200, r.text
    after = cache.gather(repo).children.set_index("child_id")
    assert after.loc[cid, "birth_date"] == pd.Timestamp("2025-01-01")
