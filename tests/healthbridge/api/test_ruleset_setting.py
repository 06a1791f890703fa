"""The ``$parent-report`` operation applies the deployment's rule set
(``Settings.clinical_ruleset``): DTaP dose 1 is due at 2 months under the 2026 NIP edition and at
3 months under the 2021 edition (``clinical/rules/CN/nip-*.toml``): the report of a child born
2026-08-18 lists it as due from 2026-10-18 under the first, as not yet due until 2026-11-18
under the second."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient

from healthbridge.store.hooks import SYSTEM_CONTEXT
from tests import factories as f

EDITION_2026 = "cn-child-health@2026.1/CN"
EDITION_2021 = "cn-child-health@2021.1/CN"


def _report_text(app_factory: Any, ruleset: str) -> str:
    day = dt.date(2026, 11, 1)
    app = app_factory(clinical_ruleset=ruleset)
    with TestClient(app) as client:
        birth = dt.date(2026, 8, 18)
        with app.state.repository.transaction(SYSTEM_CONTEXT, write=True) as txn:
            child = txn.create(f.child(birth_date=birth.isoformat(), gender="female")).stored
        r = client.get(f"/fhir/Patient/{child.id}/$parent-report?lang=zh&date={day}")
        assert r.status_code == 200, r.text
    pages = pypdf.PdfReader(io.BytesIO(r.content)).pages
    return "\n".join(p.extract_text() for p in pages)


@pytest.mark.parametrize(
    ("ruleset", "line"),
    [
        (EDITION_2026, "百白破疫苗 (1) · 应接种 2026-10-18"),
        (EDITION_2021, "百白破疫苗 (1) · 未到接种时间 2026-11-18"),
    ],
    ids=["nip-2026", "nip-2021"],
)
def test_parent_report_follows_the_configured_rule_set(
    app_factory: Any, ruleset: str, line: str
) -> None:
    text = _report_text(app_factory, ruleset)
    assert "乙肝疫苗 (1)" in text
    assert line in text.splitlines()
