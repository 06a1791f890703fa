"""``healthbridge evaluate`` publishes the same vaccination forecasts as the write path."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import RULESET, search, today
from tests.healthbridge.pipeline.test_batch import load_demo, repository_for  # noqa: F401


def _forecasts(client: TestClient) -> dict[str, dict[str, Any]]:
    """Every stored forecast by id, without ``meta`` (what the two paths must agree on)."""
    return {
        r["id"]: {k: v for k, v in r.items() if k != "meta"}
        for r in search(client, "ImmunizationRecommendation")
    }


def test_batch_forecasts_equal_the_write_path(
    pclient: TestClient,
    repository_for: Repository,  # noqa: F811
) -> None:
    load_demo(pclient, 20)
    written = _forecasts(pclient)  # by the write path, as the district was posted today
    assert len(written) == 20
    assert all(rid.startswith("forecast-") for rid in written)
    rules = parse_ruleset_key(RULESET)
    # the batch computes the same resources: nothing to write
    assert evaluate_database(repository_for, rules, today()).forecasts == 0
    assert _forecasts(pclient) == written
    # without them, the batch publishes them all, identical, under the same ids
    for rid in written:
        assert pclient.delete(f"/fhir/ImmunizationRecommendation/{rid}").status_code in (200, 204)
    assert _forecasts(pclient) == {}
    assert evaluate_database(repository_for, rules, today(), dry_run=True).forecasts == 20
    assert _forecasts(pclient) == {}  # a dry run writes nothing
    assert evaluate_database(repository_for, rules, today()).forecasts == 20
    assert _forecasts(pclient) == written
    # idempotent: a second evaluation writes nothing
    assert evaluate_database(repository_for, rules, today()).forecasts == 0


def test_batch_forecasts_follow_the_calendar(
    pclient: TestClient,
    repository_for: Repository,  # noqa: F811
) -> None:
    """Doses become due and overdue with the days alone: the nightly batch rewrites them."""
    load_demo(pclient, 8)
    rules = parse_ruleset_key(RULESET)
    later = today() + dt.timedelta(days=400)
    assert evaluate_database(repository_for, rules, later).forecasts > 0
    after = _forecasts(pclient)
    assert {r["date"][:10] for r in after.values()} <= {later.isoformat(), today().isoformat()}
    statuses = {
        item["forecastStatus"]["coding"][0]["code"]
        for r in after.values()
        for item in r["recommendation"]
    }
    assert "overdue" in statuses
    assert evaluate_database(repository_for, rules, later).forecasts == 0
