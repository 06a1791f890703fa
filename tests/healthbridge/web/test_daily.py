"""The class's morning / afternoon check page: input kept, idempotent, progress, action."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import daily as dc
from healthbridge.web.visit import CST
from tests.healthbridge.web.test_pages import login, site  # noqa: F401  (fixture)
from tests.healthbridge.web.world import World

DAY = "2026-11-20"


def add_classmates(client: TestClient, world: World, n: int = 2) -> list[str]:
    """Copies of the world's child in the same class (the demo class may hold one child)."""
    repo = client.app.state.repository  # type: ignore[attr-defined]
    ids = []
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        child = dict(txn.read("Patient", world.child_id).resource or {})
        for i in range(n):
            copy = {k: v for k, v in child.items() if k not in ("id", "meta", "identifier")}
            copy["name"] = [{"text": f"同班{i}", "family": "同", "given": [f"班{i}"]}]
            ids.append(txn.create(copy).stored.id)
    return ids


def _form(client: TestClient) -> tuple[str, list[str]]:
    page = client.get(f"/app/centre/daily?day={DAY}&session=morning").text
    room = re.search(r'name="room" value="([^"]+)"', page)
    assert room is not None
    kids = re.findall(r'name="temp-([^"]+)"', page)
    assert len(kids) >= 2
    return room.group(1), kids


def _checks(client: TestClient, pid: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params(
            "Observation", [("subject", f"Patient/{pid}"), ("code", "8310-5,75325-1")]
        ).matches
    return [s.resource for s in found if s.resource is not None]


def test_parse_check_marks_rows_and_keeps_everything() -> None:
    form = dc.parse_check(
        {"temp-a": "36,6", "sym-a": ["cough", "nonsense"], "act-a": "doctor", "temp-b": "3o.5",
         "sym-b": "rash", "temp-c": "", "act-c": "isolate", "temp-d": "99"},
        ["a", "b", "c", "d", "e"],
    )  # fmt: skip
    assert form.rows == [dc.CheckRow("a", 36.6, ("cough",), "doctor")]
    assert form.errors == {
        "b": "daily.err_temperature",
        "c": "daily.err_action",
        "d": "daily.err_temperature",
    }
    assert form.temps["b"] == "3o.5"
    assert form.symptoms["b"] == ["rash"]
    assert form.actions["c"] == "isolate"


def test_typo_keeps_every_row_and_saves_nothing(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    add_classmates(client, world)
    login(client, world, "manager")
    room, kids = _form(client)
    before = len(_checks(client, kids[0]))
    bad = client.post(
        "/app/centre/daily",
        data={"room": room, "day": DAY, "session": "morning", f"temp-{kids[0]}": "37.9",
              f"sym-{kids[0]}": "cough", f"act-{kids[0]}": "parent-collect",
              f"temp-{kids[-1]}": "366"},
    )  # fmt: skip
    assert bad.status_code == 400
    html = bad.text
    assert f'name="temp-{kids[0]}" inputmode="decimal" size="5" value="37.9"' in html
    assert re.search(rf'name="sym-{kids[0]}" value="cough" checked', html)
    assert re.search(r'<option value="parent-collect" selected>', html)
    assert f'id="err-{kids[-1]}"' in html  # the error is on the wrong row
    assert 'value="366"' in html
    assert f'id="err-{kids[0]}"' not in html
    assert len(_checks(client, kids[0])) == before
    assert 'placeholder="36.5"' not in html  # no placeholder that looks like a value


def test_second_submission_updates_instead_of_duplicating(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    add_classmates(client, world)
    login(client, world, "manager")
    room, kids = _form(client)
    pid = kids[0]
    before = len(_checks(client, pid))
    first = {"room": room, "day": DAY, "session": "morning", f"temp-{pid}": "38.4",
             f"sym-{pid}": ["cough", "rash"], f"act-{pid}": "isolate"}  # fmt: skip
    assert client.post("/app/centre/daily", data=first, follow_redirects=False).status_code == 303
    assert len(_checks(client, pid)) == before + 3
    # the page now says the class is checked, pre-fills the form and warns before saving again
    page = client.get(f"/app/centre/daily?room={room}&day={DAY}&session=morning").text
    assert f"已检 1/{len(kids)}" in page
    assert 'name="update" value="1"' in page
    assert f'name="temp-{pid}" inputmode="decimal" size="5" value="38.4"' in page
    # a second submission without the confirmation (another tab) → asked to confirm, no write
    again = {**first, f"temp-{pid}": "37.0", f"sym-{pid}": ["cough"]}
    asked = client.post("/app/centre/daily", data=again)
    assert asked.status_code == 409
    assert 'value="37.0"' in asked.text
    assert len(_checks(client, pid)) == before + 3
    done = client.post("/app/centre/daily", data={**again, "update": "1"}, follow_redirects=False)
    assert done.status_code == 303
    mine = [o for o in _checks(client, pid) if o.get("identifier")]
    assert len(mine) == 2  # temperature updated, cough kept, rash deleted
    temp = next(o for o in mine if "valueQuantity" in o)
    assert temp["valueQuantity"]["value"] == 37.0
    assert dc.check_action(temp) == "isolate"
    assert temp["meta"]["versionId"] == "2"
    # the afternoon check is another check of the same day
    afternoon = {**again, "session": "afternoon", f"temp-{pid}": "36.8"}
    assert (
        client.post("/app/centre/daily", data=afternoon, follow_redirects=False).status_code == 303
    )
    assert len([o for o in _checks(client, pid) if o.get("identifier")]) == 4


def test_an_early_morning_check_is_found_on_its_beijing_day(site: tuple[TestClient, World]) -> None:  # noqa: F811
    """07:30 in Beijing is the previous day in UTC: the check still belongs to its day."""
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    day = dt.date(2026, 11, 20)
    early = dt.datetime(2026, 11, 20, 7, 30, tzinfo=CST)
    pid = world.child_id
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        dc.save_check(txn, [dc.CheckRow(pid, 37.0)], [pid], day, "morning", None, early)
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        assert list(dc.existing_checks(txn, [pid], day, "morning")) == [pid]
        assert dc.existing_checks(txn, [pid], day - dt.timedelta(days=1), "morning") == {}
        assert dc.existing_checks(txn, [pid], day, "afternoon") == {}


def test_existing_checks_reads_every_page(site: tuple[TestClient, World]) -> None:  # noqa: F811
    """More saved checks than one search page holds: every child's check is found (a dropped
    one would be written again as a duplicate); the page size is made small here instead of
    writing 1,001 Observations."""
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    day = dt.date(2026, 11, 20)
    at = dt.datetime(2026, 11, 20, 8, 30, tzinfo=CST)
    kids = [world.child_id, *add_classmates(client, world, 3)]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        dc.save_check(txn, [dc.CheckRow(pid, 36.6) for pid in kids], kids, day, "morning", None, at)
    repo.max_count = 2  # a search page of two records
    try:
        with repo.transaction(SYSTEM_CONTEXT) as txn:
            found = dc.existing_checks(txn, kids, day, "morning")
    finally:
        repo.max_count = 1000
    assert sorted(found) == sorted(kids)


def test_check_observations_conform_to_the_profiles() -> None:
    from healthbridge.fhir.profile_validation import validate_against_profiles

    when = dt.datetime(2026, 11, 20, 8, 5, tzinfo=CST)
    row = dc.CheckRow("child-1", 38.1, ("cough",), "parent-collect")
    made = dc.check_resources(row, when.date(), "morning", "Practitioner/p1", when)
    assert len(made) == 2
    for _key, obs in made:
        issues = [i for i in validate_against_profiles({**obs, "id": "x"}) if i.severity == "error"]
        assert issues == []
