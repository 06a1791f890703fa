"""High-risk infants through the store: the write path raises ``high-risk-not-managed`` for a
preterm or low-birth-weight child not under managed follow-up, enrolment clears it, and
``healthbridge evaluate`` agrees at every step (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import (
    RULESET,
    active_flags,
    child,
    days_ago,
    organization,
    put,
    today,
)
from tests.healthbridge.pipeline.test_cases import episode, follow_up, repository_for  # noqa: F401

KIND = "high-risk-not-managed"


def _agrees(repository: Repository) -> None:
    report = evaluate_database(repository, parse_ruleset_key(RULESET), today(), dry_run=True)
    assert sum(report.actions.values()) == 0, report.actions


def _low_weight(cid: str, born: Any, grams: float) -> dict[str, Any]:
    patient = child(cid, born)
    patient["extension"] = [
        {
            "url": f"{t.CANONICAL_BASE}/StructureDefinition/birth-weight",
            "valueQuantity": {"value": grams, "unit": "g", "system": t.UCUM, "code": "g"},
        }
    ]
    return patient


def test_unmanaged_high_risk_infant_raised_cleared_and_batch_agrees(
    pclient: TestClient,
    repository_for: Repository,  # noqa: F811
) -> None:
    put(pclient, organization("org-mch", "mch-hospital"))
    put(pclient, child("pre", days_ago(40), weeks=32.0))  # high-risk preterm, 40 days old
    put(pclient, _low_weight("lbw", days_ago(20), 2300.0))  # term, low birth weight
    put(pclient, child("term", days_ago(40), weeks=39.0))
    pre = active_flags(pclient, "Patient/pre")[KIND]
    assert pre["extension"][0]["valueCode"] == "high"  # due on day 14, over 14 days late
    assert KIND not in active_flags(pclient, "Patient/lbw")  # low-risk: first visit at 30 days
    assert KIND not in active_flags(pclient, "Patient/term")
    _agrees(repository_for)
    # enrolled: the managed case's own follow-up rule takes over, the alert is cleared
    put(pclient, episode("case-pre", "pre", "preterm-lbw", days_ago(1)))
    assert KIND not in active_flags(pclient, "Patient/pre")
    put(pclient, follow_up("fu-pre", "pre", "case-pre", days_ago(1)))
    _agrees(repository_for)
    # the calendar alone makes the low-birth-weight child due: the batch raises it
    later = today() + dt.timedelta(days=15)
    report = evaluate_database(repository_for, parse_ruleset_key(RULESET), later)
    assert report.actions["create"] >= 1
    assert KIND in active_flags(pclient, "Patient/lbw")
