"""NIP special populations and combination products through FHIR (issue 15, items 2 and 3):
the write path and ``healthbridge evaluate`` read the mother's HBsAg status and the birth
weight from the hb-child extensions, and credit a combination product for each antigen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.clinical.ages import add_age, parse_age
from healthbridge.clinical.alerts import ActionType, AlertAction, Finding
from healthbridge.clinical.vocab import AlertKind, Severity
from healthbridge.config import Settings
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.alerts import CLOSE_REASON_EXTENSION, Routing, apply_actions
from healthbridge.pipeline.batch import evaluate_database
from healthbridge.store.db import make_engine
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline.conftest import (
    RULESET,
    active_flags,
    child,
    immunization,
    put,
    review_task,
    task_inputs,
    today,
)


@pytest.fixture
def repository(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine)
    engine.dispose()


def _with_birth_facts(patient: dict, weight_g: float | None, hbsag: str | None) -> dict:
    ext = patient.setdefault("extension", [])
    if weight_g is not None:
        ext.append(
            {
                "url": f"{t.CANONICAL_BASE}/StructureDefinition/birth-weight",
                "valueQuantity": {"value": weight_g, "unit": "g", "system": t.UCUM, "code": "g"},
            }
        )
    if hbsag is not None:
        ext.append(
            {"url": f"{t.CANONICAL_BASE}/StructureDefinition/maternal-hbsag", "valueCode": hbsag}
        )
    return patient


def _overdue_items(client: TestClient, cid: str) -> set[str]:
    flag = active_flags(client, f"Patient/{cid}").get("vaccine-overdue")
    if flag is None:
        return set()
    return set(task_inputs(review_task(client, flag))["items"].replace(",", " ").split())


def test_special_populations_and_products_agree_in_both_paths(
    pclient: TestClient, repository: Repository
) -> None:
    birth = today() - dt.timedelta(days=100)  # about 3 months old
    put(pclient, _with_birth_facts(child("lbw", birth), 1800, "positive"))
    put(pclient, _with_birth_facts(child("std", birth), 3300, "negative"))
    put(pclient, child("five", birth))
    for cid in ("lbw", "std"):
        put(pclient, immunization(f"{cid}-hepb1", cid, "HepB", birth, 1))
    # the 5-in-1 at 2 months counts for DTaP 1 and IPV 1
    two_months = birth + dt.timedelta(days=62)
    put(pclient, immunization("five-1", "five", "DTaP-IPV-Hib", two_months, 1))
    lbw, std, five = (_overdue_items(pclient, c) for c in ("lbw", "std", "five"))
    # positive mother: HBIG on the day of birth was not recorded; under 2000 g the second and
    # third doses of the 0/1/2/7-month course are overdue (DOMAIN.md §1.3)
    assert {"HBIG-1", "HepB-LBW-2"} <= lbw
    assert not any(i.startswith("HepB-LBW") or i == "HBIG-1" for i in std)
    assert not {"DTP-1", "polio-1"} & five
    # the batch evaluation reads the same facts: nothing to change
    report = evaluate_database(repository, parse_ruleset_key(RULESET), today(), dry_run=True)
    assert sum(report.actions.values()) == 0


def test_false_dtap_overdue_of_the_old_table_is_retired(
    pclient: TestClient, repository: Repository
) -> None:
    """A child born before mid-2024, vaccinated on the 2021 schedule (DTaP at 3/4/5/18 m), got
    "DTP-4 overdue" from nip-2026@2026 (all doses judged by the 2026 ages). Re-evaluating with
    the revised table retires that alert as rule-revised (no false alert left open)."""

    birth = dt.date(2023, 6, 15)
    put(pclient, child("old", birth))
    doses = [
        ("HepB", "0d"), ("BCG", "0d"), ("HepB", "1m"), ("IPV", "2m"), ("IPV", "3m"),
        ("DTaP", "3m"), ("bOPV", "4m"), ("DTaP", "4m"), ("DTaP", "5m"), ("HepB", "6m"),
        ("MPSV-A", "6m"), ("MMR", "8m"), ("JE-L", "8m"), ("MPSV-A", "9m"), ("DTaP", "18m"),
        ("MMR", "18m"), ("HepA-L", "18m"), ("JE-L", "2y"), ("MPSV-AC", "3y"),
    ]  # fmt: skip
    for k, (vaccine, age) in enumerate(doses):
        on = add_age(birth, parse_age(age))
        put(pclient, immunization(f"old-{k}", "old", vaccine, on, 1))
    assert "vaccine-overdue" not in active_flags(pclient, "Patient/old")
    rules = parse_ruleset_key(RULESET)
    false = Finding(
        "old", AlertKind.VACCINE_OVERDUE, Severity.MODERATE, "", ("old-8", "old-14"),
        ("DTP-4",), "overdue: DTP-4", "nip-2026", "2026", today(),
    )  # fmt: skip
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        apply_actions(
            txn,
            (AlertAction(ActionType.CREATE, "old", AlertKind.VACCINE_OVERDUE, false, None),),
            ruleset=rules,
            routing=Routing(None, None),
            as_of=today(),
            now=f"{today().isoformat()}T08:00:00+08:00",
        )
    flag = active_flags(pclient, "Patient/old")["vaccine-overdue"]
    report = evaluate_database(repository, rules, today())
    assert report.actions.get("clear", 0) >= 1
    now = pclient.get(f"/fhir/Flag/{flag['id']}").json()
    assert now["status"] == "inactive"
    assert {"url": CLOSE_REASON_EXTENSION, "valueCode": "rule-revised"} in now["extension"]
    assert review_task(pclient, flag)["status"] == "cancelled"


def test_a_dose_coded_only_in_cvx_is_credited_in_both_paths(
    pclient: TestClient, repository: Repository
) -> None:
    """A DTaP-IPV/Hib dose recorded by another system in CVX only (code 120) is translated
    through the ConceptMap ``nip-vaccine-cvx-atc`` and counts for DTaP 1 and IPV 1 (issue 15
    item 2), on the write path and in ``healthbridge evaluate``."""
    birth = today() - dt.timedelta(days=100)
    put(pclient, child("cvx", birth))
    dose = immunization("cvx-1", "cvx", "unused", birth + dt.timedelta(days=62), 1)
    dose["vaccineCode"] = {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "120"}]}
    put(pclient, dose)
    assert not {"DTP-1", "polio-1"} & _overdue_items(pclient, "cvx")
    report = evaluate_database(repository, parse_ruleset_key(RULESET), today(), dry_run=True)
    assert sum(report.actions.values()) == 0


def _tb_test(oid: str, cid: str, on: dt.date, result: str | None, *, interp: str | None = None):
    """A tuberculin skin test Observation (profile hb-tb-skin-test)."""
    codes = {"negative": t.SNOMED_NEGATIVE, "positive": t.SNOMED_POSITIVE}
    obs: dict = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "procedure"}]}],
        "code": {"coding": [{"system": t.SNOMED, "code": t.SNOMED_TB_SKIN_TEST}]},
        "subject": {"reference": f"Patient/{cid}"},
        "effectiveDateTime": on.isoformat(),
    }
    if result is not None:
        obs["valueCodeableConcept"] = {"coding": [{"system": t.SNOMED, "code": codes[result]}]}
    if interp is not None:
        obs["interpretation"] = [{"coding": [{"system": t.V3_INTERPRETATION, "code": interp}]}]
    return obs


def _bcg_items(client: TestClient, cid: str) -> set[str]:
    return {i for i in _overdue_items(client, cid) if i.startswith("BCG")}


@pytest.mark.parametrize("source", ["table", "documents"])
def test_bcg_catch_up_follows_the_tb_skin_test_in_both_paths(
    pclient: TestClient, repository: Repository, source: str
) -> None:
    """BCG catch-up by age (DOMAIN.md §1.2, from the 2021 NIP 说明 卡介苗 补种: under 3 months
    directly; from 3 months to under 4 years only after a negative PPD/TST; none from 4 years;
    issue 15 item 3). A 5-month-old without BCG needs the test first (``BCG-1:tst``); once a
    negative TST Observation is written the catch-up itself is due (``BCG-1``); a positive
    latest test makes BCG not applicable; a negative test older than the rule table's
    ``[tb_test] valid_for`` (3 months) no longer counts. ``healthbridge evaluate`` (from the
    rule-input table and from the documents) reads the same tests: nothing to change."""
    birth = today() - dt.timedelta(days=152)  # 5 months old
    for cid in ("neg", "pos", "old", "none", "interp"):
        put(pclient, child(cid, birth))
    assert _bcg_items(pclient, "neg") == {"BCG-1:tst"}
    put(pclient, _tb_test("neg-tst", "neg", today() - dt.timedelta(days=3), "negative"))
    assert _bcg_items(pclient, "neg") == {"BCG-1"}
    put(pclient, _tb_test("pos-tst", "pos", today() - dt.timedelta(days=3), "positive"))
    assert _bcg_items(pclient, "pos") == set()
    put(pclient, _tb_test("old-tst", "old", today() - dt.timedelta(days=100), "negative"))
    assert _bcg_items(pclient, "old") == {"BCG-1:tst"}
    # no readable result (a test placed, not yet read) counts for nothing
    put(pclient, _tb_test("none-tst", "none", today() - dt.timedelta(days=3), None))
    assert _bcg_items(pclient, "none") == {"BCG-1:tst"}
    # the result as an interpretation only (v3 NEG)
    put(
        pclient,
        _tb_test("interp-tst", "interp", today() - dt.timedelta(days=3), None, interp="NEG"),
    )
    assert _bcg_items(pclient, "interp") == {"BCG-1"}
    rules = parse_ruleset_key(RULESET)
    report = evaluate_database(repository, rules, today(), dry_run=True, source=source)
    assert report.source == source
    assert sum(report.actions.values()) == 0
    # a positive test written later than the negative one: the latest test decides
    put(pclient, _tb_test("neg-tst-2", "neg", today() - dt.timedelta(days=1), "positive"))
    assert _bcg_items(pclient, "neg") == set()
    report = evaluate_database(repository, rules, today(), dry_run=True, source=source)
    assert sum(report.actions.values()) == 0
