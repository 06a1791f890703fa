"""The notification topics: valid R4 Basic resources, advertised in the CapabilityStatement."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class

from healthbridge.notify.messages import TOPICS
from healthbridge.notify.topics import CAPABILITY_EXT, XVER, topic_resources


def test_topics_are_r4_basic_with_their_canonical() -> None:
    urls = []
    for topic in topic_resources():
        get_fhir_model_class("Basic").model_validate(topic)  # R4 content, R4B models
        urls += [e["valueUri"] for e in topic["extension"] if e["url"] == f"{XVER}.url"]
    assert sorted(urls) == sorted(TOPICS.values())


def test_capability_statement_advertises_the_topics(app_factory: Any) -> None:
    with TestClient(app_factory()) as client:
        cs = client.get("/fhir/metadata").json()
    (sub,) = [r for r in cs["rest"][0]["resource"] if r["type"] == "Subscription"]
    advertised = [e["valueCanonical"] for e in sub["extension"] if e["url"] == CAPABILITY_EXT]
    assert sorted(advertised) == sorted(TOPICS.values())


def test_system_export_leaves_out_subscriptions() -> None:
    """A Subscription's channel headers hold a webhook's secret: never in a bulk export."""
    from healthbridge.district.bulk import exportable_types

    assert "Communication" in exportable_types("system")
    assert "Subscription" not in exportable_types("system")
