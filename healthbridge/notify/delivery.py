"""Delivery of alert messages to outside channels: topic-based rest-hook Subscriptions.

Outside channels (SMS, WeChat, a district system) plug in with a webhook: an administrator
stores an R4 ``Subscription`` as the Subscriptions R5 Backport IG (STU 1.1) describes it —
``criteria`` = a topic's canonical URL (:data:`~healthbridge.notify.messages.TOPICS`:
``…/SubscriptionTopic/fever``, ``…/SubscriptionTopic/high-alert``), optionally narrowed by the
``backport-filter-criteria`` extension on ``_criteria`` (``recipient=`` and/or ``subject=``
with a reference, e.g. ``Communication?recipient=Organization/org-centre-1``),
``channel.type`` ``rest-hook``, ``channel.endpoint`` the bridge's URL, ``channel.header``
extra ``Name: value`` headers (a shared secret), ``channel.payload``
``application/fhir+json`` with the ``backport-payload-content`` extension ``id-only`` or
``full-resource`` (default).

Each new Communication of a topic is POSTed to every matching active Subscription as a
notification Bundle (``type`` history; first entry the R4 ``SubscriptionStatus`` Parameters
with ``subscription``, ``topic``, ``status``, ``type`` event-notification,
``events-since-subscription-start`` and one ``notification-event`` with ``event-number``,
``timestamp`` and ``focus``; then the Communication, for full-resource). No vendor SDK.

Hand-written (stdlib ``urllib`` and a thread) because the work is small: the
:class:`Deliverer` polls the store for Communications updated since its cursor (so nothing is
sent for a transaction that rolled back), every ``interval`` seconds; it is started and stopped
by the app lifespan, never at import. Limits (documented in docs/fhir_server.md): the cursor
and event counters live in memory (messages written while the server is down are not sent;
counters restart at 0), one attempt per message (a failing endpoint is logged, not retried),
no handshake or heartbeat, no websocket channel yet.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from healthbridge.notify.messages import topic_of
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository

log = logging.getLogger(__name__)
BACKPORT: Final = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
FILTER_EXT: Final = f"{BACKPORT}/backport-filter-criteria"
PAYLOAD_EXT: Final = f"{BACKPORT}/backport-payload-content"
NOTIFICATION_PROFILE: Final = f"{BACKPORT}/backport-subscription-notification-r4"
STATUS_PROFILE: Final = f"{BACKPORT}/backport-subscription-status-r4"
FILTERABLE: Final = ("recipient", "subject")

Sender = Callable[[str, bytes, Mapping[str, str]], int]


def _filters(subscription: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for ext in subscription.get("_criteria", {}).get("extension", []):
        if ext.get("url") == FILTER_EXT:
            query = str(ext.get("valueString", "")).split("?", 1)[-1]
            out += [(k, v) for k, v in parse_qsl(query) if k in FILTERABLE]
    return out


def matches(subscription: Mapping[str, Any], communication: Mapping[str, Any]) -> bool:
    """Whether an active rest-hook Subscription wants this Communication (topic + filters)."""
    channel = subscription.get("channel", {})
    if subscription.get("status") != "active" or channel.get("type") != "rest-hook":
        return False
    if subscription.get("criteria") != topic_of(communication):
        return False
    for name, wanted in _filters(subscription):
        value = communication.get(name)
        refs = [r.get("reference") for r in (value if isinstance(value, list) else [value]) if r]
        if wanted not in refs:
            return False
    return True


def payload_content(subscription: Mapping[str, Any]) -> str:
    for ext in subscription.get("channel", {}).get("_payload", {}).get("extension", []):
        if ext.get("url") == PAYLOAD_EXT:
            return str(ext.get("valueCode", "full-resource"))
    return "full-resource"


def notification_bundle(
    subscription: Mapping[str, Any],
    communication: Mapping[str, Any],
    event_number: int,
    base_url: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The backport R4 notification Bundle of one event."""
    sub_url = f"{base_url}/Subscription/{subscription['id']}"
    focus = f"{base_url}/Communication/{communication['id']}"
    status = {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": sub_url}},
            {"name": "topic", "valueCanonical": subscription["criteria"]},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": str(event_number)},
            {
                "name": "notification-event",
                "part": [
                    {"name": "event-number", "valueString": str(event_number)},
                    {"name": "timestamp", "valueInstant": now.isoformat(timespec="seconds")},
                    {"name": "focus", "valueReference": {"reference": focus}},
                ],
            },
        ],
    }
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{status['id']}",
            "resource": status,
            "request": {"method": "GET", "url": f"{sub_url}/$status"},
            "response": {"status": "200"},
        }
    ]
    if payload_content(subscription) == "full-resource":
        entries.append(
            {
                "fullUrl": focus,
                "resource": dict(communication),
                "request": {"method": "POST", "url": "Communication"},
                "response": {"status": "201"},
            }
        )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": entries,
    }


def post_json(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST ``body`` to ``url`` (5 s timeout); the HTTP status."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the connection
        raise


def _headers(subscription: Mapping[str, Any]) -> dict[str, str]:
    out = {"Content-Type": "application/fhir+json"}
    for line in subscription.get("channel", {}).get("header", []):
        name, sep, value = str(line).partition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


class Deliverer:
    """Polls the store for new Communications and posts them to matching Subscriptions."""

    def __init__(
        self,
        repository: Repository,
        *,
        interval: float,
        base_url: str,
        since: dt.datetime | None = None,
        send: Sender = post_json,
    ) -> None:
        self.repository = repository
        self.interval = interval
        self.base_url = base_url.rstrip("/")
        self.cursor = since or dt.datetime.now(dt.UTC)
        self.send = send
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Deliver the Communications updated since the cursor; the number of posts made."""
        stamp = self.cursor.astimezone(dt.UTC).isoformat(timespec="microseconds")
        # a read: it must not take the writer lock (on SQLite a write transaction is
        # BEGIN IMMEDIATE, which queued behind bulk writes and failed as "database is locked")
        with self.repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            subs = [s.resource for s in txn.search_params("Subscription", [("status", "active")])
                    .matches if s.resource]  # fmt: skip
            found = txn.search_params(
                "Communication", [("_lastUpdated", f"gt{stamp}"), ("_count", "1000")]
            ).matches
        messages = [m.resource for m in found if m.resource]
        messages.sort(key=lambda m: str(m.get("meta", {}).get("lastUpdated", "")))
        posted = 0
        for message in messages:
            updated = dt.datetime.fromisoformat(str(message["meta"]["lastUpdated"]))
            self.cursor = max(self.cursor, updated)
            for sub in subs:
                if not matches(sub, message):
                    continue
                number = self.counts.get(sub["id"], 0) + 1
                self.counts[sub["id"]] = number
                bundle = notification_bundle(
                    sub, message, number, self.base_url, dt.datetime.now(dt.UTC)
                )
                body = json.dumps(bundle, ensure_ascii=False).encode()
                try:
                    self.send(str(sub["channel"]["endpoint"]), body, _headers(sub))
                    posted += 1
                except OSError as exc:  # urllib errors are OSErrors: logged, not retried
                    log.warning("notification to Subscription/%s failed: %s", sub["id"], exc)
        return posted

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep delivering after a bad round (logged)
                log.exception("notification delivery round failed")

    def start(self) -> None:
        """Start the delivery thread (the app lifespan calls this)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="notify-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the delivery thread and wait for it (the app lifespan calls this)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
