"""Browser: a parent's sick leave handled by the health manager on a phone (ask back, then
confirm), the parent seeing the status in Chinese and English; a high-severity alert reaching
the health manager's open page through the websocket, without a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from healthbridge.notify.messages import CS_TOPIC
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from healthbridge.web.pages_signin import DEMO_PASSWORD
from tests.healthbridge.web.test_browser import (  # noqa: F401  (fixtures)
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


def test_leave_handled_and_alert_live(
    server: tuple[str, World, Repository],  # noqa: F811
    browser: Any,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    base, world, repo = server
    kid = world.child_id
    parent = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    password_login(parent, base, world.parent.split("/")[-1], DEMO_PASSWORD)
    parent.locator(f"#leave-{kid} summary").click()
    parent.locator(f"#leave-{kid} input[value=sick]").check()
    parent.fill(f"#leave-{kid} textarea[name=text]", "发烧 38.8 °C，咳嗽，下午去医院")
    parent.locator(f"#leave-{kid} button").click()
    parent.wait_for_load_state()
    assert "请假已提交" in parent.content()

    staff = browser.new_page(viewport=PHONE, locale="zh-CN", device_scale_factor=1)
    login(staff, base, world.manager)
    staff.goto(f"{base}/app/centre/leave")
    row = staff.locator("ul.leave-requests > li.pending").first
    assert "发烧 38.8 °C" in row.inner_text()
    assert "病假" in row.inner_text()
    row.locator("summary").click()
    row.locator("textarea[name=text]").fill("")
    row.locator("form.ask button").click()  # empty question: refused on the row
    staff.wait_for_load_state()
    row = staff.locator("ul.leave-requests > li.pending").first
    assert "请填写要问的问题" in row.inner_text()
    row.locator("textarea[name=text]").fill("看医生后请告诉我们诊断。")
    row.locator("form.ask button").click()
    staff.wait_for_load_state()
    snap(staff, shots, "leave-1-staff-asked-phone-zh")
    staff.locator("ul.leave-requests > li.pending").first.locator("button.big").click()
    staff.wait_for_load_state()
    assert "缺勤已登记" in staff.content()
    snap(staff, shots, "leave-2-staff-confirmed-phone-zh")
    staff.goto(f"{base}/app/centre/leave?lang=en")
    assert "Leave requests" in staff.content()
    snap(staff, shots, "leave-3-staff-phone-en")

    # a high-severity alert reaches the open page through the websocket (no reload)
    staff.wait_for_function(
        "document.querySelector('[data-live]').dataset.liveState === 'open'", timeout=15000
    )
    msg = {
        "resourceType": "Communication", "status": "completed", "priority": "urgent",
        "category": [{"coding": [{"system": CS_TOPIC, "code": "high-alert"}]}],
        "subject": {"reference": f"Patient/{kid}"},
        "recipient": [{"reference": f"Organization/{world.centre_id}"}],
        "payload": [{"contentString": "高优先级提醒：测试儿童，高热 40.1 °C。"},
                    {"contentString": "High-priority alert: test child, fever 40.1 °C."}],
    }  # fmt: skip
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.create(msg)
    alert = staff.locator("#live-alerts .live-alert")
    alert.wait_for(timeout=30000)  # one delivery round (10 s by default)
    assert "fever 40.1 °C" in alert.inner_text()
    snap(staff, shots, "leave-4-live-alert-phone-en")

    parent.goto(f"{base}/app/parent")
    parent.locator(f"#leave-{kid} summary").click()
    leaves = parent.locator(f"#leave-{kid} ul.leaves")
    assert "已确认" in leaves.inner_text()
    assert "老师询问： 看医生后请告诉我们诊断。" in leaves.inner_text()
    leaves.scroll_into_view_if_needed()
    snap(parent, shots, "leave-5-parent-status-phone-zh")
    parent.goto(f"{base}/app/parent?lang=en")
    parent.locator(f"#leave-{kid} summary").click()
    leaves = parent.locator(f"#leave-{kid} ul.leaves")
    assert "accepted" in leaves.inner_text()
    leaves.scroll_into_view_if_needed()
    snap(parent, shots, "leave-6-parent-status-phone-en")
    staff.close()
    parent.close()
