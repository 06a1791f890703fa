"""Managed cases through the store: the per-write pipeline raises and clears
``case-follow-up-overdue`` and ``healthbridge evaluate`` agrees at every step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.config import Settings
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.store.db import make_engine
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

KIND = "case-follow-up-overdue"


@pytest.fixture
def repository_for(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine)
    engine.dispose()


def episode(eid: str, cid: str, condition: str, start: dt.date, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "EpisodeOfCare",
        "id": eid,
        "meta": {"profile": [f"{t.CANONICAL_BASE}/StructureDefinition/hb-managed-case"]},
        "status": "active",
        "type": [{"coding": [{"system": t.CS_CASE_CONDITION, "code": condition}]}],
        "patient": {"reference": f"Patient/{cid}"},
        "managingOrganization": {"reference": "Organization/org-mch"},
        "period": {"start": start.isoformat()},
        **extra,
    }


def follow_up(eid: str, cid: str, case: str, on: dt.date) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{cid}"},
        "episodeOfCare": [{"reference": f"EpisodeOfCare/{case}"}],
        "period": {"start": on.isoformat()},
    }


def agrees(repository: Repository) -> None:
    report = evaluate_database(repository, parse_ruleset_key(RULESET), today(), dry_run=True)
    assert sum(report.actions.values()) == 0, report.actions


def test_missed_follow_up_raised_cleared_and_batch_agrees(
    pclient: TestClient, repository_for: Repository
) -> None:
    put(pclient, organization("org-mch", "mch-hospital"))
    put(pclient, child("c1", days_ago(400)))
    put(pclient, child("c2", days_ago(500), gender="female"))
    put(pclient, episode("case-1", "c1", "anaemia", days_ago(60)))
    put(pclient, episode("case-2", "c2", "obesity", days_ago(10)))
    flag = active_flags(pclient, "Patient/c1")[KIND]
    details = [e["valueReference"]["reference"] for e in flag["extension"][1:]]
    assert details == ["EpisodeOfCare/case-1"]
    assert KIND not in active_flags(pclient, "Patient/c2")  # not yet due
    agrees(repository_for)

    # a follow-up visit clears it
    put(pclient, follow_up("fu-1", "c1", "case-1", days_ago(1)))
    assert KIND not in active_flags(pclient, "Patient/c1")
    agrees(repository_for)

    # months without a visit: lost to follow-up (high severity); then closure ends it
    put(pclient, episode("case-3", "c2", "rickets", days_ago(200)))
    flag = active_flags(pclient, "Patient/c2")[KIND]
    assert flag["extension"][0]["valueCode"] == "high"
    agrees(repository_for)
    closed = episode(
        "case-3",
        "c2",
        "rickets",
        days_ago(200),
        status="finished",
        extension=[
            {
                "url": t.EXT_CASE_OUTCOME,
                "valueCoding": {"system": t.CS_CASE_OUTCOME, "code": "lost"},
            }
        ],
    )
    closed["period"]["end"] = today().isoformat()
    put(pclient, closed)
    assert KIND not in active_flags(pclient, "Patient/c2")
    agrees(repository_for)


def test_a_closed_case_without_an_outcome_is_refused(pclient: TestClient) -> None:
    put(pclient, organization("org-mch", "mch-hospital"))
    put(pclient, child("c1", days_ago(400)))
    bad = episode("case-1", "c1", "anaemia", days_ago(60), status="finished")
    bad["period"]["end"] = today().isoformat()
    r = pclient.put(
        "/fhir/EpisodeOfCare/case-1", json=bad, headers={"Content-Type": "application/fhir+json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
