"""Independent validation of what the server returns: Medplum's R4 validator (and our
profiles, where claimed) on a demo child's whole record with the pipeline's derived scores
and alerts, a search Bundle, an error OperationOutcome and the CapabilityStatement."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fhir_profiles.test_medplum_validation import medplum
from tests.settle import settle

pytestmark = [pytest.mark.node, pytest.mark.slow]


def test_server_output_is_valid_r4(app_factory: Callable[..., Any], node_tools: Path) -> None:
    from healthbridge.demo.load import load_demo

    app = app_factory(clinical_ruleset="cn-child-health@2026.1/CN")
    with TestClient(app, headers={"Accept": "application/fhir+json"}) as client:
        load_demo(app.state.repository, children=3, seed=11, as_of=dt.date(2026, 11, 22))
        settle(app)  # the derived scores are written by the pipeline's worker
        everything = client.get("/fhir/Patient/child-000001/$everything").json()
        search = client.get("/fhir/Observation?subject=Patient/child-000002&_count=20").json()
        outcome = client.get("/fhir/Patient/no-such-child").json()
        capability = client.get("/fhir/metadata").json()
    kinds = {e["resource"]["resourceType"] for e in everything["entry"]}
    assert {"Patient", "Observation", "Immunization", "Encounter"} <= kinds
    derived = [e for e in everything["entry"] if e["resource"].get("derivedFrom")]
    assert derived, "the pipeline's growth scores are part of the record"
    for name, body in [
        ("everything", everything),
        ("search", search),
        ("outcome", outcome),
        ("capability", capability),
    ]:
        results = medplum(node_tools, stdin=json.dumps(body))
        invalid = {k: r["issues"][:3] for k, r in results.items() if not r["valid"]}
        assert not invalid, (name, invalid)
