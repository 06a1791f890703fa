"""The centre's weekly menu (带量食谱): the grid's notation, the Composition, the page, and who
sees it (the centre's health manager writes, the guardians of its children read)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import menu
from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import sign_in_as
from tests.healthbridge.web.world import World, build_world

MONDAY = dt.date(2026, 12, 7)


def test_a_cell_is_one_dish_a_line_with_grams_per_food() -> None:
    foods, errors = menu.parse_cell("番茄炒蛋：番茄 40，鸡蛋30g\n米饭: 大米 50克", "d", "lunch")
    assert errors == []
    assert foods == [
        menu.Food("番茄炒蛋", "番茄", 40),
        menu.Food("番茄炒蛋", "鸡蛋", 30),
        menu.Food("米饭", "大米", 50),
    ]
    assert menu.cell_text(foods) == "番茄炒蛋：番茄 40，鸡蛋 30\n米饭：大米 50"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("番茄炒蛋 番茄 40", "menu.err_line"),
        ("番茄炒蛋：番茄", "menu.err_amount"),
        ("番茄炒蛋：番茄 0", "menu.err_range"),
        ("番茄炒蛋：番茄 600", "menu.err_range"),
        ("汤：" + "水 1，" * 300, "menu.err_long"),
    ],
)
def test_bad_cells_are_named(text: str, key: str) -> None:
    _foods, errors = menu.parse_cell(text, "2026-12-07", "lunch")
    assert [e.key for e in errors] == [key]


def test_the_composition_is_a_valid_weekly_menu_and_reads_back() -> None:
    form = {
        menu.cell_name(MONDAY, "lunch"): "番茄炒蛋：番茄 40，鸡蛋 30",
        menu.cell_name(MONDAY + dt.timedelta(days=2), "snack"): "酸奶：酸奶 100",
    }
    foods, typed, errors = menu.parse_grid(form, MONDAY)
    assert errors == []
    assert typed[menu.cell_name(MONDAY, "breakfast")] == ""
    now = dt.datetime(2026, 12, 4, 16, tzinfo=dt.UTC)
    resource = menu.composition(foods, "org-centre-1", MONDAY, "PractitionerRole/p", now, {})
    assert validate_against_profiles(resource) == []
    assert [s["title"] for s in resource["section"]] == ["2026-12-07", "2026-12-09"]
    assert menu.foods_of(resource) == foods
    # copy to the next week: the same weekdays, a week later
    moved = menu.grid_text(menu.foods_of(resource), MONDAY + dt.timedelta(days=7))
    assert moved == {
        menu.cell_name(MONDAY + dt.timedelta(days=7), "lunch"): "番茄炒蛋：番茄 40，鸡蛋 30",
        menu.cell_name(MONDAY + dt.timedelta(days=9), "snack"): "酸奶：酸奶 100",
    }
    wednesday = menu.day_menu(menu.foods_of(resource), MONDAY + dt.timedelta(days=2))
    assert wednesday == [("snack", [("酸奶", [menu.Food("酸奶", "酸奶", 100)])])]


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development")
    with TestClient(app) as client:
        yield client, build_world(app.state.repository)


def _cells(html: str) -> dict[str, str]:
    return dict(re.findall(r'<textarea name="(m-[^"]+)"[^>]*>([^<]*)</textarea>', html))


def test_manager_enters_the_week_and_the_parent_sees_today(site: tuple[TestClient, World]) -> None:
    client, world = site
    sign_in_as(client, world.manager)
    start = menu.monday(today())
    page = client.get(f"/app/centre/menu?week={start.isoformat()}")
    assert page.status_code == 200, page.text[-3000:]
    assert len(_cells(page.text)) == menu.DAYS * len(menu.MEALS)
    lunch = menu.cell_name(today(), "lunch")
    monday_lunch = menu.cell_name(start, "snack")  # never today's lunch
    typed = {
        "week": start.isoformat(),
        lunch: "番茄炒蛋：番茄 40，鸡蛋 30",
        monday_lunch: "面条：面 abc",
    }
    bad = client.post("/app/centre/menu", data=typed)
    assert bad.status_code == 400
    assert f'data-testid="err-{monday_lunch}"' in bad.text
    assert "缺少克数" in bad.text
    assert _cells(bad.text)[monday_lunch] == "面条：面 abc"  # kept as typed
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        assert txn.search_params("Composition", []).total == 0  # nothing saved
    typed[monday_lunch] = "面条：面 40"
    for _ in range(2):  # a double submit stores one menu
        saved = client.post("/app/centre/menu", data=typed, follow_redirects=False)
        assert saved.status_code == 303
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        stored = [s.resource for s in txn.search_params("Composition", []).matches]
    assert len(stored) == 1
    assert stored[0]["subject"] == {"reference": f"Organization/{world.centre_id}"}
    again = client.get(f"/app/centre/menu?week={start.isoformat()}").text
    assert _cells(again)[lunch] == "番茄炒蛋：番茄 40，鸡蛋 30"
    copied = client.get(
        f"/app/centre/menu?week={(start + dt.timedelta(days=7)).isoformat()}&copy=1"
    )
    assert 'data-testid="menu-copied"' in copied.text
    later = menu.cell_name(today() + dt.timedelta(days=7), "lunch")
    assert _cells(copied.text)[later] == "番茄炒蛋：番茄 40，鸡蛋 30"

    sign_in_as(client, world.parent)
    parent = client.get("/app/parent").text
    if today().weekday() < menu.DAYS:  # the centre serves meals Monday to Friday
        assert f'data-testid="menu-today-{world.child_id}"' in parent
        assert "番茄 40 克" in parent
    # the parent reads the centre's menu, and may not write one
    assert client.get("/app/centre/menu").status_code == 403


def test_menus_are_the_centres_own(site: tuple[TestClient, World]) -> None:
    """The store's rule for centre documents: readable by the centre's staff and its
    children's guardians, writable by its health manager, invisible to other centres."""
    from healthbridge.access.centre_documents import may_write
    from healthbridge.access.http import access_for
    from healthbridge.access.scopes import parse_scopes
    from healthbridge.access.tokens import Principal, Role
    from healthbridge.errors import NotFoundError
    from healthbridge.store.hooks import RequestContext

    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    now = dt.datetime(2026, 12, 4, 16, tzinfo=dt.UTC)
    foods = {(MONDAY.isoformat(), "lunch"): [menu.Food("粥", "米", 30)]}
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        mine = txn.create(menu.composition(foods, world.centre_id, MONDAY, "x", now, {})).stored.id
        theirs = txn.create(menu.composition(foods, "org-other", MONDAY, "x", now, {})).stored.id

    def context(role: Role, user: str | None, org: str | None) -> RequestContext:
        who = Principal("t", role, parse_scopes("user/*.cruds patient/*.rs"), user, org)
        return RequestContext(principal="t", roles=frozenset({role.value}), access=access_for(who))

    manager = context(Role.HEALTH_MANAGER, world.manager, f"Organization/{world.centre_id}")
    parent = context(Role.PARENT, world.parent, None)
    doctor = context(Role.PAEDIATRICIAN, world.doctor, f"Organization/{world.hospital_id}")
    for ctx in (manager, parent):
        with repo.transaction(ctx) as txn:
            assert txn.read("Composition", mine).resource is not None
            with pytest.raises(NotFoundError):
                txn.read("Composition", theirs)
            found = [s.id for s in txn.search_params("Composition", []).matches]
            assert found == [mine]
    with repo.transaction(doctor) as txn, pytest.raises(NotFoundError):
        txn.read("Composition", mine)
    other = menu.composition(foods, "org-other", MONDAY, "x", now, {})
    who = Principal("t", Role.HEALTH_MANAGER, (), world.manager, f"Organization/{world.centre_id}")
    assert not may_write(who, "Composition", other)
    assert may_write(
        who, "Composition", menu.composition(foods, world.centre_id, MONDAY, "x", now, {})
    )
