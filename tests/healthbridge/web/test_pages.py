"""The pages through the app, per role, on a small demo district (both databases)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.fhir import facts
from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests.healthbridge.web.world import World, build_world, write_alert

ROLES = {"parent": "parent", "manager": "health-manager", "doctor": "paediatrician"}


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development")
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        yield client, world


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def sign_in_as(client: TestClient, person: str) -> str:
    """Demo sign-in as ``person`` (a reference or the demo official); the client then sends
    the session's CSRF token with every request. Returns the home page path."""
    client.cookies.clear()
    client.headers.pop("x-csrf-token", None)
    token = csrf_of(client.get("/app/login").text)
    r = client.post(
        "/app/login/demo",
        data={"person": person, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert r.cookies["healthbridge_session"]  # kept by the client's cookie jar
    home = str(r.headers["location"])
    client.headers["x-csrf-token"] = csrf_of(client.get(home).text)
    return home


def sign_in_with_token(client: TestClient, token: str) -> str:
    """Sign in on the login page's access-token form (any environment); the client then
    sends the session's CSRF token with every request. Returns the home page path."""
    client.cookies.clear()
    client.headers.pop("x-csrf-token", None)
    csrf = csrf_of(client.get("/app/login").text)
    r = client.post(
        "/app/login/token", data={"token": token, "csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    home = str(r.headers["location"])
    client.headers["x-csrf-token"] = csrf_of(client.get(home).text)
    return home


def session_cookie(client: TestClient) -> str:
    """The client's session cookie value."""
    found = [c.value for c in client.cookies.jar if c.name == "healthbridge_session"]
    assert len(found) == 1
    assert found[0] is not None
    return found[0]


def login(client: TestClient, world: World, who: str) -> str:
    return sign_in_as(client, getattr(world, who))


def test_pages_need_a_login(site: tuple[TestClient, World]) -> None:
    client, world = site
    r = client.get(f"/app/child/{world.child_id}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login"
    client.cookies.set("healthbridge_session", "not-a-session")
    assert client.get("/app/parent", follow_redirects=False).status_code == 303
    client.cookies.clear()
    token = csrf_of(client.get("/app/login").text)
    bad = client.post("/app/login/token", data={"token": "abc", "csrf_token": token})
    assert bad.status_code == 401
    assert "令牌无效" in bad.text


def test_pages_name_an_icon_that_is_served(site: tuple[TestClient, World]) -> None:
    """Every page links the site icon (without one a browser asks for /favicon.ico: a 404)."""
    client, _world = site
    page = client.get("/app/login").text
    href = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert href is not None
    icon = client.get(href.group(1))
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")


def test_login_page_lists_demo_people_only_in_demo_mode(
    site: tuple[TestClient, World], app_factory: Any
) -> None:
    client, world = site
    assert world.manager in client.get("/app/login").text
    with TestClient(app_factory(demo_login=False, environment="development")) as plain:
        page = plain.get("/app/login").text
        assert "demo-" not in page
        data = {"person": world.parent, "csrf_token": csrf_of(page)}
        assert plain.post("/app/login/demo", data=data).status_code == 404


def test_parent_sees_own_child_not_others(site: tuple[TestClient, World]) -> None:
    client, world = site
    home = login(client, world, "parent")
    assert home == "/app/parent"
    page = client.get(home).text
    assert f"/app/child/{world.child_id}" in page
    assert f"/app/chart/{world.child_id}/wfa.svg" in page
    child = client.get(f"/app/child/{world.child_id}")
    assert child.status_code == 200
    assert "预防接种" in child.text  # Chinese by default
    # out of reach: the store does not find the child, and the page says "not found"
    other = client.get(f"/app/child/{world.other_child_id}")
    assert other.status_code == 404
    assert "未找到" in other.text
    assert client.get(f"/app/chart/{world.other_child_id}/wfa.svg").status_code == 404
    assert client.get(f"/app/child/{world.other_child_id}/report.pdf").status_code == 404
    chart = client.get(f"/app/chart/{world.child_id}/wfa.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    # the parent's pages show the phone chart (charts/phone.py: 3.4 in wide), staff the WHO one
    assert f"/app/chart/{world.child_id}/wfa.svg?size=phone" in page
    assert f"/app/chart/{world.child_id}/wfa.svg?size=phone" in child.text
    small = client.get(f"/app/chart/{world.child_id}/wfa.svg?size=phone")
    assert 'width="244.8pt"' in small.text
    assert 'width="576pt"' in chart.text  # the doctor's 8 in figure
    english = client.get(f"/app/child/{world.child_id}?lang=en")
    assert "Vaccinations" in english.text
    assert "hb_lang=en" in english.headers["set-cookie"]
    assert client.get("/app/centre").status_code == 403  # not a manager


def test_parent_withdraws_and_restores_consent(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "parent")
    page = client.get(f"/app/child/{world.child_id}").text
    consent_id = re.search(rf"/app/child/{world.child_id}/consent/([^\"]+)", page)
    assert consent_id is not None
    url = f"/app/child/{world.child_id}/consent/{consent_id.group(1)}"
    assert client.post(url, data={"active": "no"}, follow_redirects=False).status_code == 303
    assert "已撤回" in client.get(f"/app/child/{world.child_id}").text
    login(client, world, "doctor")
    assert client.get(f"/app/child/{world.child_id}").status_code == 404  # no longer shared
    login(client, world, "parent")
    client.post(url, data={"active": "yes"})
    login(client, world, "doctor")
    assert client.get(f"/app/child/{world.child_id}").status_code == 200


def _post_flag(client: TestClient, world: World) -> str:
    app = client.app
    with app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        return write_alert(txn, world.child_id, world.centre_id)


def test_manager_worklist_actions(site: tuple[TestClient, World]) -> None:
    client, world = site
    flag_id = _post_flag(client, world)
    login(client, world, "manager")
    page = client.get("/app/centre").text
    assert f'data-testid="item-{flag_id}"' in page
    assert "低体重" in page  # the alert-kind table's display text
    act = f"/app/centre/alert/{flag_id}"
    assert client.post(act, data={"action": "acknowledge"}).status_code == 200
    assert "已确认" in client.get("/app/centre").text
    client.post(act, data={"action": "note", "text": "已电话联系家长"})
    assert "已电话联系家长" in client.get("/app/centre").text
    filtered = client.get("/app/centre?kind=stunting").text
    assert f"item-{flag_id}" not in filtered
    r = client.post(
        act, data={"action": "refer", "text": "营养门诊", "refer_to": world.hospital_id}
    )
    assert r.status_code == 200
    assert f"item-{flag_id}" not in client.get("/app/centre").text  # reviewed: off the list
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        task = txn.read("Task", f"review-{flag_id}").resource
        sr = txn.search_params("ServiceRequest", [("subject", f"Patient/{world.child_id}")])
    # the pipeline's worklist operations did the writes: $note, $refer, then $resolve
    assert task["status"] == "completed"
    assert task["businessStatus"]["text"] == "resolved"
    assert task["note"][0]["text"] == "已电话联系家长"
    referral = task["output"][0]["valueReference"]["reference"]
    assert referral.startswith("ServiceRequest/")
    assert task["output"][-1]["valueString"] == f"referred: {referral}"
    [request] = [m.resource for m in sr.matches]
    assert request["note"][0]["text"] == "营养门诊"
    assert request["performer"][0]["reference"] == f"Organization/{world.hospital_id}"
    assert request["requester"]["reference"] == world.manager
    assert request["supportingInfo"][0]["reference"] == f"Flag/{flag_id}"
    login(client, world, "doctor")
    assert "营养门诊" in client.get("/app/doctor").text  # referral received


def test_manager_resolves_and_notes_need_text(site: tuple[TestClient, World]) -> None:
    client, world = site
    flag_id = _post_flag(client, world)
    login(client, world, "manager")
    act = f"/app/centre/alert/{flag_id}"
    assert client.post(act, data={"action": "note", "text": " "}).status_code == 400
    assert client.post(act, data={"action": "shout"}).status_code == 400
    assert client.post(act, data={"action": "refer", "text": "x"}).status_code == 400
    done = client.post(act, data={"action": "resolve", "text": "家长已带孩子复查"})
    assert done.status_code == 200
    assert f"item-{flag_id}" not in client.get("/app/centre").text
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        task = txn.read("Task", f"review-{flag_id}").resource
        flag = txn.read("Flag", flag_id).resource
    assert task["status"] == "completed"
    assert task["output"][-1]["valueString"] == "家长已带孩子复查"
    assert flag["status"] == "active"  # the Flag follows the condition, not the review


def test_manager_cannot_act_on_other_centres_children(site: tuple[TestClient, World]) -> None:
    client, world = site
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        # even a Task owned by the manager's own centre: the child is out of reach
        other = write_alert(txn, world.other_child_id, world.centre_id)
    login(client, world, "manager")
    assert f"item-{other}" not in client.get("/app/centre").text
    r = client.post(f"/app/centre/alert/{other}", data={"action": "resolve"})
    assert r.status_code == 404  # out of reach: not found, and nothing written
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        assert txn.read("Task", f"review-{other}").resource["status"] == "requested"


def test_daily_check_saves_one_transaction_or_nothing(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "manager")
    page = client.get("/app/centre/daily").text
    room = re.search(r'name="room" value="([^"]+)"', page)
    kids = re.findall(r'name="temp-([^"]+)"', page)
    assert room is not None
    assert kids
    count = _temperatures(client, kids[0])
    bad = client.post(
        "/app/centre/daily",
        data={"room": room.group(1), "day": "2026-11-20", f"temp-{kids[0]}": "36.6",
              f"temp-{kids[-1]}": "366"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "366" in bad.text
    assert _temperatures(client, kids[0]) == count
    ok = client.post(
        "/app/centre/daily",
        data={"room": room.group(1), "day": "2026-11-20", f"temp-{kids[0]}": "38.2",
              f"sym-{kids[0]}": ["cough", "rash"]},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303
    assert _temperatures(client, kids[0]) == count + 1


def _temperatures(client: TestClient, pid: str) -> int:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        found = txn.search_params(
            "Observation",
            [("subject", f"Patient/{pid}"), ("code", "8310-5"), ("_summary", "count")],
        )
    return int(found.total or 0)


def test_admission_list(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "manager")
    page = client.get("/app/centre/admission")
    assert page.status_code == 200
    assert f"/app/child/{world.child_id}" in page.text
    assert "非免疫规划疫苗" not in page.text


def test_products_recorded_and_not_counted_doses_shown(site: tuple[TestClient, World]) -> None:
    """A doctor may record the 5-in-1 and non-NIP products (vaccine-products table); the
    admission list shows a non-NIP dose as "not in the NIP schedule", with its date."""
    client, world = site
    login(client, world, "doctor")
    form = client.get(f"/app/doctor/visit/{world.child_id}")
    assert 'value="DTaP-IPV-Hib"' in form.text
    r = client.post(
        f"/app/doctor/visit/{world.child_id}",
        data={
            "visit_date": "2026-11-20", "visit_type": "12m", "weight_kg": "9.1",
            "vaccine": ["PCV13", "DTaP-IPV-Hib"], "dose": ["1", "1"], "lot": ["L1", "L2"],
        },
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text[:500]
    login(client, world, "manager")
    page = client.get("/app/centre/admission").text
    assert "PCV13 2026-11-20: 非免疫规划疫苗（不计入程序）" in page
    assert "DTaP-IPV-Hib 2026-11-20" not in page  # counted (or judged by the schedule)


def test_doctor_visit_saves_one_transaction(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "doctor")
    home = client.get("/app/doctor").text
    assert f"patient-{world.child_id}" in home
    form = client.get(f"/app/doctor/visit/{world.child_id}")
    assert form.status_code == 200
    assert "呼唤名字无反应" in form.text  # the warning-sign items of the questionnaire
    before = _count(client, world.child_id)
    bad = client.post(
        f"/app/doctor/visit/{world.child_id}",
        data={"visit_date": "2026-11-20", "visit_type": "12m", "weight_kg": "7400"},
    )
    assert bad.status_code == 400
    assert "超出可能范围" in bad.text
    assert _count(client, world.child_id) == before
    r = client.post(
        f"/app/doctor/visit/{world.child_id}",
        data={
            "visit_date": "2026-11-20", "visit_type": "12m", "weight_kg": "6.2",
            "length_cm": "74.5", "measure": "l", "temperature_c": "36.7", "hb_g_l": "104",
            "screened": "yes", "warning_item": ["12m-1"], "vaccine": ["MMR", ""],
            "dose": ["1", "1"], "lot": ["L1", ""], "findings": "体重偏低",
            "referral_to": world.hospital_id, "referral_reason": "营养评估",
            "confirm": "yes",  # the warnings (web/clinical.py) are tested in test_clinical.py
        },
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    after = _count(client, world.child_id)
    assert after["Encounter"] == before["Encounter"] + 1
    assert after["Observation"] == before["Observation"] + 5  # wt, len, temp, hb, findings
    assert after["Immunization"] == before["Immunization"] + 1
    assert after["QuestionnaireResponse"] == before["QuestionnaireResponse"] + 1
    assert after["ServiceRequest"] == before["ServiceRequest"] + 1


def _count(client: TestClient, pid: str) -> dict[str, int]:
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        items = txn.everything(pid)
    out = dict.fromkeys(
        ("Encounter", "Observation", "Immunization", "QuestionnaireResponse", "ServiceRequest"), 0
    )
    for s in items:
        if s.resource_type in out:
            out[s.resource_type] += 1
    return out


def test_doctor_records_a_tuberculin_skin_test(site: tuple[TestClient, World]) -> None:
    """The visit form's PPD/TST field (阴性/阳性) writes one hb-tb-skin-test Observation that
    the rules read as negative (BCG catch-up from 3 months needs one); a forged value is
    refused inline and nothing is written."""
    client, world = site
    login(client, world, "doctor")
    form = client.get(f"/app/doctor/visit/{world.child_id}")
    assert "结核菌素试验 (PPD/TST)" in form.text
    assert 'value="negative"' in form.text
    before = _count(client, world.child_id)
    bad = client.post(
        f"/app/doctor/visit/{world.child_id}",
        data={"visit_date": "2026-11-20", "visit_type": "12m", "tb_test": "maybe"},
    )
    assert bad.status_code == 400
    assert "结核菌素试验结果只能是阴性或阳性" in bad.text
    assert _count(client, world.child_id) == before
    r = client.post(
        f"/app/doctor/visit/{world.child_id}",
        data={"visit_date": "2026-11-20", "visit_type": "12m", "tb_test": "negative"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    assert _count(client, world.child_id)["Observation"] == before["Observation"] + 1
    with client.app.state.repository.transaction(SYSTEM_CONTEXT) as txn:  # type: ignore[attr-defined]
        stored = [s.resource for s in txn.everything(world.child_id)]
    tests = [o for o in stored if o and facts.rule_code(o) == facts.TB_SKIN_TEST]
    assert [facts.tb_test_result(o) for o in tests] == [True]
