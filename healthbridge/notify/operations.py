"""The Subscription operations of the R4 Subscriptions Backport IG (STU 1.1):

* ``Subscription/[id]/$status`` — a ``searchset`` Bundle holding the Subscription's status
  Parameters (type ``query-status``, ``events-since-subscription-start`` from the stored
  delivery position, ``error`` when delivery failed);
* ``Subscription/$get-ws-binding-token`` (ids as ``id`` parameters) and
  ``Subscription/[id]/$get-ws-binding-token`` — a token to bind websocket Subscriptions
  (:mod:`healthbridge.notify.live`): ``token``, ``expiration``, ``subscription``,
  ``websocket-url``.

Both read the Subscription(s) in the caller's transaction, so the store's access rules decide
who may ask (404 otherwise); the token carries the caller's context, which filters what the
socket receives.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from healthbridge.errors import BadRequestError
from healthbridge.notify import backport, state
from healthbridge.notify.live import Hub, websocket_url
from healthbridge.operations import OperationCall, OperationRegistry

STATUS_DEFINITION: Final = (
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status"
)
TOKEN_DEFINITION: Final = (
    "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"
    "backport-subscription-get-ws-binding-token"
)


def status_operation(call: OperationCall) -> dict[str, Any]:
    """``$status`` of one Subscription."""
    assert call.resource_id is not None
    sub = call.txn.read("Subscription", call.resource_id).resource or {}
    pos = state.load(call.txn.conn, call.resource_id).get(call.resource_id)
    error = str(sub.get("error") or (pos.last_error if pos else ""))
    params = backport.status_parameters(
        sub, "query-status", pos.events if pos else 0, call.base_url, error=error
    )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
        "total": 1,
        "entry": [{"resource": params, "search": {"mode": "match"}}],
    }


def token_operation(hub: Hub) -> Any:
    """``$get-ws-binding-token`` bound to the app's hub."""

    def handler(call: OperationCall) -> dict[str, Any]:
        ids = [call.resource_id] if call.resource_id else [str(v) for v in call.get_all("id")]
        if not ids:
            raise BadRequestError("name the websocket Subscription(s) with 'id' parameters")
        for sid in ids:
            sub = call.txn.read("Subscription", sid).resource or {}
            if sub.get("channel", {}).get("type") != "websocket":
                raise BadRequestError(f"Subscription/{sid} does not use the websocket channel")
            if sub.get("status") not in ("requested", "active"):
                raise BadRequestError(f"Subscription/{sid} is {sub.get('status')}, not active")
        binding = hub.issue(ids, call.txn.context)
        until = binding.expires.isoformat(timespec="seconds")
        return {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "token", "valueString": binding.token},
                {"name": "expiration", "valueDateTime": until},
                *({"name": "subscription", "valueString": sid} for sid in ids),
                {"name": "websocket-url", "valueUrl": websocket_url(call.base_url)},
            ],
        }  # fmt: skip

    return handler


def register(registry: OperationRegistry, hub: Hub) -> None:
    """Add ``$status`` and ``$get-ws-binding-token`` on Subscription."""
    registry.register(
        "status", status_operation, levels={"instance"}, resource_types={"Subscription"},
        description="Status of a Subscription (R4 Subscriptions Backport)",
        definition_url=STATUS_DEFINITION,
    )  # fmt: skip
    registry.register(
        "get-ws-binding-token", token_operation(hub), levels={"type", "instance"},
        resource_types={"Subscription"},
        description="A token to bind websocket Subscriptions (R4 Subscriptions Backport)",
        definition_url=TOKEN_DEFINITION,
    )  # fmt: skip
