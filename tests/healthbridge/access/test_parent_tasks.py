"""A parent creates leave requests (Task leave-request) for their own child, and no other Task
(an alert's review Task stays the centre's and the doctor's)."""

from __future__ import annotations

from typing import Any

from healthbridge import terminology as t
from tests.healthbridge.access import world


def _task(kid: str, kind: str, status: str = "requested") -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "code": {"coding": [{"system": t.CS_TASK_KIND, "code": kind}]},
        "for": {"reference": f"Patient/{kid}"},
        "requester": {"reference": "RelatedPerson/rp-a"},
        "executionPeriod": {"start": "2026-12-01", "end": "2026-12-02"},
    }


def test_parent_creates_leave_requests_only(client_as: Any) -> None:
    world.load(client_as("system"))
    parent = client_as("parent", user="user-parent", fhir_user="RelatedPerson/rp-a")
    made = parent.post("/fhir/Task", json=_task("kid-a", "leave-request"))
    assert made.status_code == 201, made.text
    # not someone else's child: looks like no such child
    assert parent.post("/fhir/Task", json=_task("kid-b", "leave-request")).status_code == 404
    # no other kind of Task, and no change to a Task once sent
    review = parent.post("/fhir/Task", json=_task("kid-a", "alert-review", "completed"))
    assert review.status_code == 403
    assert review.json()["resourceType"] == "OperationOutcome"
    task = made.json()
    changed = parent.put(f"/fhir/Task/{task['id']}", json={**task, "status": "cancelled"})
    assert changed.status_code == 403
    assert parent.delete(f"/fhir/Task/{task['id']}").status_code == 403
    # the centre sees the request
    manager = client_as("health-manager", user="hm", fhir_user="PractitionerRole/hm-a-role")
    found = manager.get("/fhir/Task", params={"patient": "Patient/kid-a"}).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [task["id"]]
