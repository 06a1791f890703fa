"""The district's sick-absence page: counts by class and cause, small cells suppressed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from healthbridge.charts.summary import enrolment
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import attendance as att
from healthbridge.web.common import today
from healthbridge.web.pages_signin import DEMO_OFFICIAL
from tests.healthbridge.web.test_daily import add_classmates
from tests.healthbridge.web.test_pages import login, sign_in_as, site  # noqa: F401
from tests.healthbridge.web.world import World


def _sick(client: TestClient, pids: list[str], world: World, symptoms: tuple[str, ...]) -> str:
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        room = ""
        for pid in pids:
            child = txn.read("Patient", pid).resource or {}
            room = enrolment(child)[1] or ""
            absence = att.Absence("sick", "", symptoms, "", None, "parent")
            att.record_absence(txn, pid, world.centre_id, room, today(), absence)
    return room


def test_sick_absence_by_class_and_cause(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    mates = add_classmates(client, world, 3)
    sign_in_as(client, DEMO_OFFICIAL)
    empty = client.get("/app/district/absence")
    assert empty.status_code == 200
    assert 'data-testid="absence-empty"' in empty.text
    # two children: the class row is suppressed
    _sick(client, [world.child_id, mates[0]], world, ("fever",))
    page = client.get("/app/district/absence").text
    assert 'data-testid="suppressed-cell"' in page
    # four children (3 fever, 1 diarrhoea): counts shown, the single diarrhoea cell as <3
    _sick(client, [mates[1]], world, ("fever", "cough"))
    _sick(client, [mates[2]], world, ("diarrhoea",))
    page = client.get("/app/district/absence?days=3").text
    row = page.split('data-testid="absence-table"')[1].split("</tr>")[1]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    # children, child-days, fever, respiratory, gastrointestinal, ...
    assert cells[:5] == ["4", "4", "3", "&lt;3<sup>*</sup>", "&lt;3<sup>*</sup>"]


def test_only_officials_see_it(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    assert client.get("/app/district/absence").status_code == 403
