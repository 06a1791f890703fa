from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pandas as pd
import pytest

from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.nutrition import GrowthPoint
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.velocity import allowed_gap_days, velocity_findings
from healthbridge.clinical.velocity_batch import velocity_frame
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


# --- faltering: NICE NG75 §1.2 thresholds for concern ------------------------------------
# "a fall across 1 or more weight centile spaces if birthweight was below the 9th centile;
# 2 or more if between the 9th and 91st; 3 or more if above the 91st; or current weight below
# the 2nd centile whatever the birthweight" (a centile space = 2/3 SD: 0.67, 1.33, 2.00).


@pytest.mark.parametrize(
    ("birth_z", "peak", "after", "falters"),
    [
        (-1.5, -0.5, -1.16, False),  # birth < 9th centile: 1 space
        (-1.5, -0.5, -1.17, True),
        (0.0, 0.0, -1.32, False),  # 9th-91st: 2 spaces
        (0.0, 0.0, -1.33, True),
        (1.5, 1.5, -0.49, False),  # > 91st: 3 spaces
        (1.5, 1.5, -0.50, True),
    ],
)
def test_ng75_weight_fall_by_birth_weight_centile(
    rs: RuleSet, birth_z: float, peak: float, after: float, falters: bool
) -> None:
    history = [
        point("b", BIRTH, zwei=birth_z),
        point("o1", date(2025, 3, 1), zwei=peak),
        point("o2", date(2025, 5, 1), zwei=after),
    ]
    assert (AlertKind.GROWTH_FALTERING in found(rs, history, date(2025, 5, 2))) is falters


def test_one_centile_space_drift_is_not_faltering_for_a_normal_birth_weight(rs: RuleSet) -> None:
    # the review's case: normal drift of one centile space (0.67 < 2 spaces)
    history = [point("o1", date(2025, 4, 1), zwei=0.5), point("o2", date(2025, 7, 1), zwei=-0.2)]
    assert AlertKind.GROWTH_FALTERING not in found(rs, history, date(2025, 7, 2))


def test_unknown_birth_weight_uses_two_spaces(rs: RuleSet) -> None:
    history = [point("o1", date(2025, 4, 1), zwei=0.5), point("o2", date(2025, 7, 1), zwei=-0.83)]
    assert AlertKind.GROWTH_FALTERING in found(rs, history, date(2025, 7, 2))


@pytest.mark.parametrize(("z", "falters"), [(-2.05, False), (-2.06, True)])
def test_weight_below_the_2nd_centile_is_faltering(rs: RuleSet, z: float, falters: bool) -> None:
    history = [point("o1", date(2025, 7, 1), zwei=z)]
    assert (AlertKind.GROWTH_FALTERING in found(rs, history, date(2025, 7, 2))) is falters


def test_fall_is_measured_from_the_highest_earlier_value(rs: RuleSet) -> None:
    history = [
        point("o1", date(2025, 3, 1), zwei=0.4),
        point("o2", date(2025, 5, 1), zwei=-0.3),
        point("o3", date(2025, 7, 1), zwei=-1.0),  # 1.4 below o1, 0.7 below o2
    ]
    (f,) = [
        x
        for x in velocity_findings("c1", BIRTH, history, rs.velocity, date(2025, 7, 2))
        if x.kind is AlertKind.GROWTH_FALTERING
    ]
    assert f.evidence_ids == ("o1", "o3")
    assert f.detail == "zwei 0.40->-1.00 (2 centile spaces)"


def test_weights_less_than_four_weeks_apart_are_not_compared(rs: RuleSet) -> None:
    history = [point("o1", date(2025, 6, 4), zwei=0.5), point("o2", date(2025, 7, 1), zwei=-1.5)]
    assert AlertKind.GROWTH_FALTERING not in found(rs, history, date(2025, 7, 2))


def test_length_drop_within_seven_days_is_not_faltering(rs: RuleSet) -> None:
    # the review's case: a 1.6 cm length "drop" in 7 days is measurement noise
    history = [point("o1", date(2025, 6, 24), zlen=0.2), point("o2", date(2025, 7, 1), zlen=-1.6)]
    assert AlertKind.GROWTH_FALTERING not in found(rs, history, date(2025, 7, 2))


@pytest.mark.parametrize(("days", "falters"), [(60, False), (61, True)])
def test_length_fall_needs_two_months(rs: RuleSet, days: int, falters: bool) -> None:
    d = date(2025, 4, 1)
    history = [point("o1", d, zlen=0.0), point("o2", d + timedelta(days=days), zlen=-1.33)]
    result = found(rs, history, d + timedelta(days=days))
    assert (result.get(AlertKind.GROWTH_FALTERING) == ("zlen",)) is falters


def test_no_comparison_across_the_corrected_age_switch(rs: RuleSet) -> None:
    """A 28-week infant growing on the median: scored at corrected age until 24 months
    corrected, then at chronological age (lower z for the same child): never compared."""
    birth = date(2024, 1, 1)
    history = [
        point("o1", date(2025, 10, 1), birth, zwei=0.0, zlen=0.0, corrected=True),
        point("o2", date(2026, 3, 1), birth, zwei=-1.5, zlen=-1.5, corrected=False),
    ]
    out = velocity_findings("c1", birth, history, rs.velocity, date(2026, 3, 2))
    assert AlertKind.GROWTH_FALTERING not in {f.kind for f in out}
    later = [*history, point("o3", date(2026, 7, 1), birth, zwei=-2.9, corrected=False)]
    out = velocity_findings("c1", birth, later, rs.velocity, date(2026, 7, 2))
    (f,) = [x for x in out if x.kind is AlertKind.GROWTH_FALTERING]
    assert f.evidence_ids[0] == "o2"  # compared with the chronological-age point only


# --- rapid weight gain: Ong et al. BMJ 2000, birth to 2 years ------------------------------
# "a gain in weight SD score greater than 0.67 between birth and 2 years"


@pytest.mark.parametrize(("after", "rapid"), [(-0.33, False), (-0.32, True)])
def test_rapid_gain_from_birth(rs: RuleSet, after: float, rapid: bool) -> None:
    history = [point("b", BIRTH, zwei=-1.0), point("o2", date(2025, 7, 1), zwei=after)]
    assert (AlertKind.RAPID_WEIGHT_GAIN in found(rs, history, date(2025, 7, 2))) is rapid


def test_rapid_gain_is_not_judged_between_two_later_points(rs: RuleSet) -> None:
    history = [
        point("o1", date(2025, 4, 1), zwei=-1.0),
        point("o2", date(2025, 7, 1), zwei=0.5),
    ]
    assert AlertKind.RAPID_WEIGHT_GAIN not in found(rs, history, date(2025, 7, 2))


@pytest.mark.parametrize(("age", "rapid"), [(730, True), (731, False)])
def test_rapid_gain_only_up_to_two_years(rs: RuleSet, age: int, rapid: bool) -> None:
    history = [point("b", BIRTH, zwei=-1.0), point("o2", BIRTH + timedelta(days=age), zwei=0.0)]
    assert (AlertKind.RAPID_WEIGHT_GAIN in found(rs, history, BIRTH + timedelta(days=age))) is rapid


def test_no_rapid_gain_for_a_wasted_child_recovering(rs: RuleSet) -> None:
    history = [
        point("b", BIRTH, zwei=0.0),
        point("o1", date(2025, 5, 1), zwei=-2.2, zwfl=-2.6),
        point("o2", date(2025, 9, 1), zwei=0.8, zwfl=0.5),
    ]
    assert AlertKind.RAPID_WEIGHT_GAIN not in found(rs, history, date(2025, 9, 2))
    well = [history[0], replace(history[1], zwfl=-1.0), history[2]]
    assert AlertKind.RAPID_WEIGHT_GAIN in found(rs, well, date(2025, 9, 2))


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
    assert allowed_gap_days(BIRTH, date(2025, 6, 1), rule, enrolled_in_centre=False) == 123 + 14
    assert allowed_gap_days(BIRTH, date(2026, 1, 1), rule, enrolled_in_centre=False) == 184 + 14
    assert allowed_gap_days(BIRTH, date(2026, 1, 1), rule, enrolled_in_centre=True) == 92 + 14
    assert allowed_gap_days(BIRTH, date(2032, 1, 1), rule, enrolled_in_centre=False) is None


@pytest.mark.parametrize(("gap", "overdue"), [(137, False), (138, True)])
def test_measurement_overdue_boundary(rs: RuleSet, gap: int, overdue: bool) -> None:
    last = date(2025, 3, 1)
    history = [point("o1", last, zwei=0.0)]
    assert (
        AlertKind.MEASUREMENT_OVERDUE in found(rs, history, last + timedelta(days=gap))
    ) is overdue


def test_never_measured_counts_from_birth(rs: RuleSet) -> None:
    assert AlertKind.MEASUREMENT_OVERDUE in found(rs, [], BIRTH + timedelta(days=138))
    assert AlertKind.MEASUREMENT_OVERDUE not in found(rs, [], BIRTH + timedelta(days=137))


def test_no_measurement_overdue_before_the_12_month_visit(rs: RuleSet) -> None:
    """0-6 visit schedule (DOMAIN.md §2.1): 3, 6, 8, 12 months. An infant measured at the
    8-month visit is not overdue before (or within the grace after) the 12-month visit."""
    at_8m = date(2025, 9, 1)
    history = [point("o8", at_8m, zwei=0.0)]
    for day in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 14)):
        assert AlertKind.MEASUREMENT_OVERDUE not in found(rs, history, day)


def test_child_who_falters_then_recovers(rs: RuleSet) -> None:
    """Visits at 3, 6, 8, 12 m: z falls by 1.4 (2 spaces) between 3 and 6 m, then climbs back
    to within 2 spaces of where it was."""
    visits = [
        (date(2025, 4, 1), 0.2, 6.4),
        (date(2025, 7, 1), -1.2, 6.9),
        (date(2025, 9, 1), -0.9, 7.6),
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
            point("a2", date(2025, 7, 1), zwei=-1.2, weight=6.0),
        ],
        "b": [
            point("b0", BIRTH, zwei=-1.0),
            point("b1", date(2025, 3, 1), zwei=-1.0, zlen=0.1),
            point("b2", date(2025, 5, 1), zwei=-0.2, zlen=-1.3),
        ],
        "c": [point("c1", date(2025, 2, 1), zwei=0.0, fwei=True)],
        "d": [],
        "e": [  # low birth weight: 1 space; highest earlier of equal values the latest
            point("e0", BIRTH, zwei=-1.5),
            point("e1", date(2025, 2, 1), zwei=-0.5),
            point("e2", date(2025, 3, 1), zwei=-0.5),
            point("e3", date(2025, 4, 15), zwei=-2.2),
        ],
        "f": [  # corrected-age switch, then wasting and recovery
            point("f0", BIRTH, zwei=0.5, corrected=True),
            point("f1", date(2025, 3, 1), zwei=-2.3, zwfl=-2.5, corrected=True),
            point("f2", date(2025, 6, 1), zwei=1.4, corrected=True),
            point("f3", date(2025, 7, 1), zwei=-1.0, corrected=False),
        ],
        "g": [  # rapid gain from birth, no wasting
            point("g0", BIRTH + timedelta(days=2), zwei=-1.2, zbmi=-1.0),
            point("g1", date(2025, 6, 1), zwei=-0.1, zbmi=-2.5, fbmi=True),
        ],
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
                    "zwfl": p.zwfl,
                    "zbmi": p.zbmi,
                    "fwei": int(p.fwei),
                    "fbmi": int(p.fbmi),
                    "weight": p.weight,
                    "corrected": p.corrected,
                }
            )
    growth = pd.DataFrame(rows).astype(
        {"zwei": float, "zlen": float, "zwfl": float, "zbmi": float, "weight": float}
    )
    children = pd.DataFrame(
        {
            "child_id": list(histories),
            "birth_date": pd.Timestamp(BIRTH),
            "centre_id": [None, "org1", None, None, None, None, None],
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
