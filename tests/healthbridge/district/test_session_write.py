"""The session import's direct write path: partial re-import, the failing row named, and
matching limited to the children in the caller's reach (both backends)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.errors import Issue
from healthbridge.store.hooks import StoreHooks, WriteContext
from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS
from tests.healthbridge.district.test_api_exchange import HEADER, _children, _count, _upload


def test_a_partly_imported_file_is_completed(make_client: Callable[..., TestClient]) -> None:
    client = make_client("system")
    ids = _children(client)
    text = HEADER + "HB-001,2026-05-01,9.8,76.5,l,45.2,\nHB-002,2026-05-01,13.1,92,h,,\n"
    first = _upload(client, text).json()
    assert (first["created"], first["unchanged"]) == (2 + 5, 0)
    # lose one Observation (e.g. deleted by mistake), then upload the same file again
    heights = client.get(f"/fhir/Observation?subject=Patient/{ids['HB-002']}&code=8302-2")
    lost = heights.json()["entry"][0]["resource"]
    assert client.delete(f"/fhir/Observation/{lost['id']}").status_code in (200, 204)
    again = _upload(client, text).json()
    assert (again["created"], again["unchanged"]) == (1, 6)
    back = client.get(f"/fhir/Observation?subject=Patient/{ids['HB-002']}&code=8302-2").json()
    (entry,) = back["entry"]
    assert entry["resource"]["identifier"] == lost["identifier"]
    # it belongs to the Encounter written by the first import
    assert entry["resource"]["encounter"] == lost["encounter"]
    assert _count(client, "Encounter") == 2


def test_the_failing_row_is_named_and_nothing_is_written(app_factory: Callable[..., Any]) -> None:
    def refuse_head(resource: dict[str, Any], ctx: WriteContext) -> Iterable[Issue]:
        del ctx
        if resource.get("valueQuantity", {}).get("value") == 44.4:
            yield Issue("error", "business-rule", "refused by a test validator")

    hooks = StoreHooks()
    hooks.add_validator(refuse_head)
    from tests.healthbridge.district.conftest import as_role

    with TestClient(app_factory(hooks=hooks)) as client:
        as_role(client, "system")
        _children(client)
        text = HEADER + "HB-001,2026-05-01,9.8,76.5,l,,\nHB-002,2026-05-01,13.1,92,h,44.4,\n"
        got = _upload(client, text)
        assert got.status_code == 422
        diagnostics = got.json()["issue"][0]["diagnostics"]
        assert diagnostics.startswith("Row 3 (head): ")
        assert _count(client, "Encounter") == 0
        assert _count(client, "Observation") == 0


def test_only_children_in_reach_are_matched(client_as: Any) -> None:
    world.load(client_as("system"))
    caller = CALLERS["health-manager"]  # centre-a: sees kid-a only
    manager = client_as(caller.role, user="user-hm", **caller.claims)
    text = HEADER + "A,2026-05-01,9.8,76.5,l,,\nB,2026-05-01,9.9,77,l,,\nO,2026-05-01,9,75,l,,\n"
    got = manager.client.post(  # multipart: without the RoleClient's FHIR content type
        "/exchange/session",
        files={"file": ("s.csv", text.encode("utf-8"), "text/csv")},
        headers=manager.headers,
    )
    assert got.status_code == 200, got.text
    report = got.json()
    assert [r["patient"] for r in report["accepted_rows"]] == ["Patient/kid-a"]
    reasons = {r["identifier"]: r["problems"][0]["reason"] for r in report["rejected_rows"]}
    assert reasons == {"B": "unknown-identifier", "O": "unknown-identifier"}


def test_the_import_passes_the_r4_door(
    app_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built resource that is not valid R4 (here: made so on purpose) fails the import with
    its row named, and nothing is written."""
    from healthbridge.district import session

    real = session.session_resources

    def broken(*args: Any, **kwargs: Any) -> Any:
        items = real(*args, **kwargs)
        for item in items:
            if item.resource["resourceType"] == "Observation":
                item.resource["status"] = "not-a-status"
        return items

    monkeypatch.setattr(session, "session_resources", broken)
    from tests.healthbridge.district.conftest import as_role

    with TestClient(app_factory()) as client:
        as_role(client, "system")
        _children(client)
        got = _upload(client, HEADER + "HB-001,2026-05-01,9.8,76.5,l,,\n")
        assert got.status_code == 422
        issue = got.json()["issue"][0]
        assert issue["diagnostics"].startswith("Row 2 (")
        assert issue["expression"] == ["Observation.status"]
        assert _count(client, "Observation") == 0
