"""FHIR record → chart points: visits, BMI and weight-for-length pairs, flags, corrected age."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from growth_standards import Indicator, Sex, score
from healthbridge.charts.record import (
    GESTATIONAL_AGE_URL,
    RecordError,
    growth_record,
    latest,
    points,
)
from tests import factories as f

BIRTH = "2025-01-10"


def _patient(ga: float | None = None, gender: str = "female") -> dict[str, Any]:
    p = f.child(birth_date=BIRTH, gender=gender, id="c1")
    if ga is not None:
        p["extension"] = [
            {"url": GESTATIONAL_AGE_URL, "valueQuantity": {"value": ga, "unit": "wk"}}
        ]
    return p


def _visit(n: int, day: str, weight: float, length: float, hc: float | None = None) -> list[Any]:
    enc = {"reference": f"Encounter/e{n}"}
    out = [
        f.observation("Patient/c1", value=weight, date=day, id=f"w{n}", encounter=enc),
        f.length("Patient/c1", value=length, date=day, id=f"l{n}", encounter=enc),
    ]
    if hc is not None:
        out.append(
            f.observation(
                "Patient/c1",
                code="9843-4",
                value=hc,
                unit="cm",
                date=day,
                id=f"h{n}",
                encounter=enc,
            )
        )
    return out


def _obs() -> list[Any]:
    return [
        *_visit(3, "2025-07-10", 7.2, 66.0, 42.0),
        *_visit(1, "2025-01-10", 3.2, 49.5, 34.0),
        *_visit(2, "2025-03-10", 5.1, 57.0),
    ]


def test_points_are_the_measurements_in_time_order() -> None:
    rec = growth_record(_patient(), _obs())
    wfa = points(rec, Indicator.WFA)
    assert [p.value for p in wfa] == [3.2, 5.1, 7.2]
    assert [p.x for p in wfa] == [0.0, 59.0, 181.0]
    assert [p.source for p in wfa] == ["Observation/w1", "Observation/w2", "Observation/w3"]
    assert [p.value for p in points(rec, Indicator.LHFA)] == [49.5, 57.0, 66.0]
    assert [p.value for p in points(rec, Indicator.HCFA)] == [34.0, 42.0]
    assert all(p.corrected_x is None for p in wfa)


def test_bmi_and_weight_for_length_pair_the_same_encounter() -> None:
    rec = growth_record(_patient(), _obs())
    bmi = points(rec, Indicator.BFA)
    assert [round(p.value, 3) for p in bmi] == [
        round(w / (ln / 100) ** 2, 3) for w, ln in ((3.2, 49.5), (5.1, 57.0), (7.2, 66.0))
    ]
    wfl = points(rec, Indicator.WFL)
    assert [(p.x, p.value) for p in wfl] == [(49.5, 3.2), (57.0, 5.1), (66.0, 7.2)]
    assert points(rec, Indicator.WFH) == []  # all before 731 days: length, not height


def test_unpaired_weight_has_no_bmi() -> None:
    lone = f.observation("Patient/c1", value=6.0, date="2025-05-01", id="w9")
    rec = growth_record(_patient(), [*_obs(), lone])
    assert len(points(rec, Indicator.WFA)) == 4
    assert len(points(rec, Indicator.BFA)) == 3


def test_entered_in_error_and_other_codes_are_ignored() -> None:
    wrong = f.observation(
        "Patient/c1", value=60.0, date="2025-05-01", id="x", status="entered-in-error"
    )
    temp = f.observation("Patient/c1", code="8310-5", value=37.0, unit="Cel", id="t")
    rec = growth_record(_patient(), [*_obs(), wrong, temp])
    assert [p.value for p in points(rec, Indicator.WFA)] == [3.2, 5.1, 7.2]


def test_implausible_values_follow_who_flags() -> None:
    huge = _visit(4, "2025-09-10", 25.0, 70.0)
    rec = growth_record(_patient(), [*_obs(), *huge])
    wfa = points(rec, Indicator.WFA)
    assert [p.implausible for p in wfa] == [False, False, False, True]
    frame = score(
        pd.DataFrame({"sex": [2], "age_days": [243.0], "weight_kg": [25.0], "lenhei_cm": [70.0]})
    )
    assert int(frame["fwei"].iloc[0]) == 1
    last = latest(rec, Indicator.WFA)
    assert last is not None
    assert last.percentile is None
    assert last.value == 25.0


def test_corrected_age_for_preterm_children_until_24_months() -> None:
    rec = growth_record(_patient(ga=32.0), _obs())
    assert rec.preterm
    wfa = points(rec, Indicator.WFA)
    # 8 weeks early: corrected age = chronological age - 56 days
    assert [p.corrected_x for p in wfa] == [-56.0, 3.0, 125.0]
    term = growth_record(_patient(ga=39.0), _obs())
    assert not term.preterm
    assert all(p.corrected_x is None for p in points(term, Indicator.WFA))


def test_latest_scores_the_last_visit() -> None:
    rec = growth_record(_patient(), _obs())
    last = latest(rec, Indicator.WFA)
    assert last is not None
    assert last.value == 7.2
    assert last.measured == dt.date(2025, 7, 10)
    assert last.z is not None
    assert last.percentile is not None
    assert 0 < last.percentile < 100
    assert rec.sex is Sex.FEMALE


def test_patient_without_sex_or_birth_date_is_refused() -> None:
    with pytest.raises(RecordError):
        growth_record(_patient(gender="unknown"), _obs())
    p = _patient()
    del p["birthDate"]
    with pytest.raises(RecordError):
        growth_record(p, _obs())
