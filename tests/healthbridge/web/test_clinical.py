"""The paediatrician's clinical view and the visit form's warnings (both databases)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.charts.labels import Lang
from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web.clinical import default_visit_type, visit_type_names
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development")
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        yield client, world


def _everything(client: TestClient, pid: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        return [s.resource for s in txn.everything(pid) if s.resource is not None]


def _count(client: TestClient, pid: str, rtype: str) -> int:
    return sum(1 for r in _everything(client, pid) if r["resourceType"] == rtype)


def test_default_visit_type_follows_age_and_is_named() -> None:
    birth = dt.date(2024, 9, 1)
    rules = load_ruleset_key(DEFAULT_RULESET_KEY)
    assert default_visit_type(birth, dt.date(2026, 11, 1), rules) == "24m"  # 26 months, not "1m"
    assert default_visit_type(birth, dt.date(2024, 10, 2), rules) == "1m"
    assert default_visit_type(birth, dt.date(2025, 9, 20), rules) == "12m"
    names = visit_type_names(Lang.ZH, rules)
    assert names["24m"] != "24m"
    assert "体检" in names["admission"]
    assert visit_type_names(Lang.EN, rules)["admission"] == "Admission check"


def test_doctor_sees_z_scores_table_and_names(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "doctor")
    page = client.get(f"/app/child/{world.child_id}").text
    assert 'data-testid="clinical"' in page
    assert 'data-testid="measurements"' in page
    assert re.search(r"WAZ −?\d+\.\d\d · ", page)  # 2 decimals and a grade in words
    assert re.search(r"<td[^>]*>−?-?\d+\.\d\d", page)  # the table's z cells
    history = page.split("就诊与测量记录")[1]
    assert not re.search(r"· (1m|24m|admission) ·", history)  # visit types in Chinese
    form = client.get(f"/app/doctor/visit/{world.child_id}").text
    assert ">org-" not in form  # organisations by name
    assert re.search(r'<option value="[^"]+" selected>[^<]*(健康检查|体检)', form)


def test_parents_heights_give_the_target_height(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "doctor")
    assert 'data-testid="target-height"' not in client.get(f"/app/child/{world.child_id}").text
    r = client.post(
        f"/app/doctor/visit/{world.child_id}",
        data={"visit_date": dt.date.today().isoformat(), "visit_type": "admission",
              "temperature_c": "36.6", "father_height_cm": "175", "mother_height_cm": "160",
              "confirm": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get(f"/app/child/{world.child_id}").text
    sex = next(x for x in _everything(client, world.child_id) if x["resourceType"] == "Patient")
    target = "174.0" if sex["gender"] == "male" else "161.0"
    assert f"靶身高 {target} cm" in page


def test_duplicate_dose_is_confirmed_before_saving(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "doctor")
    given = next(
        r for r in _everything(client, world.child_id)
        if r["resourceType"] == "Immunization" and r.get("status") == "completed"
    )  # fmt: skip
    code = given["vaccineCode"]["coding"][0]["code"]
    dose = str(given["protocolApplied"][0]["doseNumberPositiveInt"])
    data = {
        "visit_date": dt.date.today().isoformat(), "visit_type": "admission",
        "temperature_c": "36.6", "vaccine": [code, ""], "dose": [dose, "1"], "lot": ["L9", ""],
    }  # fmt: skip
    before = _count(client, world.child_id, "Immunization")
    r = client.post(f"/app/doctor/visit/{world.child_id}", data=data, follow_redirects=False)
    assert r.status_code == 409
    assert "可能重复录入" in r.text
    assert 'data-testid="confirm-warnings"' in r.text
    assert f'<option value="{code}" selected>' in r.text  # the form keeps what was typed
    assert _count(client, world.child_id, "Immunization") == before  # nothing saved
    ok = client.post(
        f"/app/doctor/visit/{world.child_id}", data={**data, "confirm": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303
    assert _count(client, world.child_id, "Immunization") == before + 1


def test_value_far_from_previous_is_confirmed(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "doctor")
    weights = sorted(
        (r for r in _everything(client, world.child_id)
         if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "29463-7"),
        key=lambda r: r["effectiveDateTime"],
    )  # fmt: skip
    last = float(weights[-1]["valueQuantity"]["value"])
    day = dt.date.today().isoformat()
    near = {"visit_date": day, "visit_type": "admission", "weight_kg": f"{last + 0.1:.1f}"}
    before = _count(client, world.child_id, "Observation")
    r = client.post(f"/app/doctor/visit/{world.child_id}", data=near, follow_redirects=False)
    assert r.status_code == 303, r.text  # a plausible value saves at once
    far = {**near, "weight_kg": f"{last * 2.2:.1f}"}
    r = client.post(f"/app/doctor/visit/{world.child_id}", data=far, follow_redirects=False)
    assert r.status_code == 409
    assert "相差很大" in r.text
    assert _count(client, world.child_id, "Observation") == before + 1
