"""Rest-hook delivery of alert messages to outside channels (R4 Subscriptions Backport),
against a local HTTP receiver on loopback; the delivery thread belongs to the app lifespan."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.notify.delivery import FILTER_EXT, PAYLOAD_EXT, Deliverer
from healthbridge.notify.messages import TOPIC_FEVER, TOPIC_HIGH_ALERT
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.notify.test_messages import RULESET, fever_check
from tests.healthbridge.web.world import World, build_world
from tests.settle import settle, settling


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    # no delivery thread: the test runs the rounds (positions are shared through the database)
    app = app_factory(
        demo_login=True, environment="development", clinical_ruleset=RULESET,
        notify_delivery_seconds=0,
    )  # fmt: skip
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        settle(app)  # the demo's own alert messages are written before the test starts
        yield settling(client), world


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], dict[str, Any]]]]]:
    """An HTTP server on 127.0.0.1 recording each POST (path, headers, JSON body)."""
    got: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(404 if self.path == "/broken" else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            del args

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def subscription(sid: str, topic: str, endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Subscription",
        "id": sid,
        "status": "active",
        "reason": "SMS bridge",
        "criteria": topic,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer bridge-secret"],
        },
        **extra,
    }


def narrowed(recipient: str) -> dict[str, Any]:
    """``_criteria`` with the backport filter on the message's recipient."""
    query = f"Communication?recipient={recipient}"
    return {"extension": [{"url": FILTER_EXT, "valueString": query}]}


def test_rest_hook_gets_backport_notifications(
    site: tuple[TestClient, World], receiver: tuple[str, list[Any]]
) -> None:
    client, world = site
    url, got = receiver
    repo = client.app.state.repository  # type: ignore[attr-defined]
    other = narrowed("Organization/elsewhere")
    centre = narrowed(f"Organization/{world.centre_id}")
    id_only = {"_payload": {"extension": [{"url": PAYLOAD_EXT, "valueCode": "id-only"}]}}
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "sms", subscription("sms", TOPIC_FEVER, f"{url}/sms"))
        txn.update("Subscription", "elsewhere", subscription(
            "elsewhere", TOPIC_HIGH_ALERT, f"{url}/elsewhere", _criteria=other))  # fmt: skip
        centre_sub = subscription("centre", TOPIC_HIGH_ALERT, f"{url}/wechat", _criteria=centre)
        centre_sub["channel"].update(id_only)
        txn.update("Subscription", "centre", centre_sub)
        txn.update("Subscription", "broken", subscription("broken", TOPIC_FEVER, f"{url}/broken"))
        off = subscription("off", TOPIC_FEVER, f"{url}/off")
        txn.update("Subscription", "off", {**off, "status": "off"})
    time.sleep(1.1)  # the demo's own alert messages (written at load) fall before ``before``
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    fever_check(client, world, "39.4")
    deliverer = Deliverer(repo, interval=60, base_url="https://hb.example/fhir", since=before)
    assert deliverer.run_once() == 2  # sms and wechat; the broken endpoint is logged
    paths = sorted(p for p, _h, _b in got)
    assert paths == ["/broken", "/sms", "/wechat"]
    _path, headers, sms = next(g for g in got if g[0] == "/sms")
    assert headers["Authorization"] == "Bearer bridge-secret"
    assert headers["Content-Type"] == "application/fhir+json"
    assert sms["type"] == "history"
    status = {p["name"]: p for p in sms["entry"][0]["resource"]["parameter"]}
    assert status["topic"]["valueCanonical"] == TOPIC_FEVER
    assert status["type"]["valueCode"] == "event-notification"
    assert status["subscription"]["valueReference"]["reference"] == (
        "https://hb.example/fhir/Subscription/sms"
    )
    message = sms["entry"][1]["resource"]
    assert message["resourceType"] == "Communication"
    assert "39.4 °C" in message["payload"][0]["contentString"]
    wechat = next(b for p, _h, b in got if p == "/wechat")
    assert len(wechat["entry"]) == 1  # id-only: the status and its focus, no resource
    # nothing new: nothing sent again
    assert deliverer.run_once() == 0
    assert len(got) == 3


def test_the_lifespan_starts_and_stops_delivery(app_factory: Any) -> None:
    app = app_factory(notify_delivery_seconds=30)
    with TestClient(app):
        assert app.state.deliverer.running
    assert not app.state.deliverer.running
    plain = app_factory(notify_delivery_seconds=0)
    with TestClient(plain):
        assert plain.state.deliverer is None
