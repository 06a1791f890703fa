"""The centre's leave-request page: list, confirm (absence recorded as told by the parent,
sick leave followed up), ask the parent back; the parent sees the status and the question."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import attendance as att
from healthbridge.web import leave
from healthbridge.web import leave_handling as lh
from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import login, site  # noqa: F401  (fixture)
from tests.healthbridge.web.world import World


def _ask_leave(client: TestClient, world: World, reason: str, start: dt.date, end: dt.date,
               text: str = "") -> dict[str, Any]:  # fmt: skip
    login(client, world, "parent")
    form = {"start": start.isoformat(), "end": end.isoformat(), "reason": reason, "text": text}
    r = client.post(f"/app/parent/leave/{world.child_id}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    (task,) = [t for t in _tasks(client, world.child_id) if t["reasonCode"].get("text") == text]
    return task


def _tasks(client: TestClient, pid: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params("Task", [("patient", f"Patient/{pid}")]).matches
    return [s.resource for s in found if s.resource and leave.is_leave_request(s.resource)]


def _days(client: TestClient, world: World) -> dict[str, att.Day]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = att.days_of(txn, world.centre_id, today() - dt.timedelta(days=3),
                            today() + dt.timedelta(days=5))  # fmt: skip
    return {day: d for (pid, day), d in found.items() if pid == world.child_id}


def test_manager_confirms_sick_leave_and_it_is_followed_up(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    day = today()
    task = _ask_leave(client, world, "sick", day, day + dt.timedelta(days=1), "发烧 38.6，咳嗽")
    login(client, world, "manager")
    page = client.get("/app/centre/leave")
    assert page.status_code == 200
    assert "请假处理" in page.text
    assert "发烧 38.6，咳嗽" in page.text
    assert "病假" in page.text
    assert "待确认 1 条" in page.text
    r = client.post("/app/centre/leave", data={"task": task["id"], "action": "confirm"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"#leave-{task['id']}")
    (stored,) = _tasks(client, world.child_id)
    assert stored["status"] == "accepted"
    days = _days(client, world)
    # sick leave: today recorded (reported by the parent); tomorrow left to the follow-up list
    assert set(days) == {day.isoformat()}
    rec = days[day.isoformat()]
    assert (rec.status, rec.reason, rec.reported_by) == ("absent", "sick", "parent")
    assert rec.text == "发烧 38.6，咳嗽"
    assert rec.expected_return == (day + dt.timedelta(days=2)).isoformat()
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        child = txn.read("Patient", world.child_id).resource
        recorded = att.days_of(txn, world.centre_id, day - dt.timedelta(days=7), day)
    tomorrow = att.follow_ups([child], recorded, day + dt.timedelta(days=1))
    assert [(f.why, f.since) for f in tomorrow] == [("sick", day.isoformat())]
    # twice: refused on the row, nothing changed
    again = client.post("/app/centre/leave", data={"task": task["id"], "action": "confirm"})
    assert again.status_code == 400
    assert "此请假已处理" in again.text
    # the parent sees the status on the phone page
    login(client, world, "parent")
    assert "已确认" in client.get("/app/parent").text
    assert "accepted" in client.get("/app/parent?lang=en").text


def test_personal_leave_records_every_day(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    start = today() + dt.timedelta(days=1)
    task = _ask_leave(client, world, "personal", start, start + dt.timedelta(days=2), "回老家")
    login(client, world, "manager")
    client.post("/app/centre/leave", data={"task": task["id"], "action": "confirm"})
    days = _days(client, world)
    assert sorted(days) == [(start + dt.timedelta(days=n)).isoformat() for n in range(3)]
    assert all(d.reason == "personal" and d.followed_up for d in days.values())


def test_absence_days() -> None:
    d = dt.date(2026, 12, 7)
    nxt = d + dt.timedelta(days=1)
    assert lh.absence_days("sick", d, d + dt.timedelta(days=3), d) == [d]
    assert lh.absence_days("sick", nxt, nxt, d) == [nxt]  # ahead: its first day
    assert lh.absence_days("sick", d - dt.timedelta(days=1), nxt, d) == [
        d - dt.timedelta(days=1), d]  # fmt: skip
    assert len(lh.absence_days("personal", d, d + dt.timedelta(days=2), d)) == 3


def test_manager_asks_the_parent(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    task = _ask_leave(client, world, "sick", today(), today(), "肚子疼")
    login(client, world, "manager")
    empty = client.post("/app/centre/leave", data={"task": task["id"], "action": "ask",
                                                   "text": "  "})  # fmt: skip
    assert empty.status_code == 400
    assert "请填写要问的问题" in empty.text
    long = "问" * 201
    too_long = client.post("/app/centre/leave",
                           data={"task": task["id"], "action": "ask", "text": long})  # fmt: skip
    assert too_long.status_code == 400
    assert long in too_long.text
    bad = client.post("/app/centre/leave", data={"task": task["id"], "action": "reject"})
    assert bad.status_code == 400
    unknown = client.post("/app/centre/leave", data={"task": "nope", "action": "confirm"})
    assert unknown.status_code == 404
    r = client.post("/app/centre/leave",
                    data={"task": task["id"], "action": "ask", "text": "看医生了吗？"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "看医生了吗？" in client.get("/app/centre/leave").text
    (stored,) = _tasks(client, world.child_id)
    assert stored["status"] == "requested"
    login(client, world, "parent")
    page = client.get("/app/parent").text
    assert "老师询问： 看医生了吗？" in page
    inbox = client.get(f"/app/parent/inbox/{world.child_id}").json()["events"]
    assert [e["label"] for e in inbox if "看医生了吗" in e["detail"]] == ["请假询问"]


def test_another_centre_cannot_handle_the_request(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    task = _ask_leave(client, world, "personal", today(), today(), "外出")
    with client.app.state.repository.transaction(SYSTEM_CONTEXT, write=True) as txn:  # type: ignore[attr-defined]
        moved = {**task, "owner": {"reference": "Organization/elsewhere"}}
        txn.update("Task", task["id"], moved)
    login(client, world, "manager")
    assert "外出" not in client.get("/app/centre/leave").text
    r = client.post("/app/centre/leave", data={"task": task["id"], "action": "confirm"})
    assert r.status_code == 404
    assert _tasks(client, world.child_id)[0]["status"] == "requested"


def test_parent_cannot_open_the_staff_page(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "parent")
    assert client.get("/app/centre/leave").status_code == 403
