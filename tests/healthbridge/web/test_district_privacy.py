"""The district page shows small cells as "<3" with a footnote (issue 20 item 7)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from healthbridge.access.tokens import Role, mint_token
from tests import factories as f
from tests.healthbridge.district.conftest import AS_OF, load_small_demo


def test_page_suppresses_small_cells(app_factory: Any) -> None:
    token = mint_token(secret=f.TEST_SECRET, role=Role.DISTRICT_OFFICIAL, subject="official")
    with TestClient(app_factory(authenticated=True)) as client:
        load_small_demo(client)
        client.cookies.set("healthbridge_token", token)
        page = client.get(f"/app/district?as_of={AS_OF}&grouping=centre")
        assert page.status_code == 200, page.text[:300]
        assert 'data-testid="suppressed-cell"' in page.text
        assert 'data-testid="suppression-note"' in page.text
        assert "&lt;3" in page.text
        csv = client.get(f"/app/district/prevalence.csv?as_of={AS_OF}")
        assert csv.status_code == 200
        assert "<3" in csv.text
