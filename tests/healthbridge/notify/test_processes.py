"""Delivery coordinated across server processes: two apps (two lifespans) on one database
— one PostgreSQL database, one SQLite file — stand for two ``healthbridge serve`` processes.
A rest-hook event is POSTed once even when both deliverers run a round at the same moment;
a websocket client connected to one process gets the event the other process numbered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from healthbridge.notify.delivery import Deliverer
from healthbridge.notify.messages import CS_TOPIC, TOPIC_HIGH_ALERT
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.notify.test_backport import status


@pytest.fixture
def two(app_factory: Any) -> Iterator[tuple[TestClient, TestClient]]:
    """Two started apps on the same database, their delivery threads idle (an hour's
    interval): the test runs the rounds."""
    a: FastAPI = app_factory(notify_delivery_seconds=3600)
    b: FastAPI = app_factory(notify_delivery_seconds=3600)
    with TestClient(a) as one, TestClient(b) as other:
        yield one, other


def _deliverer(client: TestClient) -> Deliverer:
    deliverer: Deliverer = client.app.state.deliverer  # type: ignore[attr-defined]
    assert deliverer is not None
    return deliverer


def _subscription(sid: str, channel: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Subscription", "id": sid, "status": status, "reason": "test",
        "criteria": TOPIC_HIGH_ALERT, "channel": {"payload": "application/fhir+json", **channel},
    }  # fmt: skip


def _alert(repo: Any, text: str) -> str:
    msg = {
        "resourceType": "Communication", "status": "completed", "priority": "urgent",
        "category": [{"coding": [{"system": CS_TOPIC, "code": "high-alert"}]}],
        "recipient": [{"reference": "Organization/org-centre-1"}],
        "payload": [{"contentString": text}],
    }  # fmt: skip
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        return str(txn.create(msg).stored.id)


def test_a_rest_hook_event_is_posted_once(two: tuple[TestClient, TestClient]) -> None:
    """A's round is in the middle of its POST when B's round runs: B must not send it too
    (before the delivery lock, both read the same position and both POSTed)."""
    a, b = _deliverer(two[0]), _deliverer(two[1])
    posts: list[tuple[str, dict[str, Any]]] = []
    posting, b_done = threading.Event(), threading.Event()

    def send(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        del headers, timeout
        posts.append((url, json.loads(body)))
        if not posting.is_set():
            posting.set()
            b_done.wait(timeout=20)  # hold A's POST until B's round is over
        return 200

    a.send = b.send = send
    repo = a.repository
    channel = {"type": "rest-hook", "endpoint": "https://bridge.example/hook"}
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "hook", _subscription("hook", channel, "requested"))
    assert a.run_once() == 0  # the handshake (A holds the lock: it is the only round)
    assert [status(body)["type"] for _u, body in posts] == ["handshake"]
    posts.clear()
    posting.clear()

    message = _alert(repo, "高热")
    first = threading.Thread(target=lambda: a.run_once())
    first.start()
    assert posting.wait(timeout=20)
    b.run_once()  # while A is POSTing the event
    b_done.set()
    first.join(timeout=20)
    for deliverer in (b, a, b):  # later rounds: nothing left to send
        deliverer.run_once()
    assert len(posts) == 1
    ((_url, body),) = posts
    assert status(body)["type"] == "event-notification"
    assert status(body)["events-since-subscription-start"] == "1"
    assert body["entry"][1]["resource"]["id"] == message


def test_event_numbers_stay_one_counter_across_processes(
    two: tuple[TestClient, TestClient],
) -> None:
    """Rounds alternate between the processes: the events of one Subscription are numbered
    1, 2, 3 in order, whichever process sent them."""
    a, b = _deliverer(two[0]), _deliverer(two[1])
    posts: list[dict[str, Any]] = []

    def send(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        del url, headers, timeout
        posts.append(json.loads(body))
        return 200

    a.send = b.send = send
    repo = a.repository
    channel = {"type": "rest-hook", "endpoint": "https://bridge.example/hook"}
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "hook", _subscription("hook", channel, "requested"))
    b.run_once()
    ids = []
    for deliverer in (a, b, a):
        ids.append(_alert(repo, "alert"))
        deliverer.run_once()
    events = [p for p in posts if status(p)["type"] == "event-notification"]
    assert [status(p)["events-since-subscription-start"] for p in events] == ["1", "2", "3"]
    assert [p["entry"][1]["resource"]["id"] for p in events] == ids


def test_a_websocket_on_the_other_process_gets_the_event(
    two: tuple[TestClient, TestClient],
) -> None:
    """A numbers the event (it holds the lock); the client is connected to B, which learns
    of it from the stored position and pushes it."""
    (client_a, client_b) = two
    a, b = _deliverer(client_a), _deliverer(client_b)
    repo = a.repository
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "ws", _subscription("ws", {"type": "websocket"}, "requested"))
    a.run_once()  # activated by A
    b.run_once()  # B meets it
    token = client_b.app.state.live.issue(["ws"], SYSTEM_CONTEXT).token  # type: ignore[attr-defined]
    with client_b.websocket_connect("/fhir/ws") as ws:
        ws.send_text(f"bind-with-token {token}")
        assert status(json.loads(ws.receive_text()))["type"] == "handshake"
        message = _alert(repo, "高热")
        with a.lock.held() as a_leads:  # A's lock is taken: B may only fan out
            assert a_leads
            assert b.run_once() == 0
        assert a.run_once() == 1  # numbered by A (A has no socket: nothing pushed there)
        b.run_once()  # B pushes it to its socket
        event = json.loads(ws.receive_text())
    assert status(event)["type"] == "event-notification"
    assert status(event)["events-since-subscription-start"] == "1"
    assert event["entry"][1]["resource"]["id"] == message
