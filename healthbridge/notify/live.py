"""The websocket channel of the Subscriptions Backport (R5 ``websocket`` channel, backported;
Subscriptions R5 Backport IG STU 1.1, "Channels: websocket" and the
``$get-ws-binding-token`` operation).

* a client gets a short-lived token with ``Subscription/[id]/$get-ws-binding-token`` (or the
  pages' ``/app/live/token``); the token carries the caller's :class:`RequestContext`;
* it opens ``ws(s)://…/fhir/ws`` and sends ``bind-with-token <token>``; the server answers
  with a ``handshake`` notification per bound Subscription, then sends each
  ``event-notification`` as a text frame (the Bundle's JSON) and a ``heartbeat`` every
  ``backport-heartbeat-period`` seconds (the shortest of the bound Subscriptions);
* **only what the token's holder may read goes out**: the delivery thread reads each
  Communication with the holder's context before pushing it (the store's reach rules, as for
  a GET), so a message about another centre's child never reaches the socket.

Events reach only the connections open at the time (the backport's websocket channel has no
replay; ``$status`` tells the event count and the inbox holds the messages).

Hand-written on Starlette's WebSocket (no extra library): the hub is a lock, two dicts and one
``asyncio.Queue`` per connection; the delivery thread hands frames to the connection's event
loop with ``call_soon_threadsafe``. The hub is made by the app factory and holds no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from healthbridge.errors import FhirError
from healthbridge.notify import backport, state
from healthbridge.store.hooks import SYSTEM_CONTEXT, RequestContext
from healthbridge.store.repository import Repository

TOKEN_SECONDS: Final = 300
BIND_WAIT_SECONDS: Final = 30
router = APIRouter()


@dataclass(frozen=True, slots=True)
class Binding:
    """A binding token: which Subscriptions, for whom, until when."""

    token: str
    subscriptions: tuple[str, ...]
    context: RequestContext
    expires: dt.datetime


@dataclass(eq=False)
class Listener:
    """One open websocket bound to Subscriptions."""

    subscriptions: frozenset[str]
    context: RequestContext
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class Hub:
    """Binding tokens and open websockets (in memory, per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Binding] = {}
        self._listeners: list[Listener] = []

    def issue(self, subscriptions: Iterable[str], context: RequestContext) -> Binding:
        now = dt.datetime.now(dt.UTC)
        binding = Binding(
            secrets.token_urlsafe(24), tuple(subscriptions), context,
            now + dt.timedelta(seconds=TOKEN_SECONDS),
        )  # fmt: skip
        with self._lock:
            self._tokens = {k: b for k, b in self._tokens.items() if b.expires > now}
            self._tokens[binding.token] = binding
        return binding

    def redeem(self, token: str) -> Binding | None:
        with self._lock:
            binding = self._tokens.get(token)
        if binding is None or binding.expires <= dt.datetime.now(dt.UTC):
            return None
        return binding

    def attach(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def detach(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def listeners(self, subscription_id: str) -> list[Listener]:
        with self._lock:
            return [x for x in self._listeners if subscription_id in x.subscriptions]

    @staticmethod
    def push(listener: Listener, text: str) -> None:
        """Hand a frame to the listener's event loop (from any thread)."""
        with contextlib.suppress(RuntimeError):  # a closed loop: the socket is gone
            listener.loop.call_soon_threadsafe(listener.queue.put_nowait, text)


def websocket_url(base_url: str) -> str:
    """The websocket endpoint for a FHIR base URL (http→ws, https→wss)."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/ws"


def _bound(repo: Repository, ids: Iterable[str]) -> list[tuple[dict[str, Any], int]]:
    """The bound Subscriptions and their event counts."""
    out = []
    with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        positions = state.load(txn.conn)
        for sid in ids:
            try:
                sub = txn.read("Subscription", sid).resource
            except FhirError:  # deleted since the token was issued
                continue
            if sub is not None:
                pos = positions.get(sid)
                out.append((sub, pos.events if pos else 0))
    return out


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away."""
    while True:
        await websocket.receive_text()


@router.websocket("/ws")
async def subscription_socket(websocket: WebSocket) -> None:
    """Bind with a token, then receive handshake, event and heartbeat notifications."""
    await websocket.accept()
    hub: Hub = websocket.app.state.live
    repo: Repository = websocket.app.state.repository
    try:
        first = await asyncio.wait_for(websocket.receive_text(), BIND_WAIT_SECONDS)
    except (TimeoutError, WebSocketDisconnect):
        await websocket.close(code=1008)
        return
    verb, _, token = first.strip().partition(" ")
    binding = hub.redeem(token.strip()) if verb == "bind-with-token" else None
    if binding is None:
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "security",
                       "diagnostics": "send 'bind-with-token <token>' with a valid token"}],
        }  # fmt: skip
        await websocket.send_text(json.dumps(outcome))
        await websocket.close(code=1008)
        return
    base = str(websocket.app.state.settings.base_url or "").rstrip("/") or "/fhir"
    subs = await run_in_threadpool(_bound, repo, binding.subscriptions)
    now = dt.datetime.now(dt.UTC)
    for sub, events in subs:
        shake = backport.notification_bundle(sub, "handshake", events, base, now)
        await websocket.send_text(json.dumps(shake, ensure_ascii=False))
    periods = [p for sub, _n in subs if (p := backport.heartbeat_period(sub))]
    listener = Listener(
        frozenset(binding.subscriptions), binding.context, asyncio.get_running_loop()
    )
    hub.attach(listener)
    reader = asyncio.create_task(_drain(websocket))
    try:
        while not reader.done():
            getter = asyncio.ensure_future(listener.queue.get())
            done, _pending = await asyncio.wait(
                {getter, reader}, timeout=min(periods) if periods else None,
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
            if getter in done:
                await websocket.send_text(getter.result())
                continue
            getter.cancel()
            if not done:  # the heartbeat period passed quietly
                for sub, _n in await run_in_threadpool(_bound, repo, binding.subscriptions):
                    beat = backport.notification_bundle(
                        sub, "heartbeat", _n, base, dt.datetime.now(dt.UTC)
                    )
                    await websocket.send_text(json.dumps(beat, ensure_ascii=False))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.detach(listener)
        reader.cancel()
