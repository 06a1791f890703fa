"""Issue 15 through the FHIR API: false alerts of the earlier rules are retired on
re-evaluation (both paths), and the anaemia threshold follows the centre's altitude."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import growth_standards as gs
from healthbridge import terminology as t
from healthbridge.clinical.alerts import ActionType, AlertAction, Finding
from healthbridge.clinical.vocab import AlertKind, Severity
from healthbridge.config import Settings
from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.alerts import CLOSE_REASON_EXTENSION, Routing, apply_actions
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.store.db import make_engine
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import (
    RULESET,
    active_flags,
    child,
    days_ago,
    measurement,
    organization,
    put,
    review_task,
    task_inputs,
    today,
)

LENGTH = t.LOINC_BODY_LENGTH


@pytest.fixture
def repository_for(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine)
    engine.dispose()


def _old_alert(repository: Repository, cid: str, kind: AlertKind, evidence: tuple[str, ...]) -> str:
    """Write the alert the rules before issue 15 raised (velocity@2026.1), as they wrote it."""
    rules = parse_ruleset_key(RULESET)
    finding = Finding(
        cid,
        kind,
        Severity.MODERATE if kind is AlertKind.GROWTH_FALTERING else Severity.LOW,
        "",
        evidence,
        ("zlen",) if kind is AlertKind.GROWTH_FALTERING else ("zwei",),
        "old rule",
        "velocity",
        "2026.1",
        today(),
    )
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        apply_actions(
            txn,
            (AlertAction(ActionType.CREATE, cid, kind, finding, None),),
            ruleset=rules,
            routing=Routing(None, None),
            as_of=today(),
            now=f"{today().isoformat()}T08:00:00+08:00",
        )
    return kind.value


def _retired(client: TestClient, flag: dict[str, Any]) -> None:
    now = client.get(f"/fhir/Flag/{flag['id']}").json()
    assert now["status"] == "inactive"
    assert now["period"]["end"] == today().isoformat()
    assert {"url": CLOSE_REASON_EXTENSION, "valueCode": "rule-revised"} in now["extension"]
    assert [i for i in validate_against_profiles(now) if i.severity == "error"] == []
    task = review_task(client, flag)
    assert task["status"] == "cancelled"
    assert "velocity@2026.1" in task["statusReason"]["text"]
    assert task["output"][-1]["type"]["text"] == "alert-retired"
    assert [i for i in validate_against_profiles(task) if i.severity == "error"] == []


def test_false_alerts_of_the_old_rules_are_retired_by_evaluate(
    pclient: TestClient, repository_for: Repository
) -> None:
    """A 1.6 cm length 'drop' within 7 days (old faltering rule) and an underweight child's recovery
    (old rapid-gain rule, any two points: an underweight child catching up) raised alerts; the
    current rules raise neither."""
    put(pclient, child("c1", days_ago(300)))
    put(pclient, measurement("l1", "c1", LENGTH, 70.0, days_ago(7)))
    put(pclient, measurement("l2", "c1", LENGTH, 68.4, days_ago(0)))
    put(pclient, child("c2", days_ago(300)))
    put(pclient, measurement("w1", "c2", t.LOINC_BODY_WEIGHT, 6.0, days_ago(120)))
    weight = round(float(gs.value_at_z("wfa", 1, [300], 0.0)[0]), 2)
    put(pclient, measurement("w2", "c2", t.LOINC_BODY_WEIGHT, weight, days_ago(0)))
    for cid in ("c1", "c2"):
        assert not {"growth-faltering", "rapid-weight-gain"} & set(active_flags(pclient, cid))
    _old_alert(repository_for, "c1", AlertKind.GROWTH_FALTERING, ("l1", "l2"))
    _old_alert(repository_for, "c2", AlertKind.RAPID_WEIGHT_GAIN, ("w1", "w2"))
    old = {
        "c1": active_flags(pclient, "Patient/c1")["growth-faltering"],
        "c2": active_flags(pclient, "Patient/c2")["rapid-weight-gain"],
    }
    assert task_inputs(review_task(pclient, old["c1"]))["rule"] == "velocity@2026.1"
    report = evaluate_database(repository_for, parse_ruleset_key(RULESET), today())
    assert report.actions.get("clear", 0) >= 2
    for flag in old.values():
        _retired(pclient, flag)
    assert (
        sum(evaluate_database(repository_for, parse_ruleset_key(RULESET), today()).actions.values())
        == 0
    )


def test_false_alert_of_the_old_rules_is_retired_on_the_next_write(
    pclient: TestClient, repository_for: Repository
) -> None:
    put(pclient, child("c1", days_ago(300)))
    put(pclient, measurement("l1", "c1", LENGTH, 70.0, days_ago(7)))
    put(pclient, measurement("l2", "c1", LENGTH, 68.4, days_ago(0)))
    _old_alert(repository_for, "c1", AlertKind.GROWTH_FALTERING, ("l1", "l2"))
    flag = active_flags(pclient, "Patient/c1")["growth-faltering"]
    put(pclient, measurement("l2", "c1", LENGTH, 68.5, days_ago(0)))  # incremental path
    _retired(pclient, flag)


def _location(lid: str, centre: str, altitude: float) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": lid,
        "status": "active",
        "name": lid,
        "managingOrganization": {"reference": f"Organization/{centre}"},
        "position": {"longitude": 91.13, "latitude": 29.65, "altitude": altitude},
    }


def test_anaemia_threshold_follows_the_centre_altitude(
    pclient: TestClient, repository_for: Repository
) -> None:
    """WHO/NMH/NHD/MNM/11.1 Table 2: a 2-year-old in Lhasa (~3,650 m) with Hb 115 g/L is
    anaemic (115 - 27 = 88 g/L); the same value at sea level is not. The altitude is the
    class Location's position.altitude, else the centre's site Location's."""
    put(pclient, organization("lhasa"))
    put(pclient, _location("lhasa-site", "lhasa", 3650.0))
    put(pclient, organization("shanghai"))
    put(pclient, _location("sh-site", "shanghai", 4.0))
    born = days_ago(740)
    put(pclient, child("k1", born, centre="lhasa", klass="lhasa-room", since=days_ago(100)))
    put(pclient, child("k2", born, centre="shanghai", since=days_ago(100)))
    for cid in ("k1", "k2"):
        put(pclient, measurement(f"hb-{cid}", cid, t.LOINC_HAEMOGLOBIN, 115.0, days_ago(0)))
    anaemia = active_flags(pclient, "Patient/k1")["anaemia"]
    assert task_inputs(review_task(pclient, anaemia))["grade"] == "moderate"
    assert "anaemia" not in active_flags(pclient, "Patient/k2")
    # the batch evaluation reads the same altitude and agrees
    report = evaluate_database(repository_for, parse_ruleset_key(RULESET), today(), dry_run=True)
    assert sum(report.actions.values()) == 0
    # a class Location of its own overrides the centre's site
    put(pclient, _location("lhasa-room", "lhasa", 500.0))
    put(pclient, measurement("hb-k1", "k1", t.LOINC_HAEMOGLOBIN, 115.0, days_ago(0)))
    assert "anaemia" not in active_flags(pclient, "Patient/k1")
