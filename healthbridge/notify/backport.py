"""Notification Bundles and status of the R4 Subscriptions Backport IG (STU 1.1), built, not
sent (http://hl7.org/fhir/uv/subscriptions-backport/, "Notifications" and
"R4 Subscription Notifications"; components.html for the channel extensions).

* a notification is a ``history`` Bundle whose first entry is the ``SubscriptionStatus`` —
  on R4 a ``Parameters`` with the profile ``backport-subscription-status-r4``: ``subscription``,
  ``topic``, ``status``, ``type`` (``handshake`` | ``heartbeat`` | ``event-notification`` |
  ``query-status``), ``events-since-subscription-start`` and one ``notification-event`` per
  event (``event-number``, ``timestamp``, ``focus``), plus ``error`` when there is one;
* the content of each event follows ``channel.payload``'s ``backport-payload-content``
  extension: ``empty`` (the status only, no focus), ``id-only`` (the focus reference), or
  ``full-resource`` (default: the Communication as an entry too);
* the channel extensions read: ``backport-heartbeat-period`` (seconds, unsignedInt) and
  ``backport-timeout`` (seconds, unsignedInt) on ``Subscription.channel``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

BACKPORT: Final = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
FILTER_EXT: Final = f"{BACKPORT}/backport-filter-criteria"
PAYLOAD_EXT: Final = f"{BACKPORT}/backport-payload-content"
HEARTBEAT_EXT: Final = f"{BACKPORT}/backport-heartbeat-period"
TIMEOUT_EXT: Final = f"{BACKPORT}/backport-timeout"
NOTIFICATION_PROFILE: Final = f"{BACKPORT}/backport-subscription-notification-r4"
STATUS_PROFILE: Final = f"{BACKPORT}/backport-subscription-status-r4"
CONTENTS: Final = ("empty", "id-only", "full-resource")
#: the channel types served (R4 Subscription.channel.type)
CHANNELS: Final = ("rest-hook", "websocket")
#: an event: (event number, the Communication, when it was sent)
Event = tuple[int, Mapping[str, Any], dt.datetime]


def _channel_ext(subscription: Mapping[str, Any], url: str) -> int | None:
    for ext in subscription.get("channel", {}).get("extension", []):
        if ext.get("url") == url and isinstance(ext.get("valueUnsignedInt"), int):
            return int(ext["valueUnsignedInt"])
    return None


def heartbeat_period(subscription: Mapping[str, Any]) -> int | None:
    """Seconds between heartbeats the subscriber asked for (None: no heartbeat)."""
    period = _channel_ext(subscription, HEARTBEAT_EXT)
    return period if period else None


def timeout(subscription: Mapping[str, Any], default: float = 5.0) -> float:
    """Seconds the subscriber's endpoint has to answer (``backport-timeout``, 1–60)."""
    value = _channel_ext(subscription, TIMEOUT_EXT)
    return float(min(max(value, 1), 60)) if value else default


def payload_content(subscription: Mapping[str, Any]) -> str:
    """``empty`` | ``id-only`` | ``full-resource`` (default)."""
    for ext in subscription.get("channel", {}).get("_payload", {}).get("extension", []):
        if ext.get("url") == PAYLOAD_EXT and ext.get("valueCode") in CONTENTS:
            return str(ext["valueCode"])
    return "full-resource"


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def status_parameters(
    subscription: Mapping[str, Any],
    kind: str,
    events_since_start: int,
    base_url: str,
    events: Sequence[Event] = (),
    *,
    status: str | None = None,
    error: str = "",
) -> dict[str, Any]:
    """The R4 ``SubscriptionStatus`` Parameters."""
    sub_url = f"{base_url}/Subscription/{subscription['id']}"
    content = payload_content(subscription)
    params: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": sub_url}},
        {"name": "topic", "valueCanonical": subscription.get("criteria", "")},
        {"name": "status", "valueCode": status or subscription.get("status", "active")},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events_since_start)},
    ]
    for number, message, at in events:
        part: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(number)},
            {"name": "timestamp", "valueInstant": _stamp(at)},
        ]
        if content != "empty":
            focus = f"{base_url}/Communication/{message['id']}"
            part.append({"name": "focus", "valueReference": {"reference": focus}})
        params.append({"name": "notification-event", "part": part})
    if error:
        params.append(
            {"name": "error", "valueCodeableConcept": {"text": error}},
        )
    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": params,
    }


def notification_bundle(
    subscription: Mapping[str, Any],
    kind: str,
    events_since_start: int,
    base_url: str,
    now: dt.datetime,
    events: Sequence[Event] = (),
    *,
    status: str | None = None,
) -> dict[str, Any]:
    """A notification Bundle (handshake, heartbeat or event-notification)."""
    sub_url = f"{base_url}/Subscription/{subscription['id']}"
    head = status_parameters(
        subscription, kind, events_since_start, base_url, events, status=status
    )
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{head['id']}",
            "resource": head,
            "request": {"method": "GET", "url": f"{sub_url}/$status"},
            "response": {"status": "200"},
        }
    ]
    if payload_content(subscription) == "full-resource":
        for _number, message, _at in events:
            entries.append(
                {
                    "fullUrl": f"{base_url}/Communication/{message['id']}",
                    "resource": dict(message),
                    "request": {"method": "POST", "url": "Communication"},
                    "response": {"status": "201"},
                }
            )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": _stamp(now),
        "entry": entries,
    }
