"""The growth of the synthetic children: checkup and centre visits with measurements.

Children aged 0–3 years follow the national 0–6 checkup schedule (DOMAIN.md §2.1), and enrolled
children are also measured quarterly at their centre (DOMAIN.md §3.4, a regional parameter).
Values come from per-child z-score trajectories turned into measurements with the WHO
standards (:func:`growth_standards.value_at_z`), so the demo population contains children who
are typical, stunted, wasted, overweight, faltering, preterm or microcephalic in known
proportions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from growth_standards import Indicator, Sex, value_at_z
from healthbridge.clinical.ages import add_months
from healthbridge.demo.organisations import Practitioner

if TYPE_CHECKING:
    from healthbridge.demo.population import Child


#: Average days in a month, as WHO uses to convert ages (anthro: 30.4375 days per month).
DAYS_PER_MONTH = 30.4375


class Archetype(StrEnum):
    """The growth pattern a synthetic child is drawn with."""

    TYPICAL = "typical"
    STUNTED = "stunted"
    WASTED = "wasted"
    OVERWEIGHT = "overweight"
    FALTERING = "faltering"
    MICROCEPHALY = "microcephaly"


#: Share of each archetype in the population (the rest are typical).
ARCHETYPE_SHARES: dict[Archetype, float] = {
    Archetype.STUNTED: 0.05,
    Archetype.WASTED: 0.03,
    Archetype.OVERWEIGHT: 0.06,
    Archetype.FALTERING: 0.05,
    Archetype.MICROCEPHALY: 0.01,
}


#: Scheduled checkup ages in months (DOMAIN.md §2.1), with the newborn visit at day 7.
CHECKUP_MONTHS: tuple[tuple[str, int], ...] = (
    ("1m", 1),
    ("3m", 3),
    ("6m", 6),
    ("8m", 8),
    ("12m", 12),
    ("18m", 18),
    ("24m", 24),
    ("30m", 30),
    ("36m", 36),
)
#: Visits with a haemoglobin test (DOMAIN.md §2.1: Hb at 6, 8, 18, 30 months).
HB_VISITS = frozenset({"6m", "8m", "18m", "30m"})
#: Chance that a scheduled checkup was missed, so the demo has overdue/missed visits.
MISSED_VISIT_SHARE = 0.06
#: Centre growth measurement interval in days (quarterly, DOMAIN.md §3.4 local practice).
CENTRE_MEASUREMENT_DAYS = 91


def _trajectory(
    rng: np.random.Generator, archetype: Archetype, ages_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Length-for-age, weight-for-length and head-circumference z at each age (months)."""
    n = len(ages_m)
    walk = rng.normal(0.0, 0.15, size=(3, n)).cumsum(axis=1)
    base = rng.normal(0.0, 0.7, size=3)
    zl, zw, zh = base[0] + walk[0], base[1] + walk[1], base[2] + walk[2]
    if archetype is Archetype.STUNTED:
        zl = zl - 2.6 - base[0]
    elif archetype is Archetype.WASTED:
        zw = np.where(ages_m > ages_m.max() - 7, zw - 2.5 - base[1], zw)
    elif archetype is Archetype.OVERWEIGHT:
        zw = zw + 2.0 - base[1]
    elif archetype is Archetype.FALTERING and n >= 3:
        # a fall of about one and a half major centile bands over the last three visits
        drop = np.zeros(n)
        drop[-3:] = [0.0, -0.8, -1.6]
        zw = zw + drop
        zl = zl + drop / 2
    elif archetype is Archetype.MICROCEPHALY:
        zh = zh - 2.4 - base[2]
    return zl, zw, zh


def visits(
    rng: np.random.Generator,
    kids: Sequence[Child],
    as_of: dt.date,
    practitioners: Sequence[Practitioner],
) -> pd.DataFrame:
    by_org: dict[str, list[str]] = {}
    for p in practitioners:
        by_org.setdefault(p.org_id, []).append(p.id)
    rows: list[dict[str, object]] = []
    for child in kids:
        sessions: list[tuple[str, dt.date, str]] = [("birth", child.birth_date, child.hospital_id)]
        newborn = child.birth_date + dt.timedelta(days=int(rng.integers(3, 8)))
        if newborn <= as_of:
            sessions.append(("newborn-home", newborn, child.hospital_id))
        for code, months in CHECKUP_MONTHS:
            day = add_months(child.birth_date, months) + dt.timedelta(days=int(rng.integers(0, 12)))
            if day > as_of:
                break
            if rng.random() < MISSED_VISIT_SHARE:
                continue
            sessions.append((code, day, child.hospital_id))
        if child.enrolled_since is not None and child.centre_id is not None:
            day = child.enrolled_since + dt.timedelta(days=int(rng.integers(0, 14)))
            while day <= as_of:
                sessions.append(("centre-growth", day, child.centre_id))
                day += dt.timedelta(days=CENTRE_MEASUREMENT_DAYS + int(rng.integers(-7, 8)))
        sessions.sort(key=lambda s: s[1])
        ages_days = np.array([(d - child.birth_date).days for _c, d, _o in sessions])
        # growth is drawn on corrected age for preterm children until 24 months (WHO/早产儿保健)
        shift = (
            round((40 - child.gestational_age_weeks) * 7) if child.gestational_age_weeks < 37 else 0
        )
        corrected = np.where(ages_days < 731, np.maximum(ages_days - shift, 0), ages_days)
        zl, zw, zh = _trajectory(rng, child.archetype, corrected / DAYS_PER_MONTH)
        for (code, day, org), age, cage, a, b, c in zip(
            sessions, ages_days, corrected, zl, zw, zh, strict=True
        ):
            rows.append(
                {
                    "child_id": child.id,
                    "sex": int(child.sex),
                    "visit": code,
                    "date": day,
                    "age_days": int(age),
                    "growth_age_days": int(cage),
                    "place_id": org,
                    "practitioner_id": by_org[org][int(rng.integers(len(by_org[org])))],
                    "z_len": float(a),
                    "z_wfl": float(b),
                    "z_hc": float(c),
                    "hb_g_l": float(np.round(rng.normal(120.0, 10.0)))
                    if code in HB_VISITS
                    else np.nan,
                    "takes_hc": code != "centre-growth" and int(age) <= 3 * 365 + 30,
                    "preterm_birth": shift > 0 and code == "birth",
                    "ga_weeks": child.gestational_age_weeks,
                }
            )
    frame = pd.DataFrame(rows)
    return _measure(frame, rng)


def _measure(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Turn z trajectories into measurements with the WHO standards (vectorised per sex)."""
    frame = frame.copy()
    frame["measure"] = np.where(frame["age_days"] < 731, "l", "h")
    frame["lenhei_cm"] = np.nan
    frame["weight_kg"] = np.nan
    frame["headc_cm"] = np.nan
    for sex in (Sex.MALE, Sex.FEMALE):
        m = frame["sex"] == int(sex)
        age = frame.loc[m, "growth_age_days"].to_numpy(dtype=float)
        length = value_at_z(Indicator.LHFA, sex, age, frame.loc[m, "z_len"].to_numpy())
        lying = frame.loc[m, "measure"].to_numpy() == "l"
        weight = np.where(
            lying,
            value_at_z(
                Indicator.WFL, sex, np.clip(length, 45.0, 110.0), frame.loc[m, "z_wfl"].to_numpy()
            ),
            value_at_z(
                Indicator.WFH, sex, np.clip(length, 65.0, 120.0), frame.loc[m, "z_wfl"].to_numpy()
            ),
        )
        hc = value_at_z(Indicator.HCFA, sex, age, frame.loc[m, "z_hc"].to_numpy())
        frame.loc[m, "lenhei_cm"] = length
        frame.loc[m, "weight_kg"] = weight
        frame.loc[m, "headc_cm"] = hc
    # preterm newborns: birth size from gestational age (synthetic, not a reference)
    pre = frame["preterm_birth"].to_numpy()
    ga = frame.loc[pre, "ga_weeks"].to_numpy()
    frame.loc[pre, "weight_kg"] = 1.3 + (ga - 30.0) * 0.21 + rng.normal(0, 0.12, pre.sum())
    frame.loc[pre, "lenhei_cm"] = 40.0 + (ga - 30.0) * 1.1 + rng.normal(0, 0.8, pre.sum())
    frame.loc[pre, "headc_cm"] = 28.0 + (ga - 30.0) * 0.8 + rng.normal(0, 0.5, pre.sum())
    # scales read to 0.01 kg, boards to 0.1 cm, tapes to 0.1 cm
    frame["weight_kg"] = frame["weight_kg"].round(2)
    frame["lenhei_cm"] = frame["lenhei_cm"].round(1)
    frame["headc_cm"] = frame["headc_cm"].where(frame["takes_hc"]).round(1)
    return frame.drop(columns=["z_len", "z_wfl", "z_hc", "takes_hc", "preterm_birth", "ga_weeks"])
