"""Attendance page: check-in/out, absences with their cause, today's follow-up list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import attendance as att
from tests.healthbridge.web.test_daily import add_classmates
from tests.healthbridge.web.test_pages import login, site  # noqa: F401  (fixture)
from tests.healthbridge.web.world import World


def _encounters(client: TestClient, pid: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params("Encounter", [("subject", f"Patient/{pid}")]).matches
    return [s.resource for s in found if s.resource and att.enc_key(s.resource).startswith(pid)]


def _symptoms(client: TestClient, pid: str) -> list[str]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params(
            "Observation", [("subject", f"Patient/{pid}"), ("code", "75325-1")]
        ).matches
    return sorted(
        c["code"]
        for s in found
        if s.resource and "absence" in str(s.resource.get("identifier"))
        for c in s.resource["valueCodeableConcept"]["coding"]
    )


def test_check_in_and_out_keep_one_record_per_day(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    pid = world.child_id
    page = client.get("/app/centre/attendance")
    assert page.status_code == 200
    assert f'id="child-{pid}"' in page.text
    r = client.post(
        "/app/centre/attendance", data={"child": pid, "action": "in"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"#child-{pid}")
    client.post("/app/centre/attendance", data={"child": pid, "action": "in"})
    (enc,) = _encounters(client, pid)
    assert enc["status"] == "in-progress"
    assert "T" in enc["period"]["start"]
    assert "入园" in client.get("/app/centre/attendance").text
    client.post("/app/centre/attendance", data={"child": pid, "action": "out"})
    (enc,) = _encounters(client, pid)
    assert enc["status"] == "finished"
    assert enc["period"]["end"] >= enc["period"]["start"]
    assert enc["type"][0]["coding"][0]["code"] == "attendance"  # never a checkup-visit code


def test_check_out_without_check_in_is_refused_on_the_row(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    r = client.post("/app/centre/attendance", data={"child": world.child_id, "action": "out"})
    assert r.status_code == 400
    assert "尚未签到" in r.text
    assert _encounters(client, world.child_id) == []


def test_absence_follow_up(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    mates = add_classmates(client, world, 1)
    login(client, world, "manager")
    page = client.get("/app/centre/attendance").text
    assert "未入园，未请假" in page  # nobody arrived yet: all to follow up
    pid = world.child_id
    bad = client.post(
        "/app/centre/attendance",
        data={"child": pid, "action": "absent", "reason": "", "diagnosis": "疱疹性咽峡炎",
              "sym": ["fever"]},
    )  # fmt: skip
    assert bad.status_code == 400
    assert 'value="疱疹性咽峡炎"' in bad.text  # what was typed is kept
    assert _encounters(client, pid) == []
    back = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    ok = client.post(
        "/app/centre/attendance",
        data={"child": pid, "action": "absent", "reason": "sick", "text": "妈妈电话告知",
              "diagnosis": "疱疹性咽峡炎", "sym": ["fever", "rash"], "return": back},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303
    (enc,) = _encounters(client, pid)
    day = att.read_day(enc)
    assert (day.status, day.reason, day.diagnosis, day.expected_return) == (
        "absent", "sick", "疱疹性咽峡炎", back,
    )  # fmt: skip
    assert day.followed_up
    assert _symptoms(client, pid) == ["fever", "rash"]  # counted by the outbreak rules
    # corrected: only fever → the rash observation goes
    client.post(
        "/app/centre/attendance",
        data={"child": pid, "action": "absent", "reason": "sick", "sym": ["fever"]},
    )
    assert _symptoms(client, pid) == ["fever"]
    page = client.get("/app/centre/attendance").text
    todo = page.split('class="card followup"')[1].split("</section>")[0]
    assert f"#child-{pid}" not in todo  # followed up today
    assert f"#child-{mates[0]}" in todo  # the classmate is still to follow up


def test_follow_ups_track_a_sick_absence_until_return() -> None:
    today = dt.date(2026, 11, 20)
    kids = [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}]
    sick = att.Day("absent", reason="sick", diagnosis="手足口病", followed_up=True)
    days = {
        ("a", "2026-11-19"): sick,
        ("b", "2026-11-20"): att.Day("in", arrived="08:05"),
        ("c", "2026-11-20"): att.Day("absent", reason="unnotified"),
        ("d", "2026-11-18"): att.Day("absent", reason="sick", expected_return="2026-11-19"),
    }
    found = {f.patient_id: f for f in att.follow_ups(kids, days, today)}
    assert found["a"].why == "sick"
    assert found["a"].since == "2026-11-19"
    assert found["a"].diagnosis == "手足口病"
    assert "b" not in found
    assert found["c"].why == "unknown"
    assert found["d"].why == "no-show"  # past the expected return and not back


def test_days_of_reads_every_page_of_the_centre_records(site: tuple[TestClient, World]) -> None:  # noqa: F811
    """More records than one search page holds (a centre of 1,200 children has more than
    1,000 in a week): every one is read, none silently dropped (the page size is made small
    here instead of writing 1,001 records)."""
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    mates = add_classmates(client, world, 4)
    day = dt.date(2026, 11, 20)
    at = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        for pid in [world.child_id, *mates]:
            att.check_in(txn, pid, world.centre_id, None, at)
    repo.max_count = 2  # a search page of two records
    try:
        with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
            found = att.days_of(txn, world.centre_id, day, day)
    finally:
        repo.max_count = 1000
    assert sorted(found) == sorted((pid, day.isoformat()) for pid in [world.child_id, *mates])
