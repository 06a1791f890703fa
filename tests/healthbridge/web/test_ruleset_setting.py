"""The pages apply the deployment's rule set (``Settings.clinical_ruleset``), not a fixed one.

A district configured for the 2021 NIP edition must see that edition's schedule on its pages:
DTaP dose 1 is due at 3 months there and at 2 months in the 2026 edition (国卫疾控发〔2021〕10号;
国疾控卫免发〔2026〕16号, ``clinical/rules/CN/nip-*.toml``). A child of 75 days is therefore due
for it under 2026 and not yet under 2021.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.web.common import today
from tests import factories as f
from tests.healthbridge.web.test_pages import sign_in_as

EDITION_2026 = "cn-child-health@2026.1/CN"
EDITION_2021 = "cn-child-health@2021.1/CN"


def _dtp_name(key: str) -> str:
    """The rule table's Chinese name of the DTaP vaccine (as the page shows it)."""
    table = load_ruleset_key(key).vaccination
    return next(v.name_zh for v in table.vaccines if v.code == "DTaP")


def _due_list(app_factory: Any, ruleset: str) -> str:
    """The parent's child page's "vaccines due" list for a 75-day-old child."""
    app = app_factory(demo_login=True, environment="development", clinical_ruleset=ruleset)
    with TestClient(app) as client:
        birth = today() - dt.timedelta(days=75)
        with app.state.repository.transaction(SYSTEM_CONTEXT, write=True) as txn:
            child = txn.create(f.child(birth_date=birth.isoformat(), gender="female")).stored
            mother = txn.create(f.guardian(f"Patient/{child.id}")).stored
        sign_in_as(client, f"RelatedPerson/{mother.id}")
        html = client.get(f"/app/child/{child.id}").text
    found = re.search(r"<h3>[^<]*</h3>\s*<ul>(.*?)</ul>", html, re.S)
    assert found is not None, html
    return found.group(1)


@pytest.mark.parametrize(
    ("ruleset", "dtp_due"),
    [(EDITION_2026, True), (EDITION_2021, False)],
    ids=["nip-2026", "nip-2021"],
)
def test_child_page_schedule_follows_the_configured_rule_set(
    app_factory: Any, ruleset: str, dtp_due: bool
) -> None:
    due = _due_list(app_factory, ruleset)
    assert "乙肝疫苗 (1)" in due  # the list is there, with the birth doses
    assert (_dtp_name(ruleset) in due) is dtp_due, due
