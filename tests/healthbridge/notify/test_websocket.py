"""The websocket channel: ``$get-ws-binding-token``, binding, handshake, event notifications,
and access control (a subscriber receives only what it may read)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from healthbridge.notify.delivery import Deliverer
from healthbridge.notify.live import Hub
from healthbridge.notify.messages import CS_TOPIC, TOPIC_HIGH_ALERT
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.notify.test_backport import status
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development", notify_delivery_seconds=0)
    with TestClient(app) as client:
        yield client, build_world(app.state.repository)


def websocket_subscription(sid: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription", "id": sid, "status": "active", "reason": "live",
        "criteria": TOPIC_HIGH_ALERT,
        "channel": {"type": "websocket", "payload": "application/fhir+json"}, **extra,
    }  # fmt: skip


def centre_alert(repo: Any, child: str, centre: str, text: str) -> str:
    msg = {
        "resourceType": "Communication", "status": "completed", "priority": "urgent",
        "category": [{"coding": [{"system": CS_TOPIC, "code": "high-alert"}]}],
        "subject": {"reference": f"Patient/{child}"},
        "recipient": [{"reference": f"Organization/{centre}"}],
        "payload": [{"contentString": text}, {"contentString": text + " (en)"}],
    }  # fmt: skip
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        return str(txn.create(msg).stored.id)


def deliverer(client: TestClient) -> Deliverer:
    """A delivery round-runner (a Subscription without a stored position starts from now)."""
    app: Any = client.app
    return Deliverer(
        app.state.repository, interval=60, base_url="http://testserver/fhir", hub=app.state.live
    )


def test_binding_token_operation(site: tuple[TestClient, World]) -> None:
    client, _world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "ws", websocket_subscription("ws"))
        hook = websocket_subscription("hook")
        hook["channel"] = {"type": "rest-hook", "endpoint": "https://x.example/h"}
        txn.update("Subscription", "hook", hook)
    r = client.post("/fhir/Subscription/ws/$get-ws-binding-token")
    assert r.status_code == 200
    params = {p["name"]: p for p in r.json()["parameter"]}
    assert params["websocket-url"]["valueUrl"].startswith("ws://")
    assert params["websocket-url"]["valueUrl"].endswith("/fhir/ws")
    assert params["subscription"]["valueString"] == "ws"
    typed = client.post("/fhir/Subscription/$get-ws-binding-token?id=ws")
    assert typed.status_code == 200
    op = "$get-ws-binding-token"
    for bad in (f"/fhir/Subscription/hook/{op}", f"/fhir/Subscription/{op}"):
        refused = client.post(bad)
        assert refused.status_code == 400
        assert refused.json()["resourceType"] == "OperationOutcome"
    assert client.post("/fhir/Subscription/nope/$get-ws-binding-token").status_code == 404
    token = params["token"]["valueString"]
    with client.websocket_connect("/fhir/ws") as ws:
        ws.send_text(f"bind-with-token {token}")
        shake = json.loads(ws.receive_text())
        assert status(shake)["type"] == "handshake"
        assert status(shake)["subscription"].endswith("/Subscription/ws")


def test_a_bad_token_is_refused(site: tuple[TestClient, World]) -> None:
    client, _world = site
    with client.websocket_connect("/fhir/ws") as ws:
        ws.send_text("bind-with-token forged")
        outcome = json.loads(ws.receive_text())
        assert outcome["resourceType"] == "OperationOutcome"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008


def test_health_manager_gets_own_centre_alerts_only(site: tuple[TestClient, World]) -> None:
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    hub: Hub = client.app.state.live  # type: ignore[attr-defined]
    login(client, world, "manager")
    got = client.get("/app/live/token")
    assert got.status_code == 200
    body = got.json()
    assert body["subscription"] == f"live-centre-{world.centre_id}"
    # the same manager also binds an unfiltered subscription to every high alert
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "all", websocket_subscription("all"))
    binding = hub.redeem(body["token"])
    assert binding is not None
    everything = hub.issue(["all"], binding.context)
    with (
        client.websocket_connect(body["path"]) as mine,
        client.websocket_connect("/fhir/ws") as wide,
    ):
        mine.send_text(f"bind-with-token {body['token']}")
        wide.send_text(f"bind-with-token {everything.token}")
        assert status(json.loads(mine.receive_text()))["type"] == "handshake"
        assert status(json.loads(wide.receive_text()))["type"] == "handshake"
        rounds = deliverer(client)
        centre_alert(repo, world.other_child_id, "elsewhere", "别园的孩子")
        mine_id = centre_alert(repo, world.child_id, world.centre_id, "本园高热")
        assert rounds.run_once() == 3  # "all": both alerts; the centre's: its own
        for ws in (mine, wide):
            event = json.loads(ws.receive_text())
            assert status(event)["type"] == "event-notification"
            (message,) = [e["resource"] for e in event["entry"][1:]]
            assert message["id"] == mine_id
            assert message["payload"][0]["contentString"] == "本园高热"
        # the other centre's alert was counted on "all" but never sent to this manager
        wide.send_text("ping")  # the socket is still open
    assert "别园的孩子" not in json.dumps(event)


def test_only_health_managers_get_a_live_token(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "parent")
    assert client.get("/app/live/token").status_code == 403
