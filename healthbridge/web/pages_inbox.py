"""Inboxes: the alert messages (``Communication``) of a parent's child and of a centre.

* parent: ``/app/parent/inbox/{child}`` (JSON) — the messages sent to *this* guardian about the
  child, newest first; shown on the parent page under each child and refreshed live;
* health manager: ``/app/centre/inbox`` (page) and ``/app/centre/inbox.json`` — the messages
  sent to the centre (high-severity alerts); the centre pages' navigation shows the count of
  the last 24 hours and ``static/today.js`` refreshes it, so an alert reaches the health
  manager without a reload.

Reading goes through the user's transaction: the store's reach rules decide (a
Communication about a child is in the child's compartment).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from healthbridge.access.tokens import Role
from healthbridge.notify.messages import CST, TOPICS, text_for, topic_of
from healthbridge.store.repository import Transaction
from healthbridge.web import data
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import guard_child, page, transaction
from healthbridge.web.leave_handling import QUESTION_CODE, is_question

router = APIRouter()
TOPIC_NAMES = {url: code for code, url in TOPICS.items()}


def _sent(message: dict[str, Any]) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(message.get("sent", "")))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def as_events(messages: list[dict[str, Any]], user: WebUser) -> list[dict[str, Any]]:
    """Messages as feed items (the shape of the "today" events), newest first."""
    out = []
    for m in sorted(messages, key=_sent, reverse=True):
        topic = TOPIC_NAMES.get(topic_of(m) or "", "")
        if not topic and is_question(m):
            topic = QUESTION_CODE
        out.append(
            {
                "at": _sent(m).astimezone(CST).strftime("%m-%d %H:%M"),
                "kind": f"msg-{topic}",
                "label": user.t(f"inbox.topic.{topic}") if topic else "",
                "detail": text_for(m, user.lang.value),
                "alert": m.get("priority") in ("urgent", "asap", "stat"),
            }
        )
    return out


def parent_messages(txn: Transaction, patient_id: str, user: WebUser) -> list[dict[str, Any]]:
    """Feed items of the messages to this guardian about the child."""
    me = f"RelatedPerson/{user.ref_id}"
    found = data.resources(
        txn, "Communication", [("subject", f"Patient/{patient_id}"), ("recipient", me)]
    )
    return as_events(found, user)


def centre_messages(txn: Transaction, org: str, user: WebUser) -> list[dict[str, Any]]:
    """Feed items of the messages to the centre."""
    found = data.resources(txn, "Communication", [("recipient", f"Organization/{org}")])
    return as_events(found, user)


def _centre(user: WebUser) -> str:
    user.require(Role.HEALTH_MANAGER, Role.CENTRE_STAFF)
    if user.org_id is None:
        raise PageForbiddenError("no organisation")
    return user.org_id


@router.get("/parent/inbox/{patient_id}")
def parent_inbox(request: Request, user: UserDep, patient_id: str) -> Response:
    """The guardian's messages about one child (JSON, polled by the parent page)."""
    user.require(Role.PARENT)
    with transaction(request, user) as txn:
        guard_child(txn, patient_id)
        events = parent_messages(txn, patient_id, user)
    return JSONResponse({"events": events}, headers={"Cache-Control": "no-store"})


@router.get("/centre/inbox")
def centre_inbox(request: Request, user: UserDep) -> Response:
    """The centre's messages (high-severity alerts), refreshed live."""
    org = _centre(user)
    with transaction(request, user) as txn:
        events = centre_messages(txn, org, user)
    return page(request, user, "inbox.html", events=events)


@router.get("/centre/inbox.json")
def centre_inbox_json(request: Request, user: UserDep) -> Response:
    """The centre's messages as JSON, with the count of the last 24 hours."""
    org = _centre(user)
    with transaction(request, user) as txn:
        found = data.resources(txn, "Communication", [("recipient", f"Organization/{org}")])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
    recent = sum(1 for m in found if _sent(m) >= since)
    body = {"events": as_events(found, user), "recent": recent}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
