"""Scheduled screenings on the pages: the doctor records results on the visit form (bad input
→ inline message keeping what was typed, nothing written), sees due/overdue screenings and the
latest results on the child's page; the parent reads the next screening in plain words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

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


def test_visit_records_screenings_and_the_pages_show_them(site: tuple[TestClient, World]) -> None:
    client, world = site
    login(client, world, "doctor")
    url = f"/app/doctor/visit/{world.child_id}"
    form = client.get(url).text
    assert "听力筛查" in form
    assert "儿心量表-II（WS/T 580-2017）" in form
    day = today().isoformat()
    bad = client.post(
        url,
        data={"visit_date": day, "visit_type": "12m", "hearing": "refer", "caries": "x1",
              "dev_dq": "65"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "龋齿数 应为数字。" in bad.text
    assert "填写了发育评估结果，请选择所用量表。" in bad.text
    assert 'value="x1"' in bad.text  # what was typed is kept
    assert '<option value="refer" selected>' in bad.text
    page = client.get(f"/app/child/{world.child_id}").text
    assert "未通过（转诊）" not in page  # nothing was written
    ok = client.post(
        url,
        data={"visit_date": day, "visit_type": "12m", "hearing": "refer", "caries": "0",
              "dev_instrument": "wst580", "dev_dq": "65", "confirm": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303, ok.text[:800]
    page = client.get(f"/app/child/{world.child_id}").text
    assert 'data-testid="screenings"' in page
    assert "筛查安排与结果" in page
    assert f"{day} · 未通过（转诊）" in page
    assert "DQ 65" in page
    assert "筛查结果异常" in page  # the screening-abnormal alert raised on write
    english = client.get(f"/app/child/{world.child_id}?lang=en").text
    assert "not passed (refer)" in english
    login(client, world, "parent")
    home = client.get("/app/parent").text
    assert "下次筛查" in home
    assert "要做：" in home or "还没有做" in home
