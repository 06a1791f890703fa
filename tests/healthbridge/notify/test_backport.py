"""The rest of the R4 Subscriptions Backport: handshake, heartbeat, retries with back-off then
``error``, the durable delivery position, ``$status``; the rounds are run by hand (no thread,
no clock: each round is given its time)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.notify import state
from healthbridge.notify.backport import HEARTBEAT_EXT, PAYLOAD_EXT
from healthbridge.notify.delivery import Deliverer
from healthbridge.notify.messages import CS_TOPIC, TOPIC_HIGH_ALERT
from healthbridge.store.hooks import SYSTEM_CONTEXT

T0 = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)


class Endpoint:
    """A fake webhook: records each POST; answers ``code`` (or raises when ``down``)."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.code = 200
        self.down = False

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        del url, headers, timeout
        if self.down:
            raise OSError("connection refused")
        self.got.append(json.loads(body))
        return self.code

    def kinds(self) -> list[str]:
        return [status(b)["type"] for b in self.got]


def status(bundle: Mapping[str, Any]) -> dict[str, Any]:
    head = bundle["entry"][0]["resource"]
    out: dict[str, Any] = {}
    for p in head["parameter"]:
        value = next((v for k, v in p.items() if k.startswith("value")), p.get("part"))
        out[p["name"]] = value.get("reference", value) if isinstance(value, dict) else value
    return out


@pytest.fixture
def repo(app_factory: Any) -> Iterator[Any]:
    app = app_factory(notify_delivery_seconds=0)
    with TestClient(app):
        yield app.state.repository


def put_subscription(repo: Any, sid: str, status: str = "requested", **channel: Any) -> None:
    sub = {
        "resourceType": "Subscription", "id": sid, "status": status, "reason": "SMS bridge",
        "criteria": TOPIC_HIGH_ALERT,
        "channel": {"type": "rest-hook", "endpoint": f"https://bridge.example/{sid}",
                    "payload": "application/fhir+json", **channel},
    }  # fmt: skip
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", sid, sub)


def read_subscription(repo: Any, sid: str) -> dict[str, Any]:
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        return dict(txn.read("Subscription", sid).resource)


def alert_message(repo: Any, text: str = "高优先级提醒") -> str:
    msg = {
        "resourceType": "Communication", "status": "completed",
        "category": [{"coding": [{"system": CS_TOPIC, "code": "high-alert"}]}],
        "recipient": [{"reference": "Organization/centre-x"}],
        "payload": [{"contentString": text}],
    }  # fmt: skip
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        return str(txn.create(msg).stored.id)


def deliverer(repo: Any, endpoint: Endpoint, **kw: Any) -> Deliverer:
    return Deliverer(repo, interval=60, base_url="https://hb.example/fhir", send=endpoint, **kw)


def test_handshake_activates_or_errors(repo: Any) -> None:
    ok, bad = Endpoint(), Endpoint()
    put_subscription(repo, "sms")
    deliverer(repo, ok).run_once(T0)
    assert ok.kinds() == ["handshake"]
    assert status(ok.got[0])["events-since-subscription-start"] == "0"
    assert read_subscription(repo, "sms")["status"] == "active"
    bad.code = 500
    put_subscription(repo, "wechat")
    deliverer(repo, bad).run_once(T0)
    failed = read_subscription(repo, "wechat")
    assert failed["status"] == "error"
    assert "handshake failed: HTTP 500" in failed["error"]
    put_subscription(repo, "mail", type="email")
    deliverer(repo, ok).run_once(T0)
    assert read_subscription(repo, "mail")["status"] == "error"


def test_events_are_numbered_durably_across_a_restart(repo: Any) -> None:
    hook = Endpoint()
    put_subscription(repo, "sms")
    deliverer(repo, hook).run_once(T0)  # handshake: active from now on
    first = alert_message(repo, "一")
    assert deliverer(repo, hook).run_once(T0) == 1
    event = status(hook.got[-1])
    assert event["type"] == "event-notification"
    assert event["events-since-subscription-start"] == "1"
    assert hook.got[-1]["entry"][1]["resource"]["id"] == first
    # "restart": a new deliverer sends nothing again ...
    assert deliverer(repo, hook).run_once(T0) == 0
    # ... and a message written while it was down is sent, numbered on
    alert_message(repo, "二")
    assert deliverer(repo, hook).run_once(T0) == 1
    assert status(hook.got[-1])["events-since-subscription-start"] == "2"
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        assert state.load(txn.conn)["sms"].events == 2


def test_failed_delivery_is_retried_with_back_off_then_error(repo: Any) -> None:
    hook = Endpoint()
    put_subscription(repo, "sms")
    deliverer(repo, hook).run_once(T0)
    alert_message(repo)
    hook.down = True
    d = deliverer(repo, hook, retry_base=10, max_attempts=3)
    assert d.run_once(T0) == 0
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        pos = state.load(txn.conn)["sms"]
    assert (pos.failures, pos.events) == (1, 0)
    assert pos.next_attempt.startswith("2030-01-01T08:00:10")
    hook.down = False
    hook.code = 503
    assert d.run_once(T0 + dt.timedelta(seconds=5)) == 0  # still backing off: no attempt
    assert hook.kinds() == ["handshake"]
    d.run_once(T0 + dt.timedelta(seconds=11))  # 2nd attempt (503); next wait 20 s
    assert hook.kinds() == ["handshake", "event-notification"]
    d.run_once(T0 + dt.timedelta(seconds=25))
    assert d.run_once(T0 + dt.timedelta(seconds=60)) == 0  # 3rd failure: stopped
    sub = read_subscription(repo, "sms")
    assert sub["status"] == "error"
    assert "3 failed attempts: HTTP 503" in sub["error"]
    # the administrator re-activates it: the same event (number 1) goes out, nothing lost
    sub["status"] = "active"
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.update("Subscription", "sms", {k: v for k, v in sub.items() if k != "error"})
    hook.code = 200
    assert d.run_once(T0 + dt.timedelta(seconds=61)) == 1
    assert status(hook.got[-1])["events-since-subscription-start"] == "1"


def test_heartbeat_when_quiet(repo: Any) -> None:
    hook = Endpoint()
    beat = [{"url": HEARTBEAT_EXT, "valueUnsignedInt": 120}]
    put_subscription(repo, "sms", extension=beat)
    d = deliverer(repo, hook)
    # handshake time is the real clock: the quiet period counts from the first round
    d.run_once(T0)
    d.run_once(T0 + dt.timedelta(seconds=60))
    assert hook.kinds() == ["handshake"]
    d.run_once(T0 + dt.timedelta(seconds=121))
    assert hook.kinds() == ["handshake", "heartbeat"]
    assert "notification-event" not in status(hook.got[-1])
    d.run_once(T0 + dt.timedelta(seconds=150))
    assert hook.kinds() == ["handshake", "heartbeat"]


def test_payload_empty_has_no_focus(repo: Any) -> None:
    hook = Endpoint()
    empty = {"_payload": {"extension": [{"url": PAYLOAD_EXT, "valueCode": "empty"}]}}
    put_subscription(repo, "sms", **empty)
    deliverer(repo, hook).run_once(T0)
    alert_message(repo)
    deliverer(repo, hook).run_once(T0)
    (head,) = hook.got[-1]["entry"]
    event = next(p for p in head["resource"]["parameter"] if p["name"] == "notification-event")
    assert [p["name"] for p in event["part"]] == ["event-number", "timestamp"]


def test_status_operation(app_factory: Any) -> None:
    app = app_factory(notify_delivery_seconds=0)
    with TestClient(app) as client:
        repo = app.state.repository
        hook = Endpoint()
        put_subscription(repo, "sms")
        deliverer(repo, hook).run_once(T0)
        alert_message(repo)
        deliverer(repo, hook).run_once(T0)
        r = client.get("/fhir/Subscription/sms/$status")
        assert r.status_code == 200
        bundle = r.json()
        assert bundle["type"] == "searchset"
        got = status(bundle)
        assert got["type"] == "query-status"
        assert got["status"] == "active"
        assert got["events-since-subscription-start"] == "1"
        assert got["topic"] == TOPIC_HIGH_ALERT
        missing = client.get("/fhir/Subscription/nope/$status")
        assert missing.status_code == 404
        assert missing.json()["resourceType"] == "OperationOutcome"


def test_messages_of_one_millisecond_are_each_handled_once() -> None:
    """Several messages share a ``lastUpdated`` (one transaction writes the fever notice and
    the centre's alert): the cursor keeps which of them were handled."""
    at = "2030-01-01T08:00:00.001000+00:00"
    pos = state.Position("sms", "2030-01-01T08:00:00.000999+00:00")
    assert pos.after(at, "b")
    pos.passed(at, "b")  # the high alert: not this Subscription's topic
    assert pos.after(at, "a")  # the fever notice of the same millisecond is still ahead
    pos.passed(at, "a")
    assert not pos.after(at, "a")
    assert not pos.after(at, "b")
    assert pos.after("2030-01-01T08:00:00.002000+00:00", "a")
    assert not pos.after("2030-01-01T08:00:00.000500+00:00", "z")
