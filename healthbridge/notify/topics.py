"""The notification topics, as R4 ``Basic`` resources carrying R5 ``SubscriptionTopic``
elements (cross-version extensions), the way the Subscriptions R5 Backport IG (STU 1.1)
represents topics on an R4 server; a Subscription names one by ``criteria`` = its canonical
URL, and the CapabilityStatement advertises them on ``Subscription`` with the IG's
``capabilitystatement-subscriptiontopic-canonical`` extension.

The topics are fixed by the server (:mod:`healthbridge.notify.messages` writes their
messages), so they are defined here and not stored.
"""

from __future__ import annotations

from typing import Any, Final

from healthbridge.notify.messages import TOPIC_FEVER, TOPIC_HIGH_ALERT

XVER: Final = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic"
CAPABILITY_EXT: Final = (
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "capabilitystatement-subscriptiontopic-canonical"
)
_TOPICS: Final = (
    ("fever", TOPIC_FEVER, "Fever at a centre's health check",
     "A child's fever alert became active: a message to the guardians with the temperature, "
     "the time of the check and what to do (Communication, recipient RelatedPerson)."),
    ("high-alert", TOPIC_HIGH_ALERT, "High-severity alert of a child",
     "A child's high-severity alert became active: a message to the centre the child is "
     "enrolled at (Communication, recipient Organization)."),
)  # fmt: skip


def topic_resources() -> list[dict[str, Any]]:
    """The topics as R4 Basic resources (id, canonical URL, title, description, trigger)."""
    out = []
    for rid, url, title, description in _TOPICS:
        out.append(
            {
                "resourceType": "Basic",
                "id": f"topic-{rid}",
                "code": {
                    "coding": [
                        {"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}
                    ]
                },
                "extension": [
                    {"url": f"{XVER}.url", "valueUri": url},
                    {"url": f"{XVER}.title", "valueString": title},
                    {"url": f"{XVER}.status", "valueCode": "active"},
                    {"url": f"{XVER}.description", "valueMarkdown": description},
                    {
                        "url": f"{XVER}.resourceTrigger",
                        "extension": [
                            {"url": "resource", "valueUri": "Communication"},
                            {"url": "supportedInteraction", "valueCode": "create"},
                        ],
                    },
                ],
            }
        )
    return out


def capability_extensions() -> list[dict[str, Any]]:
    """The topic canonicals for ``CapabilityStatement.rest.resource`` (Subscription)."""
    return [{"url": CAPABILITY_EXT, "valueCanonical": url} for _rid, url, _t, _d in _TOPICS]
