"""Outbreak rules count ill children at home: sick absences with symptoms are cases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import attendance as att
from tests.healthbridge.pipeline.conftest import (
    active_flags,
    child,
    days_ago,
    health_manager_role,
    measurement,
    organization,
    put,
)
from tests.settle import settle


def _sick_at_home(client: TestClient, pid: str, symptoms: tuple[str, ...]) -> None:
    absence = att.Absence("sick", "电话告知", symptoms, "", None, "parent")
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        att.record_absence(txn, pid, "cc1", "room1", days_ago(0), absence)
    settle(client.app)  # type: ignore[arg-type]


def test_sick_absences_count_towards_the_class_cluster(pclient: TestClient) -> None:
    put(pclient, organization("cc1"))
    put(pclient, health_manager_role("hm1", "cc1"))
    for n in range(3):
        put(
            pclient, child(f"k{n}", days_ago(800), centre="cc1", klass="room1", since=days_ago(100))
        )
    put(pclient, measurement("t0", "k0", t.LOINC_BODY_TEMPERATURE, 38.5, days_ago(0)))
    _sick_at_home(pclient, "k1", ("fever",))
    assert active_flags(pclient, "Organization/cc1") == {}  # two cases: not yet a cluster
    _sick_at_home(pclient, "k2", ("fever", "cough"))
    assert set(active_flags(pclient, "Organization/cc1")) == {"outbreak-cluster"}


def test_a_personal_leave_is_not_a_case(pclient: TestClient) -> None:
    put(pclient, organization("cc1"))
    put(pclient, health_manager_role("hm1", "cc1"))
    for n in range(3):
        put(
            pclient, child(f"k{n}", days_ago(800), centre="cc1", klass="room1", since=days_ago(100))
        )
    put(pclient, measurement("t0", "k0", t.LOINC_BODY_TEMPERATURE, 38.5, days_ago(0)))
    put(pclient, measurement("t1", "k1", t.LOINC_BODY_TEMPERATURE, 38.4, days_ago(0)))
    absence = att.Absence("personal", "回老家", ("fever",), "", None, "parent")
    repo = pclient.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        att.record_absence(txn, "k2", "cc1", "room1", days_ago(0), absence)
    settle(pclient.app)  # type: ignore[arg-type]
    assert active_flags(pclient, "Organization/cc1") == {}
