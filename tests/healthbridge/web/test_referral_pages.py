"""Referrals both ways: the hospital accepts, answers and closes; centre and parent see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import referrals
from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development")
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        yield client, world


def _refer(client: TestClient, world: World) -> str:
    sr = {
        "resourceType": "ServiceRequest", "id": "ref-test", "status": "active",
        "intent": "order", "code": {"text": "贫血复查"},
        "subject": {"reference": f"Patient/{world.child_id}"},
        "authoredOn": "2026-11-20T09:00:00+08:00",
        "performer": [{"reference": f"Organization/{world.hospital_id}"}],
    }  # fmt: skip
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        txn.update("ServiceRequest", "ref-test", sr)
    return "ref-test"


def _read(client: TestClient, rtype: str, rid: str) -> dict[str, Any] | None:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found: dict[str, Any] | None = txn.read(rtype, rid).resource
        return found


def test_hospital_accepts_answers_and_closes(site: tuple[TestClient, World]) -> None:
    client, world = site
    rid = _refer(client, world)
    login(client, world, "doctor")
    home = client.get("/app/doctor").text
    assert f"/app/doctor/referral/{rid}" in home
    assert "待处理" in home
    page = client.get(f"/app/doctor/referral/{rid}")
    assert page.status_code == 200
    assert "贫血复查" in page.text
    r = client.post(
        f"/app/doctor/referral/{rid}", data={"action": "accept"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text[-600:]
    task = _task(client, rid)
    assert task is not None
    assert task["status"] == "accepted"
    assert task["basedOn"] == [{"reference": f"ServiceRequest/{rid}"}]
    assert "医院已接收" in client.get(f"/app/doctor/referral/{rid}").text
    # an incomplete answer: the form again with what was typed, nothing written
    bad = client.post(
        f"/app/doctor/referral/{rid}", data={"action": "answer", "findings": "Hb 98 g/L"}
    )
    assert bad.status_code == 400
    assert "请填写检查结果和处理计划" in bad.text
    assert "Hb 98 g/L" in bad.text
    assert (_read(client, "ServiceRequest", rid) or {})["status"] == "active"
    follow = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    ok = client.post(
        f"/app/doctor/referral/{rid}",
        data={"action": "answer", "findings": "Hb 98 g/L，轻度贫血", "plan": "补铁 4 周后复查",
              "follow_up": follow},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303
    assert (_read(client, "ServiceRequest", rid) or {})["status"] == "completed"
    done = _task(client, rid) or {}
    assert done["status"] == "completed"
    assert len(done["output"]) == 3
    for who in ("manager", "parent"):
        login(client, world, who)
        child = client.get(f"/app/child/{world.child_id}").text
        assert 'data-testid="referral-answered"' in child, who
        assert "补铁 4 周后复查" in child, who
        assert follow in child, who


def test_a_closed_referral_cannot_be_answered_again(site: tuple[TestClient, World]) -> None:
    client, world = site
    rid = _refer(client, world)
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        sr = txn.read("ServiceRequest", rid).resource
        assert sr is not None
        txn.update("ServiceRequest", rid, {**sr, "status": "revoked"})
    login(client, world, "doctor")
    r = client.post(
        f"/app/doctor/referral/{rid}", data={"action": "answer", "findings": "x", "plan": "y"}
    )
    assert r.status_code in (400, 404)
    assert _task(client, rid) is None


def _task(client: TestClient, rid: str) -> dict[str, Any] | None:
    """The hospital's Task of the referral (Task?based-on=ServiceRequest/rid)."""
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        return referrals.hospital_task(txn, rid)


def test_parent_reads_one_message_per_problem(site: tuple[TestClient, World]) -> None:
    from tests.healthbridge.web.world import alert_flag, write_alert

    client, world = site
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        # underweight, its review due today: the parent is promised that date
        write_alert(txn, world.child_id, world.centre_id, start=today().isoformat())
        wasting = alert_flag(world.child_id, "wasting")
        wasting.pop("id", None)
        txn.create(wasting)
    login(client, world, "parent")
    page = client.get(f"/app/child/{world.child_id}").text
    assert page.count('data-testid="problem-nutrition"') == 1
    assert 'data-testid="alert-underweight"' not in page  # not one box per alert
    assert f"保健医生会在 {today().isoformat()} 前联系您" in page
    login(client, world, "manager")  # staff still see each alert
    assert 'data-testid="alert-underweight"' in client.get(f"/app/child/{world.child_id}").text


def test_hospital_declines_with_a_reason(site: tuple[TestClient, World]) -> None:
    client, world = site
    rid = _refer(client, world)
    login(client, world, "doctor")
    r = client.post(
        f"/app/doctor/referral/{rid}",
        data={"action": "decline", "reason": "本院无儿童营养门诊"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    task = _task(client, rid) or {}
    assert task["status"] == "rejected"
    assert task["statusReason"]["text"] == "本院无儿童营养门诊"
    assert (_read(client, "ServiceRequest", rid) or {})["status"] == "active"  # referrer decides
    login(client, world, "manager")
    page = client.get(f"/app/child/{world.child_id}").text
    assert 'data-testid="referral-rejected"' in page
    assert 'data-testid="referral-declined-reason"' in page  # the centre sees why
    assert "本院无儿童营养门诊" in page
