"""The paediatrician's clinical view: grades in words, growth between visits, target height."""

from __future__ import annotations

from typing import Any

import pytest

from growth_standards import Sex
from healthbridge import terminology as t
from healthbridge.charts.clinical_view import (
    PARENT_HEIGHT_SYSTEM,
    grade,
    mid_parental_height,
    parent_heights,
    target_height,
    visit_rows,
)
from healthbridge.charts.labels import Lang
from healthbridge.charts.record import growth_record
from healthbridge.clinical.ruleset import load_ruleset

PATIENT = {"resourceType": "Patient", "id": "c1", "gender": "female", "birthDate": "2024-01-10"}


def obs(oid: str, code: str, value: float, day: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "code": {"coding": [{"system": t.LOINC, "code": code}]},
        "subject": {"reference": "Patient/c1"}, "effectiveDateTime": day,
        "encounter": {"reference": f"Encounter/e-{day}"},
        "valueQuantity": {"value": value, "unit": "cm", "code": "cm"}, **extra,
    }  # fmt: skip


def parent(oid: str, code: str, value: float, day: str = "2026-01-01") -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "code": {"coding": [{"system": PARENT_HEIGHT_SYSTEM, "code": code}]},
        "subject": {"reference": "Patient/c1"}, "effectiveDateTime": day,
        "valueQuantity": {"value": value, "unit": "cm", "code": "cm"},
    }  # fmt: skip


@pytest.fixture(scope="module")
def rules() -> Any:
    return load_ruleset("cn-child-health", "2026.1", "CN")


def test_grade_in_words_from_the_rule_set(rules: Any) -> None:
    zh, en, abnormal = grade(rules, "zwfl", -3.12, 400)
    assert (zh, en, abnormal) == ("重度消瘦", "severe wasting", True)
    zh, en, abnormal = grade(rules, "zwei", -2.5, 400)
    assert zh.startswith("中度")
    assert en == "moderate underweight"
    assert abnormal
    assert grade(rules, "zlen", 0.4, 400) == ("正常范围", "normal range", False)
    assert grade(rules, "zwei", -2.5, 400, flagged=True)[2] is True


def test_z_text_two_decimals_with_grade(rules: Any) -> None:
    weights = [
        obs("w1", t.LOINC_BODY_WEIGHT, 9.0, "2025-01-10"),
        obs("l1", t.LOINC_BODY_LENGTH, 75.0, "2025-01-10"),
        obs("w2", t.LOINC_BODY_WEIGHT, 9.6, "2025-03-11"),
        obs("l2", t.LOINC_BODY_LENGTH, 77.0, "2025-03-11"),
    ]
    rows = visit_rows(growth_record(PATIENT, weights), rules)
    assert len(rows) == 2
    first, second = rows
    assert first.days_since is None
    assert second.days_since == 60
    assert second.weight_gain_kg == pytest.approx(0.6)
    assert second.length_gain_cm == pytest.approx(2.0)
    assert second.per_30_days(second.weight_gain_kg) == pytest.approx(0.3)
    waz = next(s for s in second.scores if s.column == "zwei")
    assert waz.z is not None
    assert round(waz.z, 2) == waz.z
    text = waz.text(Lang.ZH)
    assert text.startswith("WAZ ")
    assert " · " in text
    assert "-" not in text


def test_mid_parental_height_tanner() -> None:
    boy = mid_parental_height(Sex.MALE, 175.0, 160.0)
    assert boy.target_cm == pytest.approx(174.0)
    assert (boy.low_cm, boy.high_cm) == pytest.approx((165.5, 182.5))
    girl = mid_parental_height(Sex.FEMALE, 175.0, 160.0)
    assert girl.target_cm == pytest.approx(161.0)


def test_parent_heights_latest_and_not_the_childs_height() -> None:
    items = [
        parent("f1", "father-height", 170.0, "2025-01-01"),
        parent("f2", "father-height", 172.0, "2026-01-01"),
        parent("m1", "mother-height", 158.0),
        obs("h1", t.LOINC_BODY_HEIGHT, 90.0, "2026-01-01"),
    ]
    assert parent_heights(items) == {"father": 172.0, "mother": 158.0}
    target = target_height(Sex.FEMALE, items)
    assert target is not None
    assert target.target_cm == pytest.approx((172 + 158 - 13) / 2)
    assert target_height(Sex.FEMALE, items[:2]) is None  # the mother's height is missing


def test_growth_record_ignores_observations_about_someone_else() -> None:
    mine = obs("h1", t.LOINC_BODY_HEIGHT, 90.0, "2026-01-10")
    theirs = obs(
        "h2", t.LOINC_BODY_HEIGHT, 168.0, "2026-01-11", focus=[{"reference": "RelatedPerson/m"}]
    )
    frame = growth_record(PATIENT, [mine, theirs]).visits
    assert frame["lenhei_cm"].tolist() == [90.0]
