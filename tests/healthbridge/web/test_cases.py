"""Managed cases on the pages: the paediatrician enrols, records a follow-up and closes; the
health manager and the parent see the open case and its next follow-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world
from tests.settle import settle


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(
        demo_login=True,
        environment="development",
        clinical_ruleset="cn-child-health@2026.1/CN",
        pipeline_page_wait_seconds=60,
    )  # the default (outbox) mode; the child's page waits for the results after a save (a
    # generous bound here, for a loaded test machine)
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        settle(app)  # the demo district's own results, before the test
        yield client, world


def _of(client: TestClient, pid: str, rtype: str) -> list[dict[str, Any]]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        return [s.resource for s in txn.everything(pid, types={rtype}) if s.resource_type == rtype]


def test_case_from_enrolment_to_closure(site: tuple[TestClient, World]) -> None:
    client, world = site
    pid = world.child_id
    login(client, world, "doctor")
    page = client.get(f"/app/child/{pid}").text
    assert 'data-testid="case-enrol"' in page
    assert "目前没有专案管理" in page

    # a bad date keeps what was typed and writes nothing
    future = (today() + dt.timedelta(days=3)).isoformat()
    r = client.post(f"/app/child/{pid}/case", data={"condition": "anaemia", "start": future})
    assert r.status_code == 200
    assert "日期无效" in r.text
    assert f'value="{future}"' in r.text
    assert 'value="anaemia" selected' in r.text
    assert _of(client, pid, "EpisodeOfCare") == []

    start = today() - dt.timedelta(days=60)
    r = client.post(
        f"/app/child/{pid}/case", data={"condition": "anaemia", "start": start.isoformat()}
    )
    assert "专案记录已保存" in r.text
    (episode,) = _of(client, pid, "EpisodeOfCare")
    twice = client.post(
        f"/app/child/{pid}/case", data={"condition": "anaemia", "start": start.isoformat()}
    )
    assert "已有这个原因的专案" in twice.text
    assert len(_of(client, pid, "EpisodeOfCare")) == 1
    (plan,) = _of(client, pid, "CarePlan")
    assert plan["supportingInfo"] == [{"reference": f"EpisodeOfCare/{episode['id']}"}]
    due = start + dt.timedelta(days=28)  # anaemia: Hb re-check after 4 weeks
    assert due.isoformat() in r.text
    assert "随访已逾期" in r.text  # 60 days without a visit
    flags = [f for f in _of(client, pid, "Flag") if f["status"] == "active"]
    assert "case-follow-up-overdue" in {f["code"]["coding"][0]["code"] for f in flags}

    # the health manager sees the open case; the parent sees it and the next date
    login(client, world, "manager")
    page = client.get(f"/app/child/{pid}").text
    assert "营养性缺铁性贫血" in page
    assert 'data-testid="case-enrol"' not in page
    login(client, world, "parent")
    home = client.get("/app/parent").text
    assert f"下次随访：{due.isoformat()}" in home

    # a follow-up today moves the next date and clears the alert
    login(client, world, "doctor")
    eid = episode["id"]
    r = client.post(f"/app/child/{pid}/case/{eid}/follow-up", data={"date": today().isoformat()})
    nxt = today() + dt.timedelta(days=30)
    assert nxt.isoformat() in r.text
    assert "随访已逾期" not in r.text
    flags = [f for f in _of(client, pid, "Flag") if f["status"] == "active"]
    assert "case-follow-up-overdue" not in {f["code"]["coding"][0]["code"] for f in flags}
    (plan,) = _of(client, pid, "CarePlan")
    assert plan["activity"][0]["detail"]["scheduledTiming"]["event"] == [nxt.isoformat()]

    # closing needs an outcome; then the case is closed with it
    r = client.post(
        f"/app/child/{pid}/case/{eid}/close", data={"outcome": "", "date": today().isoformat()}
    )
    assert "请选择转归" in r.text
    r = client.post(
        f"/app/child/{pid}/case/{eid}/close", data={"outcome": "cured", "date": today().isoformat()}
    )
    assert "已结案" in r.text
    assert "治愈" in r.text
    (episode,) = _of(client, pid, "EpisodeOfCare")
    assert episode["status"] == "finished"
    (plan,) = _of(client, pid, "CarePlan")
    assert plan["status"] == "completed"
    again = client.post(
        f"/app/child/{pid}/case/{eid}/follow-up", data={"date": today().isoformat()}
    )
    assert "这个专案已结案" in again.text
    login(client, world, "parent")
    assert "下次随访" not in client.get("/app/parent").text


def test_only_the_paediatrician_writes_cases(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "manager")
    r = client.post(
        f"/app/child/{world.child_id}/case",
        data={"condition": "anaemia", "start": today().isoformat()},
    )
    assert r.status_code == 403
    assert _of(client, world.child_id, "EpisodeOfCare") == []


def test_district_page_shows_management_and_closure_rates(site: tuple[TestClient, World]) -> None:
    from healthbridge.web.pages_signin import DEMO_OFFICIAL
    from tests.healthbridge.web.test_pages import sign_in_as

    client, world = site
    login(client, world, "doctor")
    start = (today() - dt.timedelta(days=40)).isoformat()
    client.post(f"/app/child/{world.child_id}/case", data={"condition": "obesity", "start": start})
    sign_in_as(client, DEMO_OFFICIAL)
    page = client.get("/app/district").text
    assert 'data-testid="coverage-cases"' in page
    assert "体弱儿管理率" in page
    assert "体弱儿结案率" in page
    # one managed child in a centre: a small cell, its counts not shown
    table = page[page.index('data-testid="coverage-cases"') :]
    table = table[: table.index("</table>")]
    assert "0/1" not in table  # the closure rate: 0 of 1 case
    assert 'data-testid="suppressed-cell"' in table


def test_high_risk_preterm_on_the_child_page(site: tuple[TestClient, World]) -> None:
    """A 32-week child: the unmanaged high-risk alert shows on the page; once enrolled, the
    case follows the high-risk schedule (every 2 weeks before corrected 1 month)."""
    client, world = site
    pid = world.child_id
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        patient = dict(txn.read("Patient", pid).resource or {})
        born = today() - dt.timedelta(days=40)
        patient["birthDate"] = born.isoformat()
        patient["extension"] = [
            e for e in patient.get("extension", []) if not e["url"].endswith("gestational-age")
        ] + [
            {
                "url": "https://healthbridge.github.io/fhir/StructureDefinition/gestational-age",
                "valueQuantity": {
                    "value": 32, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"
                },
            }
        ]  # fmt: skip
        txn.update("Patient", pid, patient)
    login(client, world, "doctor")
    page = client.get(f"/app/child/{pid}").text
    assert 'data-testid="alert-high-risk-not-managed"' in page
    assert "高危儿随访未建档" in page
    start = today() - dt.timedelta(days=3)
    r = client.post(
        f"/app/child/{pid}/case", data={"condition": "preterm-lbw", "start": start.isoformat()}
    )
    assert 'data-testid="case-high-risk"' in r.text
    (plan,) = _of(client, pid, "CarePlan")
    assert plan["activity"][0]["detail"]["scheduledTiming"]["repeat"]["period"] == 14
    assert (start + dt.timedelta(days=14)).isoformat() in r.text  # corrected age < 1 month
    assert 'data-testid="alert-high-risk-not-managed"' not in r.text
    english = client.get(f"/app/child/{pid}?lang=en").text
    assert "High-risk preterm schedule" in english
