"""Scheduled screenings through the store: the per-write pipeline raises and clears
``screening-due`` / ``-overdue`` / ``-abnormal``, and ``healthbridge evaluate`` agrees at every
step (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.config import Settings
from healthbridge.inputs.screening import screening_result
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.store.db import make_engine
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import (
    RULESET,
    active_flags,
    child,
    put,
    review_task,
    task_inputs,
    today,
)

OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@pytest.fixture
def repository_for(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine)
    engine.dispose()


def screening_obs(
    oid: str, cid: str, code: str, on: dt.date, result: str | None = None, **parts: Any
) -> dict[str, Any]:
    components = []
    for name, value in parts.items():
        key = name.replace("_", "-")
        comp: dict[str, Any] = {
            "code": {"coding": [{"system": t.CS_SCREENING_COMPONENT, "code": key}]}
        }
        if isinstance(value, bool):
            comp["valueBoolean"] = value
        elif isinstance(value, str):
            comp["valueCodeableConcept"] = {
                "coding": [{"system": t.CS_DEVELOPMENTAL_INSTRUMENT, "code": value}]
            }
        else:
            comp["valueQuantity"] = {"value": value, "system": t.UCUM, "code": "1"}
        components.append(comp)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"profile": [f"{t.CANONICAL_BASE}/StructureDefinition/hb-screening-result"]},
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "exam"}]}],
        "code": {"coding": [{"system": t.CS_CHILD_SCREENING, "code": code}]},
        "subject": {"reference": f"Patient/{cid}"},
        "effectiveDateTime": on.isoformat(),
    }
    if result is not None:
        obs["valueCodeableConcept"] = {
            "coding": [{"system": t.CS_SCREENING_RESULT, "code": result}]
        }
    if components:
        obs["component"] = components
    return obs


def agrees(repository: Repository) -> None:
    report = evaluate_database(repository, parse_ruleset_key(RULESET), today(), dry_run=True)
    assert sum(report.actions.values()) == 0, report.actions


def items(client: TestClient, flag: dict[str, Any]) -> set[str]:
    """The finding's items as the review Task carries them."""
    inputs = task_inputs(review_task(client, flag))
    found = [v for k, v in inputs.items() if "item" in k.lower()]
    assert found, inputs
    return set(found[0].replace(",", " ").split())


def test_extraction_reads_every_field() -> None:
    on = dt.date(2026, 3, 1)
    r = screening_result(
        screening_obs("d1", "c1", "development", on, "refer", instrument="gesell", dq=75, score=41)
    )
    assert r is not None
    assert (r.screening, r.refer, r.instrument, r.dq, r.score) == (
        "development", True, "gesell", 75.0, 41.0,
    )  # fmt: skip
    eye = screening_result(
        screening_obs(
            "e1", "c1", "eye", on, "pass", visual_acuity_left=0.8, visual_acuity_right=0.5
        )
    )
    assert eye is not None
    assert (eye.refer, eye.acuity_left, eye.acuity_right) == (False, 0.8, 0.5)
    void = screening_obs("v", "c1", "hearing", on, "refer")
    void["status"] = "entered-in-error"
    assert screening_result(void) is None


def test_due_overdue_abnormal_on_write_and_batch_agrees(
    pclient: TestClient, repository_for: Repository
) -> None:
    # born 218 days ago (about 7 months): the 6-month points are overdue, 8 months not due
    put(pclient, child("c1", today() - dt.timedelta(days=218)))
    flags = active_flags(pclient, "Patient/c1")
    assert "screening-due" not in flags
    assert items(pclient, flags["screening-overdue"]) == {
        "haemoglobin@6m", "hearing@6m", "eye@6m", "oral@6m",
    }  # fmt: skip
    agrees(repository_for)

    # a passed hearing screen removes that point; a refer result is abnormal
    put(pclient, screening_obs("s1", "c1", "hearing", today(), "refer"))
    flags = active_flags(pclient, "Patient/c1")
    assert "hearing@6m" not in items(pclient, flags["screening-overdue"])
    assert items(pclient, flags["screening-abnormal"]) == {"hearing:refer"}
    agrees(repository_for)

    # a later pass clears the abnormal alert
    put(pclient, screening_obs("s2", "c1", "hearing", today(), "pass"))
    assert "screening-abnormal" not in active_flags(pclient, "Patient/c1")
    agrees(repository_for)

    # a developmental assessment with a DQ below 70
    put(pclient, screening_obs("d1", "c1", "development", today(), instrument="wst580", dq=65))
    flag = active_flags(pclient, "Patient/c1")["screening-abnormal"]
    assert items(pclient, flag) == {"development:disability"}
    assert flag["extension"][0]["valueCode"] == "high"
    agrees(repository_for)
