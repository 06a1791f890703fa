"""The three roles' main journey in headless Chromium (Debian's, driven by Playwright).

A paediatrician records a visit with a low weight → the health manager sees the alert on the
worklist → resolves it with a referral → the parent sees the chart with the new point → the
district official reads the district's figures (and on a phone, in English).

The alert step: the clinical pipeline (on, with the default rule set) writes the alert Flag and
its review Task when the visit is saved; :func:`alert_for` finds them (and only if a rule
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

    from healthbridge.api.app import create_app
    from healthbridge.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("browser"), demo_login=True)
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
