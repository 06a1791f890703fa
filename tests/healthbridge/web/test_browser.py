"""The three roles' main journey in headless Chromium (Debian's, driven by Playwright).

A paediatrician records a visit with a low weight → the health manager sees the alert on the
worklist → resolves it with a referral → the parent sees the chart with the new point and who
viewed or changed the record → the district official reads the district's figures (and on a
phone, in English).

The alert step: the clinical pipeline (on, with the default rule set and the default outbox
mode) writes the alert Flag and its review Task once the visit is saved — the child's page the
paediatrician lands on waits for them; :func:`alert_for` finds them (and only if a rule
change made the pipeline quiet, writes an alert the way the pipeline does).

Screenshots go to ``$HEALTHBRIDGE_SCREENSHOTS`` (``docs/screenshots`` to refresh the README's)
or to the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.web.pages_signin import DEMO_OFFICIAL, DEMO_PASSWORD
from tests.healthbridge.web.world import World, build_world, write_alert
from tests.settle import settle

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World, Repository]]:
    """uvicorn on a free loopback port serving a 30-child demo district (SQLite)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Debian chromium is missing in CI (scripts/test installs it)")
        pytest.skip("Debian chromium is not installed (scripts/test installs it)")
    import uvicorn

    from healthbridge.config import Settings
    from healthbridge.server.app import create_app

    # the default pipeline (outbox, the server's worker thread); the child's page waits for a
    # save's results — generously here, for a loaded test machine
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("browser"), demo_login=True, pipeline_page_wait_seconds=60
    )
    app = create_app(settings)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    repo: Repository = app.state.repository
    world = build_world(repo, children=30)
    settle(app)  # the demo district's own scores and alerts, before the journeys
    from healthbridge.commands.user import create_demo_accounts

    create_demo_accounts(repo)  # the parent signs in with a password
    try:
        yield f"http://127.0.0.1:{port}", world, repo
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("HEALTHBRIDGE_SCREENSHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page: Any, folder: Path, name: str) -> None:
    """A small PNG of the viewport (palette-quantised, optimised)."""
    from PIL import Image

    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def login(page: Any, base: str, who: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/app/login")
    page.click(f'[data-testid="demo-{who}"]')
    page.wait_for_load_state()


def password_login(page: Any, base: str, username: str, password: str) -> None:
    """Sign in on the login page's username/password form."""
    page.context.clear_cookies()
    page.goto(f"{base}/app/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click('[data-testid="password-submit"]')
    page.wait_for_load_state()


def alert_for(repo: Repository, child_id: str, centre_id: str) -> str:
    """The child's active underweight alert: the pipeline's, else one written as it would."""
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        flags = [
            s.resource
            for s in txn.search_params("Flag", [("patient", f"Patient/{child_id}")]).matches
            if s.resource and s.resource["status"] == "active"
        ]
        low = [f for f in flags if f["code"]["coding"][0]["code"] == "underweight"]
        if low:
            return str(low[0]["id"])
        return write_alert(txn, child_id, centre_id, start=time.strftime("%Y-%m-%d"))


def image_shown(page: Any, testid: str) -> bool:
    """Whether the page's image loaded and decoded (a broken image has no natural width)."""
    image = page.locator(f'[data-testid="{testid}"]')
    image.scroll_into_view_if_needed()
    return bool(image.evaluate("i => i.complete && i.naturalWidth > 0"))


def chart_points(page: Any, base: str, child_id: str) -> int:
    """Vertices of the child's line in the weight-for-age SVG the page shows."""
    svg = page.request.get(f"{base}/app/chart/{child_id}/wfa.svg").text()
    group = svg[svg.index('id="child"') :]
    path = re.search(r' d="([^"]+)"', group)
    assert path is not None
    return path.group(1).count("L") + 1


def test_journey(server: tuple[str, World, Repository], browser: Any, shots: Path) -> None:
    base, world, repo = server
    desk = browser.new_page(viewport=DESKTOP, locale="zh-CN")
    desk.goto(f"{base}/app/login")
    snap(desk, shots, "01-login")

    # 1. The paediatrician records a visit with a low weight.
    login(desk, base, world.doctor)
    assert desk.url.endswith("/app/doctor")
    snap(desk, shots, "02-doctor-home")
    before = chart_points(desk, base, world.child_id)
    desk.fill('[data-testid="doctor-search"]', world.child_id)  # the list is paged: find
    desk.press('[data-testid="doctor-search"]', "Enter")
    desk.wait_for_load_state()
    desk.click(f'[data-testid="patient-{world.child_id}"]')
    desk.click('[data-testid="new-visit"]')
    desk.fill('input[name="temperature_c"]', "36.6")
    desk.fill('input[name="weight_kg"]', "6300")  # a typing error first: refused, nothing saved
    desk.click('[data-testid="save-visit"]')
    assert desk.locator('[role="alert"]').first.is_visible()
    snap(desk, shots, "03-visit-form-error")
    desk.fill('input[name="weight_kg"]', "6.3")
    desk.fill('textarea[name="findings"]', "体重明显偏低，建议营养评估")
    desk.click('[data-testid="save-visit"]')
    desk.wait_for_load_state()
    if desk.locator('[data-testid="confirm-warnings"]').count():  # far from the last weight
        snap(desk, shots, "03b-visit-warnings")
        desk.check('[data-testid="confirm-warnings"]')
        desk.click('[data-testid="save-visit"]')
    desk.wait_for_url(re.compile(r"/app/child/.+saved=1"))
    snap(desk, shots, "04-doctor-child-record")
    assert chart_points(desk, base, world.child_id) == before + 1

    # 2. The health manager sees the alert and resolves it with a referral.
    flag_id = alert_for(repo, world.child_id, world.centre_id)
    login(desk, base, world.manager)
    item = desk.locator(f'[data-testid="item-{flag_id}"]')
    assert item.is_visible()
    snap(desk, shots, "05-manager-worklist")
    item.locator("summary").click()  # the actions fold away on the phone-sized worklist
    item.locator('input[name="text"]').fill("转妇幼保健院营养门诊")
    item.locator('select[name="refer_to"]').select_option(world.hospital_id)
    desk.click(f'[data-testid="refer-{flag_id}"]')
    desk.wait_for_load_state()
    assert desk.locator(f'[data-testid="item-{flag_id}"]').count() == 0
    desk.goto(f"{base}/app/centre/daily")
    snap(desk, shots, "06-manager-daily-check")
    desk.goto(f"{base}/app/centre/admission")
    snap(desk, shots, "07-manager-admission-check")

    # 3. The paediatrician's hospital received the referral.
    login(desk, base, world.doctor)
    assert "转妇幼保健院营养门诊" in desk.locator('[data-testid="referral"]').first.inner_text()

    # 4. The parent, on a phone, signs in with a password and sees the chart with the new point.
    phone = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    username = world.parent.split("/")[-1]  # the demo account of this RelatedPerson
    password_login(phone, base, username, "not-the-password")
    assert "用户名或密码不正确" in phone.locator('[data-testid="login-error"]').inner_text()
    assert phone.input_value("#username") == username  # what was typed is kept
    snap(phone, shots, "08a-parent-login-phone")
    password_login(phone, base, username, DEMO_PASSWORD)
    assert phone.url.endswith("/app/parent")
    snap(phone, shots, "08-parent-home-phone")
    phone.click(f'[data-testid="child-{world.child_id}"]')
    assert phone.locator('[data-testid="chart"]').is_visible()
    assert chart_points(phone, base, world.child_id) == before + 1
    phone.locator('[data-testid="chart"]').scroll_into_view_if_needed()
    snap(phone, shots, "09-parent-child-chart-phone")
    phone.goto(f"{base}/app/child/{world.child_id}?lang=en")
    assert "Vaccinations" in phone.content()
    phone.locator("#consents").scroll_into_view_if_needed()
    snap(phone, shots, "10-parent-child-english-phone")
    # the guardian's rights: who viewed or changed the record (the paediatrician's visit)
    phone.goto(f"{base}/app/child/{world.child_id}?lang=zh")
    phone.click('[data-testid="rights-link"]')
    phone.wait_for_load_state()
    assert phone.locator('[data-testid="sharing"]').is_visible()
    snap(phone, shots, "10a-parent-rights-phone")
    phone.locator("#sharing").scroll_into_view_if_needed()
    snap(phone, shots, "10c-parent-sharing-phone")
    phone.click('[data-testid="access-log-link"]')
    phone.wait_for_load_state()
    log = phone.locator('[data-testid="access-log"]').inner_text()
    assert "儿科医生" in log  # the paediatrician who opened the child's record
    snap(phone, shots, "10b-parent-access-log-phone")
    phone.close()

    # 5. The district official reads the district's figures, then, on a phone, in English.
    login(desk, base, DEMO_OFFICIAL)
    assert desk.url.endswith("/app/district")
    assert desk.locator('[data-testid="prevalence"]').is_visible()
    assert image_shown(desk, "prevalence-chart")
    assert image_shown(desk, "coverage-chart")
    desk.evaluate("window.scrollTo(0, 0)")
    snap(desk, shots, "11-district-prevalence")
    desk.locator('[data-testid="coverage-chart"]').scroll_into_view_if_needed()
    snap(desk, shots, "12-district-coverage")
    desk.select_option('select[name="grouping"]', "sex")
    desk.click('[data-testid="district-apply"]')
    desk.wait_for_load_state()
    assert "男童" in desk.locator('[data-testid="prevalence"]').inner_text()
    desk.close()
    phone = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    login(phone, base, DEMO_OFFICIAL)
    phone.click('[data-testid="lang"]')
    phone.wait_for_load_state()
    assert "Nutrition prevalence" in phone.content()
    assert image_shown(phone, "prevalence-chart")
    phone.evaluate("window.scrollTo(0, 0)")
    snap(phone, shots, "13-district-english-phone")
    phone.evaluate("document.getElementById('vaccination').scrollIntoView()")
    snap(phone, shots, "14-district-vaccination-phone")
    phone.close()


def test_managed_case_journey(
    server: tuple[str, World, Repository], browser: Any, shots: Path
) -> None:
    """A managed case (体弱儿专案管理) from enrolment to closure on phones: the paediatrician
    enrols the child and later records a follow-up and closes the case; the health manager
    and the parent see the open case and its next follow-up date."""
    import datetime as dt

    from healthbridge.web.common import today

    base, world, _repo = server
    pid = world.child_id
    start = today() - dt.timedelta(days=60)
    due = start + dt.timedelta(days=28)  # anaemia: Hb re-check after 4 weeks
    phone = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)

    # 1. The paediatrician enrols the child for anaemia from the child page.
    login(phone, base, world.doctor)
    phone.goto(f"{base}/app/child/{pid}#cases")
    enrol = phone.locator('[data-testid="case-enrol"]')
    enrol.locator('select[name="condition"]').select_option("anaemia")
    enrol.locator('input[name="start"]').fill(start.isoformat())
    enrol.locator("button").click()
    phone.wait_for_load_state()
    cases = phone.locator('[data-testid="cases"]')
    assert "营养性缺铁性贫血" in cases.inner_text()
    assert due.isoformat() in cases.inner_text()
    assert "随访已逾期" in cases.inner_text()
    cases.scroll_into_view_if_needed()
    snap(phone, shots, "20-case-enrolled-doctor-phone")

    # 2. The health manager sees the open case (no forms) and the alert.
    login(phone, base, world.manager)
    phone.goto(f"{base}/app/child/{pid}#cases")
    cases = phone.locator('[data-testid="cases"]')
    assert "营养性缺铁性贫血" in cases.inner_text()
    assert phone.locator('[data-testid="case-enrol"]').count() == 0
    assert "专案随访逾期" in phone.content()
    cases.scroll_into_view_if_needed()
    snap(phone, shots, "21-case-manager-phone")

    # 3. The parent sees that a case is open and the next follow-up date.
    password_login(phone, base, world.parent.split("/")[-1], DEMO_PASSWORD)
    notice = phone.locator('[data-testid="parent-case"]')
    assert f"下次随访：{due.isoformat()}" in notice.inner_text()
    notice.scroll_into_view_if_needed()
    snap(phone, shots, "22-case-parent-phone")

    # 4. The paediatrician records today's follow-up, then closes the case as cured.
    login(phone, base, world.doctor)
    phone.goto(f"{base}/app/child/{pid}#cases")
    phone.locator('[data-testid="case-follow-up"] button').first.click()
    phone.wait_for_load_state()
    cases = phone.locator('[data-testid="cases"]')
    assert (today() + dt.timedelta(days=30)).isoformat() in cases.inner_text()
    assert "随访已逾期" not in cases.inner_text()
    cases.scroll_into_view_if_needed()
    snap(phone, shots, "23-case-follow-up-doctor-phone")
    close = phone.locator('[data-testid="case-close"]').first
    close.locator('select[name="outcome"]').select_option("cured")
    close.locator("button").click()
    phone.wait_for_load_state()
    cases = phone.locator('[data-testid="cases"]')
    assert "已结案" in cases.inner_text()
    assert "治愈" in cases.inner_text()
    cases.scroll_into_view_if_needed()
    snap(phone, shots, "24-case-closed-doctor-phone")

    # 5. The parent no longer reads an open case.
    password_login(phone, base, world.parent.split("/")[-1], DEMO_PASSWORD)
    assert phone.locator('[data-testid="parent-case"]').count() == 0


def test_centre_day(server: tuple[str, World, Repository], browser: Any, shots: Path) -> None:
    """The health manager's day on a phone: check-in, a morning check with a typo (every row
    kept), an absent child followed up."""
    base, world, _repo = server
    phone = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    login(phone, base, world.manager)
    pid = world.child_id
    # 0. The worklist on a phone: counts, kind filters, alerts grouped by child.
    phone.goto(f"{base}/app/centre")
    assert phone.locator('[data-testid="worklist-counts"]').is_visible()
    snap(phone, shots, "19-manager-worklist-phone")
    # 1. Check-in on the class page.
    phone.goto(f"{base}/app/centre/attendance")
    assert f"child-{pid}" in phone.locator('[data-testid="followup"]').inner_html()
    phone.click(f'[data-testid="checkin-{pid}"]')
    phone.wait_for_load_state()
    assert phone.url.endswith(f"#child-{pid}")
    assert "入园" in phone.locator(f'[data-testid="state-{pid}"]').inner_text()
    assert f"child-{pid}" not in phone.locator('[data-testid="followup"]').inner_html()
    phone.evaluate("window.scrollTo(0, 0)")
    snap(phone, shots, "15-manager-attendance-phone")
    # 2. The morning check with a typo: the other rows are kept, the error is on its row.
    phone.goto(f"{base}/app/centre/daily?session=morning")
    temps = phone.locator('input[name^="temp-"]')
    names = [temps.nth(i).get_attribute("name") for i in range(temps.count())]
    assert names
    typo = names[-1]
    for name in names:
        phone.fill(f'input[name="{name}"]', "36.6")
    phone.fill(f'input[name="{typo}"]', "366")
    phone.click('[data-testid="save-check"]')
    phone.wait_for_load_state()
    assert phone.locator(f'input[name="{typo}"]').input_value() == "366"
    assert all(phone.locator(f'input[name="{n}"]').input_value() == "36.6" for n in names[:-1])
    row_error = phone.locator(f"#err-{typo.removeprefix('temp-')}")
    assert row_error.is_visible()
    row_error.scroll_into_view_if_needed()
    snap(phone, shots, "16-manager-daily-check-typo-phone")
    phone.fill(f'input[name="{typo}"]', "36.8")
    phone.click('[data-testid="save-check"]')
    phone.wait_for_load_state()
    assert "saved=" in phone.url
    assert (
        f"已检 {len(names)}/{len(names)}" in phone.locator('[data-testid="progress"]').inner_text()
    )
    # 3. An absent child followed up: the cause, symptoms, diagnosis and return date.
    phone.goto(f"{base}/app/centre/attendance")
    todo = phone.locator('[data-testid="followup"] a')
    assert todo.count() > 0
    href = str(todo.first.get_attribute("href"))
    absent = href.split("#child-")[1]
    phone.goto(f"{base}{href}")
    phone.locator(f"#child-{absent} summary").click()
    form = phone.locator(f'[data-testid="absence-{absent}"]')
    form.locator('select[name="reason"]').select_option("sick")
    form.locator('input[value="fever"]').check()
    form.locator('input[name="diagnosis"]').fill("上呼吸道感染")
    form.locator("button").click()
    phone.wait_for_load_state()
    assert "上呼吸道感染" in phone.locator(f'[data-testid="state-{absent}"]').inner_text()
    assert f"child-{absent}" not in phone.locator('[data-testid="followup"]').inner_html()
    phone.locator(f"#child-{absent}").scroll_into_view_if_needed()
    snap(phone, shots, "17-manager-absence-followed-up-phone")
    # The admission check as work: the children needing action first, each with its next step.
    phone.goto(f"{base}/app/centre/admission")
    assert phone.locator('[data-testid^="admission-"]').count() > 0
    snap(phone, shots, "20-manager-admission-phone")
    # 4. The district official sees the sick absence by class and cause (one child: <3).
    login(phone, base, DEMO_OFFICIAL)
    phone.click('[data-testid="absence-link"]')
    phone.wait_for_load_state()
    assert phone.locator('[data-testid="suppressed-cell"]').count() >= 1
    snap(phone, shots, "18-district-sick-absence-phone")
    phone.close()


def _room_of(repo: Repository, child_id: str) -> str:
    from healthbridge.charts.summary import enrolment

    with repo.transaction(SYSTEM_CONTEXT) as txn:
        room = enrolment(txn.read("Patient", child_id).resource or {})[1]
    assert room is not None
    return room


def test_centre_day_seen_live_by_the_parent(
    server: tuple[str, World, Repository], browser: Any, shots: Path
) -> None:
    """A centre's day: the class care log on a phone-sized tablet view (a typo first, kept
    and shown on its row), the parent watching the day on a phone without reloading — a
    fever at the morning check appears with its temperature and time — in Chinese and in
    English, and a leave request sent from the phone."""
    base, world, repo = server
    room, kid = _room_of(repo, world.child_id), world.child_id

    # The parent opens the phone page first and keeps it open.
    parent = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    password_login(parent, base, world.parent.split("/")[-1], DEMO_PASSWORD)
    today_list = parent.locator(f'[data-testid="today-{kid}"]')
    today_list.scroll_into_view_if_needed()

    # The teacher logs lunch, nap and outdoor time for the class; a typo is kept on its row.
    staff = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    login(staff, base, world.manager)
    staff.goto(f"{base}/app/centre/care?room={room}&meal=lunch")
    staff.select_option(f'select[name="amount-{kid}"]', "most")
    staff.fill(f'input[name="nap_from-{kid}"]', "12:30")
    staff.fill(f'input[name="nap_to-{kid}"]', "14:40")
    staff.fill(f'input[name="outdoor-{kid}"]', "4O")  # the letter O: refused on its row
    staff.click("button.save")
    row = staff.locator(f'[data-testid="care-row-{kid}"]')
    assert "0–600" in row.inner_text()
    assert staff.input_value(f'input[name="nap_from-{kid}"]') == "12:30"  # input kept
    assert staff.input_value(f'input[name="outdoor-{kid}"]') == "4O"
    snap(staff, shots, "day-1-care-log-error-phone")
    staff.fill(f'input[name="outdoor-{kid}"]', "40")
    staff.click("button.save")
    assert staff.locator('[data-testid="care-saved"]').is_visible()
    snap(staff, shots, "day-2-care-log-saved-phone")

    # The morning check finds a high fever; the health manager's open page counts it.
    staff.goto(f"{base}/app/centre/daily?room={room}")
    staff.fill(f'input[name="temp-{kid}"]', "39.2")
    staff.locator('form[method="post"] button').last.click()
    staff.wait_for_load_state()
    staff.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    badge = staff.locator('[data-testid="inbox-link"] .badge')
    badge.wait_for(state="visible", timeout=10000)
    assert int(badge.inner_text()) >= 1

    # The parent's open page shows the day without a reload (the poll runs when the page
    # becomes visible, and every 30 s).
    parent.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    fever = parent.locator(f'[data-testid="today-{kid}"] li.ev-temperature.alert')
    fever.wait_for(timeout=10000)
    assert "39.2 °C · 发热" in fever.inner_text()
    at = re.search(r"\d\d:\d\d", fever.inner_text())
    assert at is not None
    notice = parent.locator(f'[data-testid="inbox-{kid}"] li.ev-msg-fever')
    notice.wait_for(timeout=10000)  # the fever notice: temperature, time, what to do
    assert "39.2 °C" in notice.inner_text()
    assert at.group(0) in notice.inner_text()  # the time of the check on the timeline
    assert "就医" in notice.inner_text()
    text = today_list.inner_text()
    assert "吃了大部分" in text
    assert "12:30–14:40" in text
    assert "40 分钟" in text
    parent.locator(f'[data-testid="inbox-{kid}"]').scroll_into_view_if_needed()
    snap(parent, shots, "day-3-parent-today-phone")

    # In English, and a leave request for tomorrow.
    parent.click('[data-testid="lang"]')
    parent.wait_for_load_state()
    assert "39.2 °C · fever" in parent.locator(f'[data-testid="today-{kid}"]').inner_text()
    assert "see a doctor" in parent.locator(f'[data-testid="inbox-{kid}"]').inner_text()
    parent.locator(f"#leave-{kid} summary").click()
    parent.locator(f"#leave-{kid} input[value=sick]").check()
    parent.fill(f"#leave-{kid} textarea[name=text]", "Fever 39.2, seeing the doctor")
    parent.locator(f"#leave-{kid} button").click()
    parent.wait_for_load_state()
    assert "Sent; the centre will see it." in parent.content()
    parent.locator(f"#leave-{kid}").scroll_into_view_if_needed()
    snap(parent, shots, "day-4-parent-leave-english-phone")
    staff.close()
    parent.close()


def test_clinical_view_and_referral_answer(
    server: tuple[str, World, Repository], browser: Any, shots: Path
) -> None:
    """The paediatrician reads z-scores and answers a referral; the parent sees the plan."""
    base, world, repo = server
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        txn.update("ServiceRequest", "ref-journey", {
            "resourceType": "ServiceRequest", "id": "ref-journey", "status": "active",
            "intent": "order", "code": {"text": "贫血复查"},
            "subject": {"reference": f"Patient/{world.child_id}"},
            "authoredOn": time.strftime("%Y-%m-%dT09:00:00+08:00"),
            "performer": [{"reference": f"Organization/{world.hospital_id}"}],
        })  # fmt: skip
    desk = browser.new_page(viewport=DESKTOP, locale="zh-CN")
    login(desk, base, world.doctor)
    desk.goto(f"{base}/app/child/{world.child_id}")
    clinical = desk.locator('[data-testid="clinical"]')
    assert re.search(r"WAZ −?\d+\.\d\d · ", clinical.inner_text())
    clinical.scroll_into_view_if_needed()
    snap(desk, shots, "15-doctor-clinical-view")
    desk.goto(f"{base}/app/doctor")
    desk.click('[data-testid="open-referral-ref-journey"]')
    desk.click('[data-testid="referral-accept"]')
    desk.wait_for_load_state()
    assert "医院已接收" in desk.locator('[data-testid="referral-stage"]').inner_text()
    desk.fill('textarea[name="findings"]', "Hb 98 g/L，轻度贫血")
    desk.fill('textarea[name="plan"]', "口服铁剂 4 周，4 周后复查血红蛋白")
    follow = time.strftime("%Y-%m-%d", time.localtime(time.time() + 7 * 86400))
    desk.fill('input[name="follow_up"]', follow)
    snap(desk, shots, "16-doctor-referral-answer")
    desk.click('[data-testid="referral-answer"]')
    desk.wait_for_url(re.compile(r"/app/doctor\?answered=1"))
    desk.close()
    phone = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    login(phone, base, world.parent)
    phone.goto(f"{base}/app/child/{world.child_id}")
    plan = phone.locator('[data-testid="referral-answered"]')
    assert "口服铁剂 4 周" in plan.inner_text()
    assert follow in plan.inner_text()  # the follow-up date of the plan
    plan.scroll_into_view_if_needed()
    snap(phone, shots, "17-parent-plan-phone")
    phone.close()


def test_doctor_list_and_weekly_menu(
    server: tuple[str, World, Repository], browser: Any, shots: Path
) -> None:
    """The paediatrician's list (search, alerts first) and the centre's weekly menu: a typo
    kept with its message, saved, and today's menu on the parent's phone (zh and en)."""
    from healthbridge.web import menu
    from healthbridge.web.common import today

    base, world, _repo = server
    desk = browser.new_page(viewport=DESKTOP, locale="zh-CN")
    login(desk, base, world.doctor)
    assert desk.locator('[data-testid="doctor-counts"]').is_visible()
    snap(desk, shots, "21-doctor-list")
    phone = browser.new_page(viewport=PHONE, locale="en-GB", is_mobile=True)
    login(phone, base, world.doctor)
    phone.goto(f"{base}/app/doctor?lang=en&alerts=1")
    snap(phone, shots, "22-doctor-list-english-phone")
    phone.goto(f"{base}/app/doctor?lang=zh")

    login(desk, base, world.manager)
    desk.goto(f"{base}/app/centre/menu")
    lunch = menu.cell_name(today(), "lunch")
    snack = menu.cell_name(menu.monday(today()), "snack")
    desk.fill(f'[data-testid="{lunch}"]', "番茄炒蛋：番茄 40，鸡蛋 30\n米饭：大米 50")
    desk.fill(f'[data-testid="{snack}"]', "酸奶：酸奶 一杯")
    desk.click('[data-testid="menu-save"]')
    desk.wait_for_load_state()
    assert desk.locator(f'[data-testid="err-{snack}"]').is_visible()
    assert "番茄炒蛋" in desk.input_value(f'[data-testid="{lunch}"]')  # kept
    snap(desk, shots, "23-manager-menu-error")
    desk.fill(f'[data-testid="{snack}"]', "酸奶：酸奶 100")
    desk.click('[data-testid="menu-save"]')
    desk.wait_for_load_state()
    assert desk.locator('[data-testid="menu-saved"]').is_visible()
    mphone = browser.new_page(viewport=PHONE, locale="en-GB", is_mobile=True)
    login(mphone, base, world.manager)
    mphone.goto(f"{base}/app/centre/menu?lang=en")
    snap(mphone, shots, "24-manager-menu-english-phone")
    mphone.goto(f"{base}/app/centre/menu?lang=zh")

    pphone = browser.new_page(viewport=PHONE, locale="zh-CN", is_mobile=True)
    login(pphone, base, world.parent)
    if today().weekday() < menu.DAYS:
        found = pphone.locator(f'[data-testid="menu-today-{world.child_id}"]')
        found.scroll_into_view_if_needed()
        assert "番茄" in found.inner_text()
        snap(pphone, shots, "25-parent-today-menu-phone")
        pphone.goto(f"{base}/app/parent?lang=en")
        pphone.locator(f'[data-testid="menu-today-{world.child_id}"]').scroll_into_view_if_needed()
        snap(pphone, shots, "26-parent-today-menu-english-phone")
        pphone.goto(f"{base}/app/parent?lang=zh")
