"""The class care log and the parent's "today" feed, through the app (issue 16 items 4, 5)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.charts.summary import enrolment
from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import care, leave
from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development")
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        _classmate(app.state.repository, world)
        yield client, world


def _classmate(repo: Any, world: World) -> None:
    """Move another child of the centre into the world child's class (the small demo puts
    one child per class)."""
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        child = txn.read("Patient", world.child_id).resource
        _centre, room = enrolment(child)
        patients = [s.resource for s in txn.search_params("Patient", [("_count", "100")]).matches]
        mate = next(
            p for p in patients
            if p["id"] != world.child_id and enrolment(p)[0] == world.centre_id
        )  # fmt: skip
        for ext in mate["extension"]:
            for part in ext.get("extension", []):
                if part.get("url") == "class":
                    part["valueReference"] = {"reference": f"Location/{room}"}
        txn.update("Patient", mate["id"], mate)


def _care_log(client: TestClient, pid: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params("Observation", [("subject", f"Patient/{pid}")]).matches
    return [s.resource for s in found if s.resource and care.care_item(s.resource)]


def _room_of(client: TestClient, world: World) -> tuple[str, list[str]]:
    page = client.get("/app/centre/care").text
    rooms = re.findall(r'<option value="([^"]+)" selected', page)
    for room in re.findall(r'<option value="([^"]+)"', page):
        kids = re.findall(
            r'name="amount-([^"]+)"', client.get(f"/app/centre/care?room={room}").text
        )
        if world.child_id in kids:
            return room, kids
    raise AssertionError(f"no class holds the child (rooms {rooms})")


def test_class_log_keeps_every_input_on_error_and_saves_once(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    login(client, world, "manager")
    room, kids = _room_of(client, world)
    other = next(k for k in kids if k != world.child_id)
    day = today().isoformat()
    form = {
        "room": room, "meal": "lunch", "day": day,
        f"amount-{world.child_id}": "most", f"nap_from-{world.child_id}": "12:30",
        f"nap_to-{world.child_id}": "14:40", f"outdoor-{world.child_id}": "45",
        f"mood-{world.child_id}": "happy", f"note-{world.child_id}": "不爱吃胡萝卜",
        f"toilet-{world.child_id}": "normal",
        f"nap_from-{other}": "14:00", f"nap_to-{other}": "13:00", f"outdoor-{other}": "2h",
    }  # fmt: skip
    bad = client.post("/app/centre/care", data=form)
    assert bad.status_code == 400
    assert "起床时间应晚于入睡时间" in bad.text
    assert "0–600" in bad.text
    row = re.search(rf'data-testid="care-row-{world.child_id}".*?</tr>', bad.text, re.S)
    assert row is not None
    assert "bad" not in row.group(0)[:60]
    for kept in ('value="most" selected', 'value="12:30"', 'value="45"', "不爱吃胡萝卜"):
        assert kept in row.group(0)
    assert 'value="2h"' in bad.text  # the bad value itself is kept too
    assert _care_log(client, world.child_id) == []  # nothing half-written

    form.update({f"nap_to-{other}": "15:00", f"outdoor-{other}": "30"})
    ok = client.post("/app/centre/care", data=form, follow_redirects=False)
    assert ok.status_code == 303, ok.text[:3000]
    saved = _care_log(client, world.child_id)
    assert sorted(care.care_item(o) or "" for o in saved) == [
        "lunch", "mood", "nap", "outdoor", "toileting",
    ]  # fmt: skip
    nap = next(o for o in saved if care.care_item(o) == "nap")
    assert nap["effectivePeriod"]["start"].endswith("12:30:00+08:00")
    assert nap["meta"]["profile"] == [care.PROFILE]
    # the form shows what is recorded; saving again updates, never duplicates
    again = client.get(f"/app/centre/care?room={room}&meal=lunch&day={day}").text
    assert 'value="most" selected' in again
    form[f"amount-{world.child_id}"] = "all"
    assert client.post("/app/centre/care", data=form, follow_redirects=False).status_code == 303
    saved = _care_log(client, world.child_id)
    assert len(saved) == 5
    lunch = next(o for o in saved if care.care_item(o) == "lunch")
    assert lunch["valueCodeableConcept"]["coding"][0] == {"system": t.CS_MEAL_AMOUNT, "code": "all"}


def test_saved_log_validates_against_the_profile(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "manager")
    room, _kids = _room_of(client, world)
    form = {"room": room, "meal": "snack", "day": today().isoformat(),
            f"amount-{world.child_id}": "half", f"nap_from-{world.child_id}": "12:00",
            f"nap_to-{world.child_id}": "14:00", f"outdoor-{world.child_id}": "60"}  # fmt: skip
    assert client.post("/app/centre/care", data=form, follow_redirects=False).status_code == 303
    for o in _care_log(client, world.child_id):
        assert validate_against_profiles(o) == [], o


def test_parent_sees_the_day_and_the_feed(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "manager")
    room, _kids = _room_of(client, world)
    day = today().isoformat()
    daily = {"room": room, "day": day, f"temp-{world.child_id}": "38.4"}
    assert client.post("/app/centre/daily", data=daily, follow_redirects=False).status_code == 303
    form = {"room": room, "meal": "lunch", "day": day, f"amount-{world.child_id}": "little",
            f"outdoor-{world.child_id}": "40"}  # fmt: skip
    assert client.post("/app/centre/care", data=form, follow_redirects=False).status_code == 303

    login(client, world, "parent")
    home = client.get("/app/parent").text
    assert f'data-feed="/app/parent/today/{world.child_id}"' in home
    assert "38.4 °C · 发热" in home
    assert "吃了少量" in home
    assert "40 分钟" in home
    feed = client.get(f"/app/parent/today/{world.child_id}?lang=en").json()
    kinds = [e["kind"] for e in feed["events"]]
    assert {"temperature", "lunch", "outdoor"} <= set(kinds)
    assert [e["at"] for e in feed["events"]] == sorted(e["at"] for e in feed["events"])
    temp = next(e for e in feed["events"] if e["kind"] == "temperature")
    assert temp["alert"] is True
    from tests.healthbridge.notify.test_messages import check_time

    assert temp["at"] == check_time(client, world, 38.4)  # when the check was recorded
    assert temp["detail"] == "38.4 °C · fever"
    # another family's child: not found, no data
    assert client.get(f"/app/parent/today/{world.other_child_id}").status_code == 404


def test_staff_pages_refuse_parents(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "parent")
    assert client.get("/app/centre/care").status_code == 403


def test_rows_parse_per_row_errors() -> None:
    rows = care.parse_rows(
        {"amount-a": "most", "nap_from-b": "12:00", "outdoor-c": "-5", "mood-d": "angry"},
        ["a", "b", "c", "d", "e"],
    )
    assert [r.errors for r in rows] == [
        [], ["care.error.nap_times"], ["care.error.outdoor"], ["care.error.choice"], [],
    ]  # fmt: skip
    assert rows[4].empty
    assert not rows[0].empty
    now = dt.datetime(2026, 11, 20, 16, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    ((item, obs),) = care.row_observations(rows[0], "breakfast", now.date(), None, now)
    assert item == "breakfast"
    assert obs["effectiveDateTime"] == "2026-11-20T08:00:00+08:00"


def _tasks(client: TestClient, pid: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params("Task", [("patient", f"Patient/{pid}")]).matches
    return [s.resource for s in found if s.resource and leave.is_leave_request(s.resource)]


def test_parent_sends_a_leave_request(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "parent")
    start = today() + dt.timedelta(days=1)
    bad = client.post(
        f"/app/parent/leave/{world.child_id}",
        data={"start": start.isoformat(), "end": today().isoformat(), "text": "发烧 38.5"},
    )
    assert bad.status_code == 400
    assert "结束日期不早于开始日期" in bad.text
    assert "请选择病假或事假" in bad.text
    assert "发烧 38.5" in bad.text  # what was typed is kept
    assert _tasks(client, world.child_id) == []
    form = {"start": start.isoformat(), "end": start.isoformat(), "reason": "sick",
            "text": "发烧 38.5"}  # fmt: skip
    ok = client.post(f"/app/parent/leave/{world.child_id}", data=form, follow_redirects=False)
    assert ok.status_code == 303
    (task,) = _tasks(client, world.child_id)
    assert task["for"] == {"reference": f"Patient/{world.child_id}"}
    assert task["requester"] == {"reference": world.parent}
    assert task["owner"] == {"reference": f"Organization/{world.centre_id}"}
    assert task["status"] == "requested"
    assert task["executionPeriod"] == {"start": start.isoformat(), "end": start.isoformat()}
    assert task["reasonCode"]["text"] == "发烧 38.5"
    assert "病假" in client.get("/app/parent").text
    # another family's child: not found, nothing written
    other = client.post(f"/app/parent/leave/{world.other_child_id}", data=form)
    assert other.status_code == 404
    assert _tasks(client, world.other_child_id) == []


def test_class_log_reads_the_class_in_one_search(
    site: tuple[TestClient, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The class's Observations of the day: one search for the class (up to 100 children),
    not one per child."""
    from tests.healthbridge.web.counting import of_type, record_searches

    client, world = site
    login(client, world, "manager")
    room, kids = _room_of(client, world)
    assert len(kids) >= 2
    calls = record_searches(monkeypatch)
    assert client.get(f"/app/centre/care?room={room}").status_code == 200
    searches = of_type(calls, "Observation")
    assert len(searches) == 1
    subjects = dict(searches[0][1])["subject"].split(",")
    assert sorted(subjects) == sorted(f"Patient/{k}" for k in kids)
