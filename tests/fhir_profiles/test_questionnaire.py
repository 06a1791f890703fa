from __future__ import annotations

from typing import Any

from fhir_profiles import loader, terminology

BASE = loader.CANONICAL_BASE
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
AGES = ["3m", "6m", "8m", "12m", "18m", "24m", "30m", "36m", "4y", "5y", "6y"]


def english(item: dict[str, Any]) -> str:
    (ext,) = [e for e in item["_text"]["extension"] if e["url"] == TRANSLATION]
    parts = {p["url"]: p for p in ext["extension"]}
    assert parts["lang"]["valueCode"] == "en"
    return str(parts["content"]["valueString"])


def test_one_group_of_four_items_per_age_point_with_enable_when() -> None:
    q = loader.questionnaire(f"{BASE}/Questionnaire/warning-signs")
    age_item, *groups, regression = q["item"]
    assert age_item["linkId"] == "age-point"
    assert [o["valueCoding"]["code"] for o in age_item["answerOption"]] == AGES
    assert [g["linkId"] for g in groups] == [f"group-{a}" for a in AGES]
    for age, group in zip(AGES, groups, strict=True):
        (cond,) = group["enableWhen"]
        assert (cond["question"], cond["operator"], cond["answerCoding"]["code"]) == (
            "age-point",
            "=",
            age,
        )
        assert [i["linkId"] for i in group["item"]] == [f"{age}-{n}" for n in range(1, 5)]
        for item in group["item"]:
            assert item["type"] == "boolean"
            assert english(item)
    assert regression["linkId"] == "regression"


def test_items_match_the_warning_sign_code_system_and_domain_text() -> None:
    q = loader.questionnaire(f"{BASE}/Questionnaire/warning-signs")
    cs = loader.code_system(f"{BASE}/CodeSystem/warning-sign")
    zh = {c["code"]: c["designation"][0]["value"] for c in cs["concept"]}
    items = [i for g in q["item"][1:-1] for i in g["item"]]
    assert len(items) == 44
    for item in items:
        assert item["text"] == zh[item["linkId"]]
        assert terminology.contains(
            f"{BASE}/ValueSet/warning-sign", f"{BASE}/CodeSystem/warning-sign", item["linkId"]
        )
    # spot-check against DOMAIN.md §4.3
    assert zh["3m-4"] == "俯卧时不会抬头"
    assert zh["18m-3"] == "与人无目光交流"
    assert zh["6y-4"] == "不会奔跑"
