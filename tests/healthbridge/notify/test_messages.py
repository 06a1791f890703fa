"""Alert messages: a fever reaches the guardians with temperature, time and advice; a
high-severity alert reaches the centre (issue 16 item 6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.fhir import r4
from healthbridge.notify.messages import TOPIC_FEVER, TOPIC_HIGH_ALERT, text_for, topic_of
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world
from tests.settle import settle, settling

RULESET = "cn-child-health@2026.1/CN"


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development", clinical_ruleset=RULESET)
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        settle(app)  # the demo's own alerts and messages are written before the test starts
        yield settling(client), world


def messages(client: TestClient, **params: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params("Communication", list(params.items())).matches
    return [s.resource for s in found if s.resource]


def fever_check(client: TestClient, world: World, temp: str, session: str = "morning") -> None:
    from healthbridge.charts.summary import enrolment

    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        room = enrolment(txn.read("Patient", world.child_id).resource)[1]
    login(client, world, "manager")
    form = {"room": room, "day": today().isoformat(), "session": session}
    form[f"temp-{world.child_id}"] = temp
    assert client.post("/app/centre/daily", data=form, follow_redirects=False).status_code == 303


def check_time(client: TestClient, world: World, value: float) -> str:
    """HH:MM (the check's own offset) of the child's temperature Observation of ``value``."""
    code = "http://loinc.org|8310-5"
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params(
            "Observation", [("subject", f"Patient/{world.child_id}"), ("code", code)]
        ).matches
    times = [
        str(m.resource["effectiveDateTime"])[11:16]
        for m in found
        if m.resource and m.resource.get("valueQuantity", {}).get("value") == value
    ]
    assert len(times) == 1, times
    return times[0]


def test_fever_tells_the_guardian_temperature_time_and_what_to_do(
    site: tuple[TestClient, World],
) -> None:
    client, world = site
    fever_check(client, world, "39.4")
    sent = messages(client, subject=f"Patient/{world.child_id}")
    fever = [m for m in sent if topic_of(m) == TOPIC_FEVER]
    assert len(fever) == 1, sent
    msg = fever[0]
    assert {"reference": world.parent} in msg["recipient"]  # every guardian of the child
    assert msg["priority"] == "urgent"  # 39.4 °C is a high fever
    zh, en = text_for(msg, "zh"), text_for(msg, "en")
    at = check_time(client, world, 39.4)  # the time the check was recorded (local)
    assert "39.4 °C" in zh
    assert at in zh
    assert "就医" in zh
    assert "39.4 °C" in en
    assert at in en
    assert "see a doctor" in en
    r4.validate_model(msg)  # written trusted: the builder must make valid R4
    # the high-severity alert also reaches the centre
    centre = messages(
        client, recipient=f"Organization/{world.centre_id}", subject=f"Patient/{world.child_id}"
    )
    assert [topic_of(m) for m in centre] == [TOPIC_HIGH_ALERT]
    r4.validate_model(centre[0])
    # the same alert again (the afternoon check the same day) sends nothing new
    fever_check(client, world, "39.0", session="afternoon")
    assert len([m for m in messages(client, subject=f"Patient/{world.child_id}")
                if topic_of(m) == TOPIC_FEVER]) == 1  # fmt: skip


def test_no_message_without_fever(site: tuple[TestClient, World]) -> None:
    client, world = site
    fever_check(client, world, "36.6")
    assert messages(client, subject=f"Patient/{world.child_id}") == []


def test_inboxes_show_the_messages_in_reach(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "manager")
    before = client.get("/app/centre/inbox.json").json()["recent"]  # the demo's own alerts
    fever_check(client, world, "39.4")
    page = client.get("/app/centre/inbox")
    assert page.status_code == 200
    assert "高优先级提醒" in page.text
    assert 'data-badge="/app/centre/inbox.json"' in page.text  # the live count on centre pages
    feed = client.get("/app/centre/inbox.json").json()
    assert feed["recent"] == before + 1
    assert feed["events"][0]["alert"] is True
    login(client, world, "parent")
    home = client.get("/app/parent").text
    assert "发热通知" in home
    assert "39.4 °C" in home
    mine = client.get(f"/app/parent/inbox/{world.child_id}?lang=en").json()["events"]
    assert [e["kind"] for e in mine] == ["msg-fever"]
    assert "see a doctor" in mine[0]["detail"]
    assert client.get(f"/app/parent/inbox/{world.other_child_id}").status_code == 404
    assert client.get("/app/centre/inbox").status_code == 403


def test_the_notice_names_the_days_highest_temperature(site: tuple[TestClient, World]) -> None:
    """The pipeline cites one Observation of the day as evidence (the lowest id): an earlier
    normal reading the same day must not become the temperature of the notice."""
    client, world = site
    with client.app.state.repository.transaction(SYSTEM_CONTEXT, write=True) as txn:  # type: ignore[attr-defined]
        early = {
            "resourceType": "Observation", "id": "0-early", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
            "subject": {"reference": f"Patient/{world.child_id}"},
            "effectiveDateTime": f"{today().isoformat()}T07:30:00+08:00",
            "valueQuantity": {"value": 36.6, "unit": "Cel", "system": "http://unitsofmeasure.org",
                              "code": "Cel"},
        }  # fmt: skip
        txn.update("Observation", "0-early", early)
    fever_check(client, world, "39.4")
    (msg,) = [m for m in messages(client, subject=f"Patient/{world.child_id}")
              if topic_of(m) == TOPIC_FEVER]  # fmt: skip
    assert "39.4 °C" in text_for(msg, "zh")
