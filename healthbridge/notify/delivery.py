"""Delivery of alert messages through topic-based Subscriptions (R4 Subscriptions Backport IG
STU 1.1): rest-hook (outside channels: SMS, WeChat, a district system) and websocket (the
pages, :mod:`healthbridge.notify.live`).

A Subscription names a topic by ``criteria`` = its canonical URL
(:data:`~healthbridge.notify.messages.TOPICS`), optionally narrowed by the
``backport-filter-criteria`` extension on ``_criteria`` (``recipient=`` and/or ``subject=``,
e.g. ``Communication?recipient=Organization/org-centre-1``); see docs/fhir_server.md
"Notifications" for the payload and how to configure an endpoint.

Each round of the :class:`Deliverer` (a thread the app lifespan starts and stops, never at
import):

1. **handshake** — a Subscription stored as ``requested`` with a rest-hook channel gets a
   ``handshake`` notification; a 2xx answer makes it ``active``, anything else ``error``
   (with ``Subscription.error``). A websocket Subscription becomes ``active`` at once (its
   handshake is sent when a client binds). Other channel types → ``error``.
2. **events** — the Communications updated since the Subscription's cursor (so nothing is sent
   for a transaction that rolled back), oldest first; each one of the Subscription's topic
   that passes its filters is event number ``events + 1``.
3. **durable position** — after every event sent, the event number and the cursor are written
   to ``subscription_state`` (:mod:`healthbridge.notify.state`), so a restart neither loses
   nor re-sends an event (at most the one in flight when the process died).
4. **retries with back-off** — a failed rest-hook POST (no answer, timeout, non-2xx) stops the
   Subscription's round; it is tried again after ``retry_base × 2^(failures−1)`` seconds
   (capped at one hour); after ``max_attempts`` failures the Subscription goes to ``error``.
5. **heartbeat** — a rest-hook Subscription with ``backport-heartbeat-period`` gets a
   ``heartbeat`` notification when nothing was sent for that long (websockets: by the socket).

**Across processes** (several ``healthbridge serve`` on one database): steps 1–5 run only in
the process holding the delivery lock (:mod:`healthbridge.notify.claim`: an advisory lock on
PostgreSQL, a file lock next to a SQLite database), which reads the positions after taking
it — so a rest-hook event is POSTed once and every Subscription's event numbers stay one
gap-free, ordered counter. Websocket events are only numbered there; **every** process then
pushes them to its own sockets (:mod:`healthbridge.notify.fanout`, polling
``subscription_state``), each read again with the listener's own access context first (only
what the holder may read goes out). Rest-hook Subscriptions are the
administrator's (only the admin writes Subscriptions): they send what their topic and filters
select, for the deployment's outside channels.

Hand-written (stdlib ``urllib`` and a thread) because the work is small and no maintained
library implements the backport's server side in Python.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from healthbridge.notify import backport, state
from healthbridge.notify.backport import FILTER_EXT, PAYLOAD_EXT
from healthbridge.notify.claim import DeliveryLock
from healthbridge.notify.fanout import Fanout
from healthbridge.notify.live import Hub
from healthbridge.notify.messages import topic_of
from healthbridge.notify.state import Position
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository

__all__ = ["FILTER_EXT", "PAYLOAD_EXT", "Deliverer", "matches", "post_json", "updated_key"]
log = logging.getLogger(__name__)
FILTERABLE: Final = ("recipient", "subject")
MAX_BACKOFF_SECONDS: Final = 3600.0

#: ``send(url, body, headers, timeout) -> HTTP status``; raises OSError when unreachable
Sender = Callable[[str, bytes, Mapping[str, str], float], int]


def _filters(subscription: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for ext in subscription.get("_criteria", {}).get("extension", []):
        if ext.get("url") == FILTER_EXT:
            query = str(ext.get("valueString", "")).split("?", 1)[-1]
            out += [(k, v) for k, v in parse_qsl(query) if k in FILTERABLE]
    return out


def matches(subscription: Mapping[str, Any], communication: Mapping[str, Any]) -> bool:
    """Whether a Subscription's topic and filters select this Communication."""
    if subscription.get("criteria") != topic_of(communication):
        return False
    for name, wanted in _filters(subscription):
        value = communication.get(name)
        refs = [r.get("reference") for r in (value if isinstance(value, list) else [value]) if r]
        if wanted not in refs:
            return False
    return True


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 5.0) -> int:
    """POST ``body`` to ``url``; the HTTP status (an error status is returned, not raised)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the connection
        return int(exc.code)


def _headers(subscription: Mapping[str, Any]) -> dict[str, str]:
    out = {"Content-Type": "application/fhir+json"}
    for line in subscription.get("channel", {}).get("header", []):
        name, sep, value = str(line).partition(":")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def updated_key(resource: Mapping[str, Any]) -> str:
    """A resource's ``meta.lastUpdated`` in cursor form (the order events are numbered in)."""
    return _iso(dt.datetime.fromisoformat(str(resource["meta"]["lastUpdated"])))


class Deliverer:
    """Handshakes, events, retries and heartbeats of the stored Subscriptions (module doc)."""

    def __init__(
        self,
        repository: Repository,
        *,
        interval: float,
        base_url: str,
        since: dt.datetime | None = None,
        send: Sender = post_json,
        hub: Hub | None = None,
        retry_base: float | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.repository = repository
        self.interval = interval
        self.base_url = base_url.rstrip("/")
        #: where a Subscription that was active before any position was stored starts
        self.since = since or dt.datetime.now(dt.UTC)
        self.send = send
        self.hub = hub
        self.retry_base = retry_base if retry_base is not None else max(interval, 1.0)
        self.max_attempts = max_attempts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = DeliveryLock(repository.engine)
        self.fanout = Fanout(repository, hub, self.base_url)

    # -- one round ------------------------------------------------------------------------

    def run_once(self, now: dt.datetime | None = None) -> int:
        """One round (see the module doc); the number of events numbered and sent (rest-hook
        POSTs and websocket events) by this process — 0 when another process holds the
        delivery lock."""
        now = now or dt.datetime.now(dt.UTC)
        subs, positions = self._load()
        self.fanout.begin(self._websocket_positions(subs, positions, stored=True))
        sent = 0
        with self.lock.held() as leader:
            if leader:
                subs, positions = self._load()  # as the last holder left them
                self.fanout.begin(self._websocket_positions(subs, positions, stored=False))
                sent = self._lead(subs, positions, now)
        subs, positions = self._load()
        self.fanout.push(
            [s for s in subs if s.get("channel", {}).get("type") == "websocket"], positions, now
        )
        return sent

    def _load(self) -> tuple[list[dict[str, Any]], dict[str, Position]]:
        with self.repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            subs = [
                s.resource
                for status in ("requested", "active")
                for s in txn.search_params(
                    "Subscription", [("status", status), ("_count", "1000")]
                ).matches
                if s.resource
            ]
            return subs, state.load(txn.conn)

    def _websocket_positions(
        self, subs: list[dict[str, Any]], positions: dict[str, Position], *, stored: bool
    ) -> dict[str, Position]:
        """The positions of the active websocket Subscriptions: those stored (``stored``), or
        the start of those without one — where this process's round will number them from,
        so only the lock holder may take them as its fan-out's start."""
        ids = [
            str(sub["id"])
            for sub in subs
            if sub.get("status") == "active" and sub.get("channel", {}).get("type") == "websocket"
        ]
        if stored:
            return {sid: positions[sid] for sid in ids if sid in positions}
        start = state.start_cursor(self.since)
        return {sid: Position(sid, start) for sid in ids if sid not in positions}

    def _lead(
        self, subs: list[dict[str, Any]], positions: dict[str, Position], now: dt.datetime
    ) -> int:
        """Steps 1–5 of the module doc (under the delivery lock)."""
        sent = 0
        for sub in subs:
            kind = sub.get("channel", {}).get("type")
            if sub.get("status") == "requested":
                self._activate(sub, now)
                continue
            if kind not in backport.CHANNELS:
                self._fail(sub, None, f"channel type {kind!r} is not supported")
                continue
            pos = positions.get(sub["id"]) or Position(sub["id"], state.start_cursor(self.since))
            if pos.failures >= self.max_attempts:  # re-activated by the administrator
                pos.failures, pos.next_attempt = 0, ""
            if pos.next_attempt and pos.next_attempt > _iso(now):
                continue
            sent += self._events(sub, pos, now)
        return sent

    def _activate(self, sub: dict[str, Any], now: dt.datetime) -> None:
        kind = sub.get("channel", {}).get("type")
        if kind not in backport.CHANNELS:
            self._set_status(sub, "error", f"channel type {kind!r} is not supported")
            return
        if kind == "rest-hook":
            shake = backport.notification_bundle(
                sub, "handshake", 0, self.base_url, now, status="requested"
            )
            problem = self._post(sub, shake)
            if problem:
                self._set_status(sub, "error", f"handshake failed: {problem}")
                return
        # the cursor is on the store's clock (lastUpdated); ``now`` schedules retries/heartbeats
        pos = Position(sub["id"], state.start_cursor(), heard_at=_iso(now))
        self._set_status(sub, "active", "", pos)

    def _events(self, sub: dict[str, Any], pos: Position, now: dt.datetime) -> int:
        with self.repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            found = txn.search_params(
                "Communication", [("_lastUpdated", f"ge{pos.cursor}"), ("_count", "1000")]
            ).matches
        # oldest first; messages of one millisecond in id order (several are written at once)
        messages = sorted(
            (m.resource for m in found if m.resource), key=lambda m: (updated_key(m), str(m["id"]))
        )
        sent = 0
        moved = False
        for message in messages:
            if not pos.after(updated_key(message), str(message["id"])):
                continue
            if not matches(sub, message):
                pos.passed(updated_key(message), str(message["id"]))
                moved = True
                continue
            number = pos.events + 1
            problem = self._deliver(sub, number, (number, message, now), now)
            if problem:
                self._fail(sub, pos, problem, now)
                return sent
            pos.events = number
            pos.passed(updated_key(message), str(message["id"]))
            pos.failures, pos.next_attempt, pos.heard_at, pos.last_error = 0, "", _iso(now), ""
            self._save(pos)  # durable after each event sent
            sent, moved = sent + 1, False
        if self._heartbeat_due(sub, pos, now):
            beat = backport.notification_bundle(sub, "heartbeat", pos.events, self.base_url, now)
            problem = self._post(sub, beat)
            if problem:
                self._fail(sub, pos, problem, now)
                return sent
            pos.heard_at = _iso(now)
            moved = True
        if moved:
            self._save(pos)
        return sent

    def _heartbeat_due(self, sub: Mapping[str, Any], pos: Position, now: dt.datetime) -> bool:
        period = backport.heartbeat_period(sub)
        if not period or sub.get("channel", {}).get("type") != "rest-hook":
            return False
        last = pos.heard_at or pos.cursor
        return _iso(now - dt.timedelta(seconds=period)) >= last

    # -- sending --------------------------------------------------------------------------

    def _deliver(
        self, sub: dict[str, Any], number: int, event: backport.Event, now: dt.datetime
    ) -> str:
        """Send one event; an error text, or "" when delivered."""
        bundle = backport.notification_bundle(
            sub, "event-notification", number, self.base_url, now, [event]
        )
        if sub.get("channel", {}).get("type") == "rest-hook":
            return self._post(sub, bundle)
        return ""  # websocket: numbered here, pushed by every process's fan-out

    def _post(self, sub: Mapping[str, Any], bundle: Mapping[str, Any]) -> str:
        body = json.dumps(bundle, ensure_ascii=False).encode()
        url = str(sub.get("channel", {}).get("endpoint", ""))
        if not url.startswith(("http://", "https://")):
            return f"endpoint {url!r} is not an http(s) URL"
        try:
            code = self.send(url, body, _headers(sub), backport.timeout(sub))
        except OSError as exc:  # unreachable, refused, timed out
            return str(exc)
        return "" if 200 <= code < 300 else f"HTTP {code}"

    # -- state ----------------------------------------------------------------------------

    def _save(self, pos: Position) -> None:
        with self.repository.transaction(SYSTEM_CONTEXT, write=True, plain=True) as txn:
            state.save(txn.conn, pos)

    def _fail(
        self, sub: dict[str, Any], pos: Position | None, problem: str,
        now: dt.datetime | None = None,
    ) -> None:  # fmt: skip
        log.warning("notification to Subscription/%s failed: %s", sub["id"], problem)
        if pos is None:
            self._set_status(sub, "error", problem)
            return
        now = now or dt.datetime.now(dt.UTC)
        pos.failures += 1
        pos.last_error = problem[:500]
        wait = min(self.retry_base * 2 ** (pos.failures - 1), MAX_BACKOFF_SECONDS)
        pos.next_attempt = _iso(now + dt.timedelta(seconds=wait))
        if pos.failures >= self.max_attempts:
            self._set_status(sub, "error", f"{pos.failures} failed attempts: {problem}", pos)
        else:
            self._save(pos)

    def _set_status(
        self, sub: dict[str, Any], status: str, error: str, pos: Position | None = None
    ) -> None:
        updated = {k: v for k, v in sub.items() if k not in ("meta", "error")}
        updated["status"] = status
        if error:
            updated["error"] = error[:500]
        with self.repository.transaction(SYSTEM_CONTEXT, write=True, plain=True) as txn:
            txn.update("Subscription", str(sub["id"]), updated)
            if pos is not None:
                state.save(txn.conn, pos)

    # -- the thread -----------------------------------------------------------------------

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
