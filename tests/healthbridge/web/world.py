"""A small demo district for page tests: the people of one child's three roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from healthbridge.charts.summary import enrolment
from healthbridge.demo.load import DEMO_CONTEXT, load_demo
from healthbridge.store.repository import Repository, Transaction
from tests import factories as f

SD = "https://healthbridge.github.io/fhir/StructureDefinition"


@dataclass(frozen=True)
class World:
    """A child enrolled at a centre whose guardian consented to share with a hospital."""

    child_id: str
    centre_id: str
    hospital_id: str
    parent: str  # RelatedPerson/...
    manager: str  # PractitionerRole/...
    doctor: str  # PractitionerRole/...
    other_child_id: str  # a child at another centre, not linked to the parent


def build_world(repo: Repository, children: int = 12) -> World:
    """Load the demo district and pick the people of one child."""
    load_demo(repo, children=children, seed=7)
    with repo.transaction(DEMO_CONTEXT, write=False) as txn:
        patients = [s.resource for s in txn.search_params("Patient", [("_count", "1000")]).matches]
        consents = [s.resource for s in txn.search_params("Consent", [("_count", "1000")]).matches]
        guardians = [
            s.resource for s in txn.search_params("RelatedPerson", [("_count", "1000")]).matches
        ]
    consented = {
        c["patient"]["reference"].split("/")[-1]: c["organization"][0]["reference"].split("/")[-1]
        for c in consents
        if c and c["status"] == "active"
    }
    for p in patients:
        assert p is not None
        centre, _room = enrolment(p)
        if centre and p["id"] in consented:
            parent = next(
                g for g in guardians if g and g["patient"]["reference"] == f"Patient/{p['id']}"
            )
            hospital = consented[p["id"]]
            other = next(q["id"] for q in patients if q and enrolment(q)[0] != centre)
            return World(
                p["id"], centre, hospital, f"RelatedPerson/{parent['id']}",
                f"PractitionerRole/pr-{centre}-1-role", f"PractitionerRole/pr-{hospital}-1-role",
                other,
            )  # fmt: skip
    raise AssertionError("no enrolled, consented child in the demo district")


def alert_flag(
    child_id: str, kind: str = "underweight", start: str = "2026-11-20"
) -> dict[str, Any]:
    """An alert Flag as the clinical pipeline writes it (hb-alert-flag)."""
    return f.flag(
        f"Patient/{child_id}",
        kind=kind,
        meta={"profile": [f"{SD}/hb-alert-flag"]},
        extension=[{"url": f"{SD}/alert-severity", "valueCode": "moderate"}],
        period={"start": start},
    )


def write_alert(
    txn: Transaction, child_id: str, centre_id: str, *, start: str = "2026-11-20"
) -> str:
    """An alert as the clinical pipeline writes it: the Flag and its review Task (id
    ``review-{flag}``, owned by the centre's health manager, status requested); the Flag id."""
    flag_id = str(txn.create(alert_flag(child_id, start=start)).stored.id)
    task_id = f"review-{flag_id}"
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"profile": [f"{SD}/hb-review-task"]},
        "status": "requested",
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": "https://healthbridge.github.io/fhir/CodeSystem/task-kind",
                    "code": "alert-review",
                }
            ]
        },
        "focus": {"reference": f"Flag/{flag_id}"},
        "for": {"reference": f"Patient/{child_id}"},
        "owner": {"reference": f"PractitionerRole/pr-{centre_id}-1-role"},
        "authoredOn": f"{start}T08:00:00+08:00",
        "restriction": {"period": {"end": start}},
    }
    txn.update("Task", task_id, task)
    return flag_id
