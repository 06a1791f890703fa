"""The child's page after a save in the default (outbox) mode (issue 19): it waits a bounded
time for the child's queued evaluation, and when the results are still being calculated it
says so (zh, en) instead of showing the alerts of before as current; the centre's worklist
says how many children's new alerts are still to come."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.web.common import today
from tests.healthbridge.web.test_pages import login
from tests.healthbridge.web.world import World, build_world
from tests.settle import settle

RULESET = "cn-child-health@2026.1/CN"
PENDING = 'data-testid="results-pending"'
UNDERWEIGHT = 'data-testid="alert-underweight"'


def _site(app_factory: Any, **settings: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(
        demo_login=True, environment="development", clinical_ruleset=RULESET, **settings
    )
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        settle(app)  # the demo district's own results
        yield client, world


@pytest.fixture
def stalled(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    """No worker at all (no thread, no worker process) and no page wait: what a page shows
    while the results are queued."""
    yield from _site(app_factory, pipeline_worker_thread=False, pipeline_page_wait_seconds=0)


@pytest.fixture
def served(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    """The default settings (the outbox and the server's worker thread); the page's wait is
    generous here only so that a loaded test machine does not end it early."""
    yield from _site(app_factory, pipeline_page_wait_seconds=60)


def _save_low_weight(client: TestClient, world: World) -> Any:
    form = {
        "visit_date": today().isoformat(),
        "visit_type": "12m",
        "weight_kg": "6.3",
        "confirm": "yes",  # far below the last weight: the doctor confirms
    }
    saved = client.post(f"/app/doctor/visit/{world.child_id}", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:800]
    return saved


def test_queued_results_are_announced_not_hidden(stalled: tuple[TestClient, World]) -> None:
    client, world = stalled
    login(client, world, "doctor")
    page = client.get(f"/app/child/{world.child_id}").text
    assert PENDING not in page  # nothing queued for this child
    landed = client.get(_save_low_weight(client, world).headers["location"]).text
    assert PENDING in landed
    assert "评估结果正在计算，请稍后刷新本页。" in landed
    assert 'data-testid="alerts-pending"' in landed
    assert UNDERWEIGHT not in landed  # not evaluated yet
    english = client.get(f"/app/child/{world.child_id}?lang=en").text
    assert "The assessment results are still being calculated" in english
    login(client, world, "manager")  # the child's centre: the worklist says new alerts follow
    worklist = client.get("/app/centre?lang=zh").text
    assert "1 名儿童的最新记录正在评估" in worklist
    settle(client.app)  # type: ignore[arg-type]  # a worker has evaluated the visit
    assert PENDING not in client.get("/app/centre").text
    page = client.get(f"/app/child/{world.child_id}").text
    assert PENDING not in page
    assert UNDERWEIGHT in page


def test_the_page_after_a_save_shows_the_new_alert(served: tuple[TestClient, World]) -> None:
    client, world = served
    login(client, world, "doctor")
    landed = client.get(_save_low_weight(client, world).headers["location"]).text
    assert PENDING not in landed  # the page waited for the worker thread
    assert UNDERWEIGHT in landed


def test_a_child_out_of_reach_is_refused_before_any_wait(
    app_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's wait must not tell a user who cannot see a child that the child's record was
    just written: the reach check comes first, and nobody waits for a child out of reach."""
    from healthbridge.demo.load import DEMO_CONTEXT
    from healthbridge.pipeline import pending as pending_module
    from tests import factories as f

    waits: list[float] = []
    real = pending_module.wait_for_children

    def recorded(repository: Any, child_ids: Any, seconds: float) -> set[str]:
        waits.append(seconds)
        return real(repository, child_ids, 0.0)  # never sleep in the test

    monkeypatch.setattr(pending_module, "wait_for_children", recorded)
    for client, world in _site(
        app_factory, pipeline_worker_thread=False, pipeline_page_wait_seconds=30
    ):
        repo = client.app.state.repository  # type: ignore[attr-defined]
        with repo.transaction(DEMO_CONTEXT, write=True) as txn:  # queued: no worker runs
            txn.create(f.observation(f"Patient/{world.other_child_id}", date=today().isoformat()))
        login(client, world, "parent")  # not this child's parent
        waits.clear()
        refused = client.get(f"/app/child/{world.other_child_id}")
        assert refused.status_code == 404
        assert all(seconds == 0 for seconds in waits), waits  # looked, did not wait
        waits.clear()
        login(client, world, "manager")  # the other child's centre is not hers either
        assert client.get(f"/app/child/{world.other_child_id}").status_code == 404
        assert all(seconds == 0 for seconds in waits), waits
