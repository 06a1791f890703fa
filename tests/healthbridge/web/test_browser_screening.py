"""Scheduled screenings in headless Chromium: the paediatrician records screening results on
the visit form (a refused input first, then saved) on a phone, in Chinese and English, sees
the screening table on the child's page; the parent reads the next screening on a phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from healthbridge.store.repository import Repository
from healthbridge.web.pages_signin import DEMO_PASSWORD
from tests.healthbridge.web.test_browser import (  # noqa: F401 (fixtures)
    DESKTOP,
    PHONE,
    browser,
    login,
    password_login,
    server,
    shots,
    snap,
)
from tests.healthbridge.web.world import World

pytestmark = pytest.mark.browser


def test_screening_journey(
    server: tuple[str, World, Repository],  # noqa: F811
    browser: Any,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    base, world, _repo = server
    phone = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    login(phone, base, world.doctor)
    phone.goto(f"{base}/app/doctor/visit/{world.child_id}")
    phone.select_option('[data-testid="screen-hearing"]', "refer")
    phone.fill('[data-testid="dev-dq"]', "65")  # a DQ without its instrument: refused
    phone.click('[data-testid="save-visit"]')
    assert phone.locator('[role="alert"]').first.is_visible()
    assert phone.input_value('[data-testid="dev-dq"]') == "65"  # kept
    snap(phone, shots, "30-visit-screening-error-phone")
    phone.locator('[data-testid="visit-screenings"]').scroll_into_view_if_needed()
    snap(phone, shots, "31-visit-screenings-phone")
    phone.goto(f"{base}/app/doctor/visit/{world.child_id}?lang=en")
    phone.locator('[data-testid="visit-development"]').scroll_into_view_if_needed()
    snap(phone, shots, "32-visit-screenings-phone-en")
    phone.goto(f"{base}/app/doctor/visit/{world.child_id}?lang=zh")
    phone.select_option('[data-testid="screen-hearing"]', "refer")
    phone.fill('[data-testid="screen-caries"]', "0")
    phone.select_option('[data-testid="dev-instrument"]', "wst580")
    phone.fill('[data-testid="dev-dq"]', "65")
    phone.click('[data-testid="save-visit"]')
    phone.wait_for_load_state()
    if phone.locator('[data-testid="confirm-warnings"]').count():
        phone.check('[data-testid="confirm-warnings"]')
        phone.click('[data-testid="save-visit"]')
    phone.wait_for_url(re.compile(r"/app/child/.+saved=1"))
    table = phone.locator('[data-testid="screenings"]')
    table.scroll_into_view_if_needed()
    assert "未通过（转诊）" in table.inner_text()
    snap(phone, shots, "33-child-screenings-phone")
    desk = browser.new_page(viewport=DESKTOP, locale="zh-CN")
    login(desk, base, world.doctor)
    desk.goto(f"{base}/app/child/{world.child_id}")
    desk.locator('[data-testid="screenings"]').scroll_into_view_if_needed()
    snap(desk, shots, "34-child-screenings")

    # The parent reads the next screening in plain words, in Chinese and in English.
    password_login(phone, base, world.parent.split("/")[-1], DEMO_PASSWORD)
    assert phone.url.endswith("/app/parent")
    sentence = phone.locator('[data-testid="next-screening-text"]').first
    sentence.scroll_into_view_if_needed()
    assert "筛查" in sentence.inner_text() or "检" in sentence.inner_text()
    snap(phone, shots, "35-parent-next-screening-phone")
    phone.goto(f"{base}/app/parent?lang=en")
    sentence = phone.locator('[data-testid="next-screening-text"]').first
    sentence.scroll_into_view_if_needed()
    snap(phone, shots, "36-parent-next-screening-phone-en")
    phone.goto(f"{base}/app/parent?lang=zh")
