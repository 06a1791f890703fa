"""Session import takes its centre and performer from the caller, not from the form (issue 20
item 7): a health manager cannot write another centre as the service provider nor another
person as the one who measured."""

from __future__ import annotations

from typing import Any

from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS

ROWS = (
    "儿童编号,测量日期,体重(kg),身长/身高(cm),测量方式,头围(cm),体温\n"
    "A,2026-05-01,9.8,76.5,卧位,45.2,36.6\n"
)


def _as(client_as: Any, name: str) -> Any:
    caller = CALLERS[name]
    return client_as(caller.role, user=f"user-{name}", **caller.claims)


def _upload(who: Any, **form: str) -> Any:
    return who.client.post(
        "/exchange/session",
        files={"file": ("s.csv", ROWS.encode("utf-8"), "text/csv")},
        data=form,
        headers=who.headers,
    )


def test_import_refuses_another_centre_or_performer(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    manager = _as(client_as, "health-manager")
    for form in (
        {"centre": "Organization/centre-b"},
        {"performer": "Practitioner/doc-h"},
        {"performer": "PractitionerRole/hm-b-role"},
    ):
        got = _upload(manager, **form)
        assert got.status_code == 403, (form, got.text[:300])
        assert got.json()["resourceType"] == "OperationOutcome"
    assert system.get("/fhir/Encounter?subject=Patient/kid-a&_summary=count").json()["total"] == 1


def test_import_derives_centre_and_performer_from_the_caller(client_as: Any) -> None:
    system = client_as("system")
    world.load(system)
    manager = _as(client_as, "health-manager")
    got = _upload(manager)
    assert got.status_code == 200, got.text[:300]
    assert got.json()["accepted"] == 1
    found = system.get("/fhir/Encounter?subject=Patient/kid-a&_sort=-_lastUpdated").json()
    encounter = found["entry"][0]["resource"]
    assert encounter["serviceProvider"]["reference"] == "Organization/centre-a"
    obs = system.get(f"/fhir/Observation?encounter=Encounter/{encounter['id']}").json()["entry"][0][
        "resource"
    ]
    assert obs["performer"] == [{"reference": "PractitionerRole/hm-a-role"}]
    # the caller's own Practitioner is accepted as performer
    again = ROWS.replace("2026-05-01", "2026-05-02")
    ok = manager.client.post(
        "/exchange/session",
        files={"file": ("t.csv", again.encode("utf-8"), "text/csv")},
        data={"performer": "Practitioner/hm-a", "centre": "Organization/centre-a"},
        headers=manager.headers,
    )
    assert ok.status_code == 200, ok.text[:300]
