"""The worklist on a phone: grouped by child, counted, paged; filter and place kept."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web import worklist_view as wv
from healthbridge.web.data import WorkItem
from tests.healthbridge.web.test_pages import login, site  # noqa: F401  (fixture)
from tests.healthbridge.web.world import World, write_alert

KIND = "https://healthbridge.github.io/fhir/CodeSystem/alert-kind"
SEV = "https://healthbridge.github.io/fhir/StructureDefinition/alert-severity"


def _item(pid: str | None, kind: str, severity: str, items: str = "", due: str = "") -> WorkItem:
    flag: dict[str, Any] = {
        "id": f"{pid}-{kind}",
        "code": {"coding": [{"system": KIND, "code": kind}]},
        "extension": [{"url": SEV, "valueCode": severity}],
    }
    task: dict[str, Any] = {"status": "requested"}
    if items:
        task["input"] = [{"type": {"text": "items"}, "valueString": items}]
    if due:
        task["restriction"] = {"period": {"end": due}}
    return WorkItem(task, flag, {"id": pid} if pid else None)


def test_groups_counts_and_pages() -> None:
    items = [
        _item("a", "fever", "high"),
        _item("b", "vaccine-overdue", "moderate", "DTP-3 MMR-1"),
        _item("a", "vaccine-due", "low", "HepA-1"),
        _item(None, "outbreak-cluster", "high"),
        *[_item(f"k{n:02d}", "checkup-due", "low", "12m") for n in range(12)],
    ]
    view = wv.shape(items, "", 1)
    assert view.total == 16
    assert view.children == 14
    assert view.by_severity == {"high": 2, "moderate": 1, "low": 13}
    assert view.by_kind["checkup-due"] == 12
    assert [g.key for g in view.groups[:3]] == ["a", "b", "centre"]  # the list's order
    assert [i.kind for i in view.groups[0].items] == ["fever", "vaccine-due"]
    assert view.groups[0].top == "high"
    assert (view.page, view.pages, len(view.groups)) == (1, 2, wv.PAGE_SIZE)
    second = wv.shape(items, "", 9)  # past the end → the last page
    assert (second.page, len(second.groups)) == (2, 15 - wv.PAGE_SIZE)
    only = wv.shape(items, "vaccine-overdue", 1)
    assert [g.key for g in only.groups] == ["b"]
    assert only.by_kind == view.by_kind  # the counts of every kind stay visible
    assert wv.named_items(only.groups[0].items[0]) == ["DTP-3", "MMR-1"]
    assert wv.query("fever", 2, done="1") == "kind=fever&page=2&done=1"
    assert wv.query("", 1) == ""


def test_action_keeps_filter_and_place_and_errors_stay_inline(
    site: tuple[TestClient, World],  # noqa: F811
) -> None:
    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        flag_id = write_alert(txn, world.child_id, world.centre_id)
    login(client, world, "manager")
    page = client.get("/app/centre?kind=underweight").text
    assert f'data-testid="group-{world.child_id}"' in page
    assert "待处理 " in page
    act = f"/app/centre/alert/{flag_id}"
    back = {"kind": "underweight", "page": "1", "anchor": f"child-{world.child_id}"}
    r = client.post(act, data={"action": "acknowledge", **back}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/app/centre?kind=underweight&done=1#child-{world.child_id}"
    bad = client.post(act, data={"action": "note", "text": "  ", **back})
    assert bad.status_code == 400  # not a dead end: the worklist, the message on the alert
    assert f'id="err-{flag_id}"' in bad.text
    assert f'data-testid="item-{flag_id}"' in bad.text
    assert 'class="on" data-testid="kind-underweight"' in bad.text  # the filter kept
    refer = client.post(act, data={"action": "refer", "text": "营养门诊", "refer_to": "", **back})
    assert refer.status_code == 400
    assert 'value="营养门诊"' in refer.text  # what was typed is kept


def test_items_in_words() -> None:
    growth = _item("a", "underweight", "high", "zwei")
    assert wv.named_items(growth) == []  # technical codes are not shown
    vaccines, visits = {"DTP": "百白破疫苗"}, {"12m": "12月龄体检"}
    assert wv.item_label("DTP-3", vaccines, visits) == "百白破疫苗 (3)"
    assert wv.item_label("12m", vaccines, visits) == "12月龄体检"
    assert wv.item_label("XYZ-1", vaccines, visits) == "XYZ-1"
    # a BCG catch-up that needs a negative TB skin test first (clinical.vaccination)
    assert wv.item_label("DTP-3:tst", vaccines, visits, "先做结核菌素试验") == (
        "百白破疫苗 (3) · 先做结核菌素试验"
    )


def test_due_this_week_names_checkups_and_vaccines_only() -> None:
    items = [
        _item("a", "vaccine-due", "low", "DTP-3", due="2026-11-25"),
        _item("a", "checkup-overdue", "moderate", "12m", due="2026-10-01"),
        _item("b", "vaccine-due", "low", "MMR-1", due="2026-12-20"),  # later
        _item("c", "underweight", "high", "zwei", due="2026-11-21"),  # not a checkup/vaccine
    ]
    view = wv.shape(items, "", 1, date(2026, 11, 27))
    assert [(g.key, [i.kind for i in g.items]) for g in view.groups] == [
        ("a", ["vaccine-due", "checkup-overdue"])
    ]
    assert wv.due(view.groups[0].items[0]) == "2026-11-25"
    assert wv.query("", 2, "week") == "view=week&page=2"


def test_week_view_page(site: tuple[TestClient, World]) -> None:  # noqa: F811
    client, world = site
    login(client, world, "manager")
    r = client.get("/app/centre?view=week")
    assert r.status_code == 200
    assert 'class="on" data-testid="view-week"' in r.text
    assert client.get("/app/centre?page=abc").status_code == 200  # a bad page number: page 1


def test_the_worklist_audits_the_reviews_it_shows(
    site: tuple[TestClient, World],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every open review is read to count and page them; the AuditEvent names the shown
    ones (their Task, Flag and child), not those of the other pages."""
    from tests.healthbridge.web.test_daily import add_classmates

    client, world = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    (mate,) = add_classmates(client, world, 1)
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        flags = {pid: write_alert(txn, pid, world.centre_id) for pid in (world.child_id, mate)}
    monkeypatch.setattr(wv, "PAGE_SIZE", 1)  # one child per page
    login(client, world, "manager")
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        before = {s.id for s in txn.search_params("AuditEvent", [("_count", "1000")]).matches}
    page = client.get("/app/centre?kind=underweight").text
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        new = [s.resource for s in txn.search_params("AuditEvent", [("_count", "1000")]).matches
               if s.id not in before and s.resource]  # fmt: skip
    named = {str((e.get("what") or {}).get("reference")) for a in new for e in a.get("entity", ())}
    shown = [pid for pid in flags if f'data-testid="item-{flags[pid]}"' in page]
    assert len(shown) == 1
    (hidden,) = set(flags) - set(shown)
    assert {f"Flag/{flags[shown[0]]}", f"Task/review-{flags[shown[0]]}"} <= named
    assert not {f"Flag/{flags[hidden]}", f"Task/review-{flags[hidden]}"} & named
