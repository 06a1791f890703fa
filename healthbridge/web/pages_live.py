"""Live alerts for the health manager's pages: a websocket binding token for the centre.

``GET /app/live/token`` (JSON) makes sure the centre's websocket Subscription exists —
id ``live-centre-{org}``, topic ``high-alert``, filtered on ``recipient=Organization/{org}``,
``full-resource`` payload — and returns a binding token issued to the signed-in user (their
access context filters what the socket sends, :mod:`healthbridge.notify.live`) and the socket's
path. ``static/live.js`` binds and shows each alert at once; ``static/today.js`` keeps polling
as the fallback. The Subscription is written with the server's authority (only the
administrator writes Subscriptions through the API).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from healthbridge.errors import GoneError, NotFoundError
from healthbridge.notify import state
from healthbridge.notify.backport import FILTER_EXT
from healthbridge.notify.live import Hub
from healthbridge.notify.messages import TOPIC_HIGH_ALERT
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.web.auth import UserDep
from healthbridge.web.pages_daily import centre_of

router = APIRouter()
SOCKET_PATH = "/fhir/ws"


def centre_subscription(org: str) -> dict[str, Any]:
    """The centre's websocket Subscription to its high-severity alerts."""
    return {
        "resourceType": "Subscription",
        "id": f"live-centre-{org}",
        "status": "active",
        "reason": "High-severity alerts on the health manager's pages",
        "criteria": TOPIC_HIGH_ALERT,
        "_criteria": {
            "extension": [
                {"url": FILTER_EXT, "valueString": f"Communication?recipient=Organization/{org}"}
            ]
        },
        "channel": {"type": "websocket", "payload": "application/fhir+json"},
    }


def ensure_subscription(repo: Repository, org: str) -> str:
    """Create (or re-activate) the centre's Subscription; its id."""
    sub = centre_subscription(org)
    with repo.transaction(SYSTEM_CONTEXT, write=True, plain=True) as txn:
        try:
            current = txn.read("Subscription", sub["id"]).resource
        except (NotFoundError, GoneError):
            current = None
        if current is None or current.get("status") != "active":
            txn.update("Subscription", sub["id"], sub)
            start = state.start_cursor()
            state.save(txn.conn, state.Position(sub["id"], start, heard_at=start))
    return str(sub["id"])


@router.get("/live/token")
def live_token(request: Request, user: UserDep) -> Response:
    """A binding token for the centre's live alerts (health manager)."""
    org = centre_of(user)
    sid = ensure_subscription(request.app.state.repository, org)
    hub: Hub = request.app.state.live
    binding = hub.issue([sid], user.context)
    body = {"token": binding.token, "path": SOCKET_PATH, "subscription": sid}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
