from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.nutrition import GrowthPoint, nutrition_findings, nutrition_frame
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import AlertKind, Severity

from .factories import point

DAY = date(2026, 3, 1)


def kinds(rs: RuleSet, p: GrowthPoint, convention: str | None = None) -> dict[AlertKind, str]:
    conv = rs.nutrition.convention(convention) if convention else rs.nutrition_convention
    return {f.kind: f.grade for f in nutrition_findings("c1", [p], rs.nutrition, conv)}


@pytest.mark.parametrize(
    ("z", "expected"),
    [
        (-1.99, None),
        (-2.0, None),  # "< M−2SD": exactly −2 is not underweight
        (-2.01, "moderate"),
        (-3.0, "moderate"),  # moderate is −3SD ≤ x < −2SD
        (-3.01, "severe"),
    ],
)
@pytest.mark.parametrize(
    ("column", "kind"),
    [("zwei", AlertKind.UNDERWEIGHT), ("zlen", AlertKind.STUNTING), ("zwfl", AlertKind.WASTING)],
)
def test_undernutrition_boundaries(
    rs: RuleSet, column: str, kind: AlertKind, z: float, expected: str | None
) -> None:
    for convention in ("who-z-wst423-2022", "who-2006"):
        values: dict[str, Any] = {column: z}
        assert kinds(rs, point("o1", DAY, **values), convention).get(kind) == expected


@pytest.mark.parametrize(
    ("zbmi", "expected"),
    [
        (1.0, {}),
        (1.01, {AlertKind.OVERWEIGHT: "overweight"}),
        (2.0, {AlertKind.OVERWEIGHT: "overweight"}),
        (2.01, {AlertKind.OBESITY: "obesity"}),
    ],
)
def test_cn_cutoffs_overweight_obesity_boundaries(
    rs: RuleSet, zbmi: float, expected: dict[AlertKind, str]
) -> None:
    assert kinds(rs, point("o1", DAY, zbmi=zbmi, zwfl=0.0), "who-z-wst423-2022") == expected


def test_cn_2024_is_an_alias_of_the_renamed_convention(rs: RuleSet) -> None:
    """ "cn-2024" applied WS/T 423-2022 cut-offs to WHO z-scores; renamed to say so."""
    conv = rs.nutrition.convention("cn-2024")
    assert conv.id == "who-z-wst423-2022"
    assert "WHO z-scores with WS/T 423-2022 cut-offs" in conv.name_en
    assert rs.nutrition_convention.id == "who-z-wst423-2022"  # the 2026.1 default


FIVE_YEARS = date(2021, 1, 1)  # a child born then is 5 y 2 m on DAY


@pytest.mark.parametrize(
    ("zbmi", "expected"),
    [
        (1.0, {}),
        (1.01, {AlertKind.OVERWEIGHT: "overweight"}),
        (2.0, {AlertKind.OVERWEIGHT: "overweight"}),
        (2.01, {AlertKind.OBESITY: "obesity"}),
    ],
)
def test_who_convention_5_to_7_years_uses_who_2007_bmi_cut_offs(
    rs: RuleSet, zbmi: float, expected: dict[AlertKind, str]
) -> None:
    """WHO 2007 reference (5-19 y): overweight BMI-for-age > +1 SD, obesity > +2 SD (de Onis
    et al., Bull WHO 2007); no weight-for-height from 60 months."""
    p = point("o1", DAY, FIVE_YEARS, zbmi=zbmi)
    assert kinds(rs, p, "who-2006") == expected


@pytest.mark.parametrize(
    ("age", "expected"), [(1826, {}), (1827, {AlertKind.OVERWEIGHT: "overweight"})]
)
def test_who_convention_switches_at_60_months(
    rs: RuleSet, age: int, expected: dict[AlertKind, str]
) -> None:
    # BMI-for-age +1.5 is normal under the 2006 rule (> +2 SD) and overweight from 60 months
    # (60 months = 1826.25 days, WHO anthro's age / 30.4375 < 60)
    p = GrowthPoint("o1", DAY, age, zbmi=1.5)
    assert kinds(rs, p, "who-2006") == expected


@pytest.mark.parametrize(
    ("zwfl", "expected"),
    [
        (1.5, {}),
        (2.0, {}),
        (2.01, {AlertKind.OVERWEIGHT: "overweight"}),
        (3.0, {AlertKind.OVERWEIGHT: "overweight"}),
        (3.01, {AlertKind.OBESITY: "obesity"}),
    ],
)
def test_who_overweight_obesity_boundaries(
    rs: RuleSet, zwfl: float, expected: dict[AlertKind, str]
) -> None:
    assert kinds(rs, point("o1", DAY, zwfl=zwfl, zbmi=0.0), "who-2006") == expected


def test_conventions_disagree_at_plus_1_5(rs: RuleSet) -> None:
    p = point("o1", DAY, zbmi=1.5, zwfl=1.5)
    assert kinds(rs, p, "who-z-wst423-2022") == {AlertKind.OVERWEIGHT: "overweight"}
    assert kinds(rs, p, "who-2006") == {}


@pytest.mark.parametrize(
    ("zhc", "expected"),
    [
        (-2.0, {}),
        (-2.01, {AlertKind.MICROCEPHALY: "moderate"}),
        (-3.0, {AlertKind.MICROCEPHALY: "moderate"}),
        (-3.01, {AlertKind.MICROCEPHALY: "severe"}),
        (2.0, {}),
        (2.01, {AlertKind.MACROCEPHALY: "moderate"}),
        (3.0, {AlertKind.MACROCEPHALY: "moderate"}),
        (3.01, {AlertKind.MACROCEPHALY: "severe"}),
    ],
)
def test_head_circumference_boundaries(
    rs: RuleSet, zhc: float, expected: dict[AlertKind, str]
) -> None:
    assert kinds(rs, point("o1", DAY, zhc=zhc)) == expected


def test_severity_of_grades(rs: RuleSet) -> None:
    (severe,) = nutrition_findings(
        "c1", [point("o1", DAY, zwei=-3.5)], rs.nutrition, rs.nutrition_convention
    )
    assert severe.severity is Severity.HIGH
    assert severe.evidence_ids == ("o1",)
    assert severe.items == ("zwei",)
    assert severe.rule_id == "nutrition"


def test_bmi_used_when_weight_for_length_missing(rs: RuleSet) -> None:
    found = nutrition_findings(
        "c1", [point("o1", DAY, zbmi=-2.5)], rs.nutrition, rs.nutrition_convention
    )
    assert [(f.kind, f.items) for f in found] == [(AlertKind.WASTING, ("zbmi",))]


def test_cn_overweight_only_under_seven(rs: RuleSet) -> None:
    birth = date(2019, 1, 1)
    young = point("o1", date(2025, 12, 31), birth=birth, zbmi=1.5)
    old = point("o2", date(2026, 1, 2), birth=birth, zbmi=1.5)
    assert kinds(rs, young) == {AlertKind.OVERWEIGHT: "overweight"}
    assert kinds(rs, old) == {}


def test_latest_measurement_decides(rs: RuleSet) -> None:
    history = [point("o1", DAY, zwei=-2.5), point("o2", DAY + timedelta(days=90), zwei=-1.5)]
    assert nutrition_findings("c1", history, rs.nutrition, rs.nutrition_convention) == ()
    history.append(point("o3", DAY + timedelta(days=120), zlen=-2.2))
    (f,) = nutrition_findings("c1", history, rs.nutrition, rs.nutrition_convention)
    assert f.kind is AlertKind.STUNTING


def test_implausible_value_raises_remeasure_not_clinical(rs: RuleSet) -> None:
    p = point("o1", DAY, zwei=-6.5, fwei=True, zlen=-0.5)
    found = nutrition_findings("c1", [p], rs.nutrition, rs.nutrition_convention)
    assert [f.kind for f in found] == [AlertKind.IMPLAUSIBLE_MEASUREMENT]
    assert found[0].items == ("zwei",)
    # an earlier plausible low value is not used in place of the flagged latest one
    older = point("o0", DAY - timedelta(days=30), zwei=-2.5)
    found = nutrition_findings("c1", [older, p], rs.nutrition, rs.nutrition_convention)
    assert [f.kind for f in found] == [AlertKind.IMPLAUSIBLE_MEASUREMENT]


def _frame(points: list[GrowthPoint], child: str = "c1") -> pd.DataFrame:
    rows = []
    for p in points:
        row = {
            "child_id": child,
            "observation_id": p.observation_id,
            "date": pd.Timestamp(p.on),
            "age_days": p.age_days,
        }
        for c in ("zwei", "zlen", "zwfl", "zbmi", "zhc"):
            v = p.z(c)
            row[c] = math.nan if v is None else v
            row["f" + c[1:] if c != "zwei" else "fwei"] = int(p.flagged(c))
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"fzlen": "flen"})


z_value = st.one_of(
    st.none(),
    st.sampled_from([-3.01, -3.0, -2.01, -2.0, 1.0, 1.01, 2.0, 2.01, 3.0, 3.01]),
    st.floats(-7, 7),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2600), z_value, z_value, z_value, z_value, z_value, st.booleans()),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["who-z-wst423-2022", "who-2006"]),
)
def test_vectorised_equals_scalar(
    rs: RuleSet, rows: list[tuple[Any, ...]], convention: str
) -> None:
    birth = date(2024, 1, 1)
    points = [
        GrowthPoint(
            f"o{i}",
            birth + timedelta(days=d),
            d,
            zwei=a,
            zlen=b,
            zwfl=c,
            zbmi=e,
            zhc=h,
            fwei=flag,
            fhc=flag,
        )
        for i, (d, a, b, c, e, h, flag) in enumerate(rows)
    ]
    conv = rs.nutrition.convention(convention)
    scalar = sorted(nutrition_findings("c1", points, rs.nutrition, conv), key=lambda f: f.kind)
    batch = sorted(
        frame_to_findings(nutrition_frame(_frame(points), rs.nutrition, conv)), key=lambda f: f.kind
    )
    assert batch == scalar
