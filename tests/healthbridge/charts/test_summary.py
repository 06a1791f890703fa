"""A child's summary from the compartment: vaccines given/due, next checkup, alerts, report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from growth_standards import Indicator
from healthbridge.charts.labels import Lang
from healthbridge.charts.summary import parent_report, summarise
from healthbridge.clinical.ruleset import load_ruleset
from healthbridge.demo.bundles import child_bundles
from healthbridge.demo.population import generate
from tests.healthbridge.web.world import alert_flag

RULES = load_ruleset("cn-child-health", "2026.1", "CN")


def _child() -> tuple[list[dict[str, Any]], dt.date]:
    district = generate(children=4, seed=3)
    bundle = next(iter(child_bundles(district)))
    return [e["resource"] for e in bundle["entry"]], district.as_of


def test_vaccines_given_are_the_immunizations() -> None:
    resources, as_of = _child()
    pid = resources[0]["id"]
    s = summarise(resources, pid, RULES, as_of=as_of)
    given = [v for v in s.vaccines if v.status == "given"]
    immunizations = [r for r in resources if r["resourceType"] == "Immunization"]
    assert len(given) <= len(immunizations)
    assert {v.date for v in given} <= {
        dt.date.fromisoformat(r["occurrenceDateTime"][:10]) for r in immunizations
    }
    assert all(v.status in ("given", "due", "overdue", "not-yet-due") for v in s.vaccines)
    assert s.next_checkup is None or s.next_checkup[2] >= s.birth_date


def test_active_flags_become_alerts_with_parent_texts() -> None:
    resources, as_of = _child()
    pid = resources[0]["id"]
    flag = {**alert_flag(pid, "stunting"), "id": "f1"}
    closed = {**alert_flag(pid, "wasting"), "id": "f2", "status": "inactive"}
    s = summarise([*resources, flag, closed], pid, RULES, as_of=as_of, lang=Lang.EN)
    assert [a.kind for a in s.alerts] == ["stunting"]
    text = RULES.alerts.kinds[[k.kind.value for k in RULES.alerts.kinds].index("stunting")]
    assert s.alerts[0].parent == text.parent_en
    report = parent_report(s, Lang.EN, as_of=as_of)
    assert len(report.notes) == 1
    assert text.parent_en in report.notes[0]
    assert [c.indicator for c in report.charts] == [Indicator.WFA, Indicator.LHFA, Indicator.HCFA][
        : len(report.charts)
    ]
    assert all(v.status != "not-yet-due" for v in report.vaccines[:-3])


def test_hbsag_positive_mother_shows_hbig_in_the_summary() -> None:
    """The summary reads the hb-child maternal-hbsag extension as the clinical rules do
    (2021 说明: HBIG at birth for an HBsAg-positive mother)."""
    resources, as_of = _child()
    patient = resources[0]
    url = "https://healthbridge.github.io/fhir/StructureDefinition/maternal-hbsag"
    positive = {
        **patient,
        "extension": [*patient.get("extension", []), {"url": url, "valueCode": "positive"}],
    }
    names = {
        v.name
        for v in summarise(
            [positive, *resources[1:]], patient["id"], RULES, as_of=as_of, lang=Lang.EN
        ).vaccines
    }
    assert "Hepatitis B immunoglobulin" in names
    plain = {
        v.name
        for v in summarise(resources, patient["id"], RULES, as_of=as_of, lang=Lang.EN).vaccines
    }
    assert "Hepatitis B immunoglobulin" not in plain
