"""Websocket notifications in every server process, whichever process numbered the events.

A websocket is held by the process it is connected to (:class:`~healthbridge.notify.live.Hub`
is per process), but a websocket Subscription's events are numbered once, by the process
holding the delivery lock (:mod:`healthbridge.notify.claim`), which writes the new count and
cursor to ``subscription_state``. Every process learns of them by **polling that table** each
delivery round (PostgreSQL and SQLite alike; no LISTEN/NOTIFY, so the same code serves both):
it remembers the position it last saw per Subscription (:class:`Fanout`), and when the
stored count has grown it reads the Communications between the two cursors, takes those
the Subscription selects in the numbering order (``lastUpdated``, then id) and pushes them
with the numbers ``seen + 1 …`` to its own listeners — each message read again with the
listener's own access context first (docs/fhir_server.md "Notifications"). A push is at most
one delivery interval after the numbering.

What a process has not seen is not replayed: it starts from the stored position when it
first meets the Subscription (the backport's websocket channel has no replay; ``$status``
tells the count and the inbox holds the messages). A message updated again after it was
numbered moves past the range and is not pushed (its number is then missing on the socket).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from healthbridge.errors import FhirError
from healthbridge.notify import backport
from healthbridge.notify.live import Hub
from healthbridge.notify.state import Position
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository


class Fanout:
    """The positions this process has pushed up to, per websocket Subscription."""

    def __init__(self, repository: Repository, hub: Hub | None, base_url: str) -> None:
        self.repository = repository
        self.hub = hub
        self.base_url = base_url
        self._seen: dict[str, Position] = {}
        self._lock = threading.Lock()

    def begin(self, positions: Mapping[str, Position]) -> None:
        """Remember the stored position of Subscriptions met for the first time (call before
        the round numbers events, so those are pushed after it)."""
        with self._lock:
            for sid, pos in positions.items():
                self._seen.setdefault(sid, dataclasses.replace(pos))

    def push(
        self,
        subscriptions: Iterable[Mapping[str, Any]],
        positions: Mapping[str, Position],
        now: dt.datetime,
    ) -> int:
        """Push the events numbered since the last round to this process's listeners; the
        number of frames handed to sockets."""
        from healthbridge.notify.delivery import matches, updated_key

        frames = 0
        for sub in subscriptions:
            sid = str(sub["id"])
            stored = positions.get(sid)
            if stored is None:
                continue
            with self._lock:
                before = self._seen.get(sid)
                self._seen[sid] = dataclasses.replace(stored)
            if before is None or stored.events <= before.events:
                continue
            listeners = self.hub.listeners(sid) if self.hub is not None else []
            if not listeners:
                continue
            with self.repository.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
                found = txn.search_params(
                    "Communication", [("_lastUpdated", f"ge{before.cursor}"), ("_count", "1000")]
                ).matches
            messages = sorted(
                (m.resource for m in found if m.resource),
                key=lambda m: (updated_key(m), str(m["id"])),
            )
            number = before.events
            for message in messages:
                key = (updated_key(message), str(message["id"]))
                if not before.after(*key) or stored.after(*key) or not matches(sub, message):
                    continue
                number += 1
                if number > stored.events:
                    break
                event: backport.Event = (number, message, now)
                bundle = backport.notification_bundle(
                    sub, "event-notification", number, self.base_url, now, [event]
                )
                frames += self._to_listeners(
                    listeners, message, json.dumps(bundle, ensure_ascii=False)
                )
        return frames

    def _to_listeners(self, listeners: list[Any], message: Mapping[str, Any], text: str) -> int:
        """To each listener that may read the message (its own context)."""
        assert self.hub is not None
        sent = 0
        for listener in listeners:
            try:
                with self.repository.transaction(listener.context, write=False) as txn:
                    txn.read("Communication", str(message["id"]))
            except FhirError:  # out of the listener's reach: not sent
                continue
            self.hub.push(listener, text)
            sent += 1
        return sent
