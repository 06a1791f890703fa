"""Report dates outside the calendar the reports can compute with (issue 20 item 6): a clear
4xx from the API and the CSVs, an inline message on the district page — never a 5xx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.access.tokens import Role, mint_token
from tests import factories as f


@pytest.mark.parametrize(
    "url",
    [
        "/reports/coverage?as_of=0001-01-01",
        "/reports/prevalence?as_of=0001-01-05",
        "/reports/zscores?as_of=9999-12-31",
        "/reports/coverage?as_of=2026-01-01&period_start=0001-01-01",
        "/reports/prevalence/chart.png?as_of=0001-01-01",
        "/reports/coverage/chart.png?as_of=0001-01-01",
    ],
)
def test_api_refuses_dates_out_of_range(make_client: Callable[..., TestClient], url: str) -> None:
    client = make_client("district-official")
    got = client.get(url)
    assert got.status_code == 400, got.text[:300]
    body = got.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "1900-01-01" in body["issue"][0]["diagnostics"]


def test_page_and_csv_refuse_dates_out_of_range(app_factory: Any) -> None:
    token = mint_token(secret=f.TEST_SECRET, role=Role.DISTRICT_OFFICIAL, subject="official")
    with TestClient(app_factory(authenticated=True)) as client:
        client.cookies.set("healthbridge_token", token)
        page = client.get("/app/district?as_of=0001-01-01")
        assert page.status_code == 400, page.text[:300]
        assert 'data-testid="district-date-error"' in page.text
        assert "0001-01-01" in page.text  # what was typed is shown back
        csv = client.get("/app/district/coverage.csv?as_of=0001-01-01")
        assert csv.status_code == 400
        assert client.get("/app/district/prevalence.png?as_of=0001-01-01").status_code == 400
