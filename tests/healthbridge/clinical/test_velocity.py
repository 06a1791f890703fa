from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.nutrition import GrowthPoint
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.velocity import allowed_gap_days, velocity_findings, velocity_frame
from healthbridge.clinical.vocab import AlertKind

from .factories import point

BIRTH = date(2025, 1, 1)


def found(
    rs: RuleSet, history: list[GrowthPoint], as_of: date, *, centre: bool = False
) -> dict[AlertKind, tuple[str, ...]]:
    return {
        f.kind: f.items
        for f in velocity_findings(
            "c1", BIRTH, history, rs.velocity, as_of, enrolled_in_centre=centre
        )
    }


@pytest.mark.parametrize(
    ("before", "after", "falters"),
    [
        (-1.0, -1.67, False),
        (-1.0, -1.68, True),
        (0.5, -0.17, False),
        (0.5, -0.18, True),
        (0.0, 0.0, False),
    ],
)
def test_faltering_boundary(rs: RuleSet, before: float, after: float, falters: bool) -> None:
    history = [
        point("o1", date(2025, 4, 1), zwei=before),
        point("o2", date(2025, 7, 1), zwei=after),
    ]
    assert (AlertKind.GROWTH_FALTERING in found(rs, history, date(2025, 7, 2))) is falters


def test_faltering_in_length_too(rs: RuleSet) -> None:
    history = [
        point("o1", date(2025, 4, 1), zlen=0.0, zwei=0.0),
        point("o2", date(2025, 7, 1), zlen=-0.8, zwei=-0.1),
    ]
    assert found(rs, history, date(2025, 7, 2))[AlertKind.GROWTH_FALTERING] == ("zlen",)


@pytest.mark.parametrize(("before", "after", "rapid"), [(-1.0, -0.33, False), (-1.0, -0.32, True)])
def test_rapid_gain_boundary(rs: RuleSet, before: float, after: float, rapid: bool) -> None:
    history = [
        point("o1", date(2025, 4, 1), zwei=before),
        point("o2", date(2025, 7, 1), zwei=after),
    ]
    assert (AlertKind.RAPID_WEIGHT_GAIN in found(rs, history, date(2025, 7, 2))) is rapid


def test_rapid_gain_only_under_two_years(rs: RuleSet) -> None:
    late = [point("o1", date(2026, 10, 1), zwei=-1.0), point("o2", date(2027, 1, 2), zwei=0.0)]
    assert AlertKind.RAPID_WEIGHT_GAIN not in found(rs, late, date(2027, 1, 3))


def test_flagged_values_ignored_for_velocity(rs: RuleSet) -> None:
    history = [
        point("o1", date(2025, 4, 1), zwei=0.0),
        point("o2", date(2025, 7, 1), zwei=-6.0, fwei=True),
    ]
    assert AlertKind.GROWTH_FALTERING not in found(rs, history, date(2025, 7, 2))


@pytest.mark.parametrize(
    ("days", "w2", "flat"), [(28, 8.0, True), (28, 7.9, True), (28, 8.001, False), (27, 8.0, False)]
)
def test_flat_curve(rs: RuleSet, days: int, w2: float, flat: bool) -> None:
    d1 = date(2025, 9, 1)
    history = [
        point("o1", d1, zwei=0.0, weight=8.0),
        point("o2", d1 + timedelta(days=days), zwei=0.0, weight=w2),
    ]
    assert (AlertKind.FLAT_GROWTH in found(rs, history, d1 + timedelta(days=days))) is flat


def test_flat_curve_skips_too_close_measurement(rs: RuleSet) -> None:
    d = date(2025, 9, 1)
    history = [
        point("o1", d, zwei=0.0, weight=8.0),
        point("o2", d + timedelta(days=20), zwei=0.0, weight=7.5),
        point("o3", d + timedelta(days=30), zwei=0.0, weight=8.0),
    ]
    f = velocity_findings("c1", BIRTH, history, rs.velocity, d + timedelta(days=30))
    (flat,) = [x for x in f if x.kind is AlertKind.FLAT_GROWTH]
    assert flat.evidence_ids == ("o1", "o3")


def test_allowed_gap_by_age_and_centre(rs: RuleSet) -> None:
    rule = rs.velocity.measurement_gap
    assert allowed_gap_days(BIRTH, date(2025, 6, 1), rule, enrolled_in_centre=False) == 92 + 14
    assert allowed_gap_days(BIRTH, date(2026, 1, 1), rule, enrolled_in_centre=False) == 183 + 14
    assert allowed_gap_days(BIRTH, date(2026, 1, 1), rule, enrolled_in_centre=True) == 92 + 14
    assert allowed_gap_days(BIRTH, date(2032, 1, 1), rule, enrolled_in_centre=False) is None


@pytest.mark.parametrize(("gap", "overdue"), [(106, False), (107, True)])
def test_measurement_overdue_boundary(rs: RuleSet, gap: int, overdue: bool) -> None:
    last = date(2025, 3, 1)
    history = [point("o1", last, zwei=0.0)]
    assert (
        AlertKind.MEASUREMENT_OVERDUE in found(rs, history, last + timedelta(days=gap))
    ) is overdue


def test_never_measured_counts_from_birth(rs: RuleSet) -> None:
    assert AlertKind.MEASUREMENT_OVERDUE in found(rs, [], BIRTH + timedelta(days=107))
    assert AlertKind.MEASUREMENT_OVERDUE not in found(rs, [], BIRTH + timedelta(days=106))


def test_child_who_falters_then_recovers(rs: RuleSet) -> None:
    """Visits at 3, 6, 8, 12 m: z drops by 0.9 between 3 and 6 m, then climbs back."""
    visits = [
        (date(2025, 4, 1), 0.2, 6.4),
        (date(2025, 7, 1), -0.7, 6.9),
        (date(2025, 9, 1), -0.5, 7.6),
        (date(2026, 1, 1), -0.1, 8.9),
    ]
    history: list[GrowthPoint] = []
    seen = []
    for i, (d, z, w) in enumerate(visits):
        history.append(point(f"o{i}", d, zwei=z, zlen=0.0, weight=w))
        seen.append(set(found(rs, history, d)))
    assert AlertKind.GROWTH_FALTERING not in seen[0]
    assert AlertKind.GROWTH_FALTERING in seen[1]
    assert AlertKind.GROWTH_FALTERING not in seen[2]
    assert seen[3] == set()


def test_vectorised_equals_scalar(rs: RuleSet) -> None:
    histories = {
        "a": [
            point("a1", date(2025, 4, 1), zwei=0.2, weight=6.0),
            point("a2", date(2025, 7, 1), zwei=-0.6, weight=6.0),
        ],
        "b": [
            point("b1", date(2025, 4, 1), zwei=-1.0, zlen=0.1),
            point("b2", date(2025, 5, 1), zwei=-0.2, zlen=-0.7),
        ],
        "c": [point("c1", date(2025, 2, 1), zwei=0.0, fwei=True)],
        "d": [],
    }
    as_of = date(2025, 7, 20)
    rows = []
    for cid, pts in histories.items():
        for p in pts:
            rows.append(
                {
                    "child_id": cid,
                    "observation_id": p.observation_id,
                    "date": pd.Timestamp(p.on),
                    "age_days": p.age_days,
                    "zwei": p.zwei,
                    "zlen": p.zlen,
                    "fwei": int(p.fwei),
                    "weight": p.weight,
                }
            )
    growth = pd.DataFrame(rows).astype({"zwei": float, "zlen": float, "weight": float})
    children = pd.DataFrame(
        {
            "child_id": list(histories),
            "birth_date": pd.Timestamp(BIRTH),
            "centre_id": [None, "org1", None, None],
        }
    )
    batch = set(frame_to_findings(velocity_frame(growth, children, rs.velocity, as_of)))
    scalar = set()
    for cid, pts in histories.items():
        scalar |= set(
            velocity_findings(cid, BIRTH, pts, rs.velocity, as_of, enrolled_in_centre=cid == "b")
        )
    assert batch == scalar
    assert {f.kind for f in scalar} >= {
        AlertKind.GROWTH_FALTERING,
        AlertKind.RAPID_WEIGHT_GAIN,
        AlertKind.FLAT_GROWTH,
        AlertKind.MEASUREMENT_OVERDUE,
    }
