"""The visit form → one transaction Bundle (pure): checks, shapes, profile conformance."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from fhir_profiles.loader import resource_by_url
from healthbridge.fhir import facts
from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.web.visit import (
    QUESTIONNAIRE,
    SD,
    VisitFormError,
    parse_visit_form,
    questionnaire_items,
    visit_bundle,
)

BIRTH = dt.date(2025, 10, 1)
TODAY = dt.date(2026, 11, 20)
CODES = frozenset({"MMR", "HepB", "DTaP"})


def _parse(**form: Any) -> Any:
    base = {"visit_date": "2026-11-18", "visit_type": "12m"}
    return parse_visit_form(
        {**base, **form},
        patient_id="c1",
        birth_date=BIRTH,
        practitioner_id="doc-1",
        organization_id="org-mch",
        today=TODAY,
        vaccine_codes=CODES,
    )


def _items() -> dict[str, list[str]]:
    q = resource_by_url(QUESTIONNAIRE, "Questionnaire")
    return {k: [i for i, _ in v] for k, v in questionnaire_items(q).items()}


@pytest.mark.parametrize(
    ("form", "key"),
    [
        ({"weight_kg": "9.1", "visit_date": "2027-01-01"}, "visit.err_date"),
        ({"weight_kg": "9.1", "visit_date": "2025-09-01"}, "visit.err_before_birth"),
        ({"weight_kg": "nine"}, "visit.err_number"),
        ({"weight_kg": "9100"}, "visit.err_range"),
        ({"temperature_c": "3.7"}, "visit.err_range"),
        ({}, "visit.err_empty"),
        ({"weight_kg": "9.1", "vaccine": ["XYZ"], "dose": ["1"]}, "visit.err_vaccine"),
        ({"weight_kg": "9.1", "referral_to": "org-mch"}, "visit.err_referral"),
        ({"weight_kg": "9.1", "tb_test": "maybe"}, "visit.err_tb_test"),
    ],
)
def test_bad_forms_name_every_problem(form: dict[str, Any], key: str) -> None:
    with pytest.raises(VisitFormError) as info:
        _parse(**form)
    assert key in [p.key for p in info.value.problems]


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(VisitFormError) as info:
        _parse(weight_kg="x", length_cm="900", visit_date="soon")
    assert {p.key for p in info.value.problems} == {
        "visit.err_date",
        "visit.err_number",
        "visit.err_range",
    }


def test_bundle_is_one_transaction_with_linked_resources() -> None:
    visit = _parse(
        weight_kg="9,1", length_cm="74.5", headc_cm="45", temperature_c="36.8", hb_g_l="112",
        vaccine=["MMR", ""], dose=["1", "1"], lot=["A1", ""], screened="yes",
        warning_item=["12m-2", "6m-1"], findings="ok", referral_to="org-mch",
        referral_reason="营养评估",
    )  # fmt: skip
    ids = (f"id-{n}" for n in itertools.count())
    bundle = visit_bundle(visit, _items(), new_id=lambda: next(ids))
    assert bundle["type"] == "transaction"
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == [
        "Encounter",
        *(["Observation"] * 6),
        "Immunization",
        "QuestionnaireResponse",
        "ServiceRequest",
    ]
    enc_url = bundle["entry"][0]["fullUrl"]
    assert enc_url == "urn:uuid:id-0"
    for entry in bundle["entry"][1:]:
        assert entry["request"] == {"method": "POST", "url": entry["resource"]["resourceType"]}
        linked = entry["resource"].get("encounter", {}).get("reference")
        assert linked == enc_url
    weight = bundle["entry"][1]["resource"]
    assert weight["valueQuantity"] == {
        "value": 9.1, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg",
    }  # fmt: skip
    qr = bundle["entry"][-2]["resource"]
    group = qr["item"][1]
    assert group["linkId"] == "group-12m"
    answers = {i["linkId"]: i["answer"][0]["valueBoolean"] for i in group["item"]}
    assert answers == {"12m-1": False, "12m-2": True, "12m-3": False, "12m-4": False}


def test_every_resource_conforms_to_its_claimed_profile() -> None:
    visit = _parse(
        weight_kg="9.1", length_cm="92", measure="h", headc_cm="45", temperature_c="36.8",
        hb_g_l="112", vaccine=["MMR"], dose=["2"], lot=["A1"], screened="yes",
        referral_to="org-mch", referral_reason="营养评估", tb_test="positive",
    )  # fmt: skip
    bundle = visit_bundle(visit, _items())
    claimed = 0
    for entry in bundle["entry"]:
        resource = {**entry["resource"], "id": "x1"}
        refs = _resolve_urns(resource)
        for profile in resource.get("meta", {}).get("profile", []):
            claimed += 1
            issues = [
                i for i in validate_against_profiles(refs, [profile]) if i.severity == "error"
            ]
            assert issues == [], (profile, issues)
    assert claimed == 10


def _resolve_urns(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                "Encounter/e1"
                if k == "reference" and str(v).startswith("urn:uuid:")
                else _resolve_urns(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_urns(v) for v in value]
    return value


def test_no_screening_no_questionnaire_response() -> None:
    bundle = visit_bundle(_parse(weight_kg="9.1"), _items())
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == ["Encounter", "Observation"]


@pytest.mark.parametrize("result", ["negative", "positive"])
def test_a_tuberculin_skin_test_result_alone_is_a_visit(result: str) -> None:
    """Only the PPD/TST result (阴性/阳性) typed: one hb-tb-skin-test Observation, read by the
    rules as the form says (healthbridge.fhir.facts: BCG catch-up needs a negative one)."""
    bundle = visit_bundle(_parse(tb_test=result), _items())
    tests = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"].get("meta", {}).get("profile") == [f"{SD}/hb-tb-skin-test"]
    ]
    assert len(tests) == 1
    assert facts.rule_code(tests[0]) == facts.TB_SKIN_TEST
    assert facts.tb_test_result(tests[0]) is (result == "negative")
    assert _parse(weight_kg="9.1").tb_test is None
