"""A seeded synthetic district (frames as in :mod:`healthbridge.clinical.frames`).

Used by the batch-versus-incremental tests and by ``bench/evaluate.py``. The z-scores are a
random walk, not WHO-scored measurements: this module exercises the rules, it does not model
real growth. Everything derives from one ``numpy.random.Generator`` seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from healthbridge.clinical.admission import AdmissionState
from healthbridge.clinical.ages import add_age, parse_age
from healthbridge.clinical.cases import ManagedCase
from healthbridge.clinical.records import DistrictData, cases_frame
from healthbridge.clinical.ruleset import RuleSet

_SYMPTOMS = ("rash", "diarrhoea", "vomiting", "cough", "conjunctivitis", "fever")


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    children: int
    measurements_per_child: int = 12
    as_of: date = date(2026, 11, 20)
    seed: int = 20261120
    centre_size: int = 90
    class_size: int = 15


def synthetic_district(spec: SyntheticSpec, ruleset: RuleSet) -> DistrictData:
    """Generate children aged 0–6 y with growth, checkups, doses, daily checks, Hb, screenings."""
    rng = np.random.default_rng(spec.seed)
    n = spec.children
    as_of = spec.as_of
    ages = rng.integers(0, 6 * 365, n)
    births = [as_of - timedelta(days=int(a)) for a in ages]
    ids = [f"c{i:07d}" for i in range(n)]
    in_centre = rng.random(n) < 0.45
    centre_of = [f"org{i // spec.centre_size:05d}" if in_centre[i] else None for i in range(n)]
    class_of = [
        f"org{i // spec.centre_size:05d}-k{(i % spec.centre_size) // spec.class_size}"
        if in_centre[i]
        else None
        for i in range(n)
    ]
    preterm = rng.random(n) < 0.08
    children = pd.DataFrame(
        {
            "child_id": ids,
            "birth_date": pd.to_datetime(births),
            "sex": np.where(rng.random(n) < 0.5, "male", "female"),
            "centre_id": centre_of,
            "class_id": class_of,
            "discharge_date": pd.to_datetime(
                [
                    b + timedelta(days=int(d))
                    for b, d in zip(births, rng.integers(1, 6, n), strict=True)
                ]
            ),
            "gestational_weeks": np.where(
                preterm, rng.uniform(28, 37, n).round(1), rng.uniform(37, 42, n).round(1)
            ),
        }
    )

    # growth: measurements spread over each child's life, random-walk z-scores
    m = spec.measurements_per_child
    child_idx = np.repeat(np.arange(n), m)
    frac = np.sort(rng.random((n, m)), axis=1).ravel()
    age_days = np.floor(frac * ages[child_idx]).astype(int)
    steps = rng.normal(0, 0.35, (n, m, 5)).cumsum(axis=1)
    base = rng.normal(0, 1.1, (n, 1, 5))
    z = (base + steps).reshape(n * m, 5)
    flagged = rng.random((n * m, 5)) < 0.003
    z = np.where(flagged, np.sign(z) * rng.uniform(5.2, 7, (n * m, 5)), z)
    months = age_days / 30.4375
    weight = (3.3 + np.minimum(months, 12) * 0.55 + np.maximum(months - 12, 0) * 0.18) * (
        1 + 0.1 * z[:, 0]
    )
    zhc = np.where(age_days < 36 * 30.4375, z[:, 4], np.nan)
    birth_arr = np.array(births, dtype="datetime64[D]")
    growth = pd.DataFrame(
        {
            "child_id": np.array(ids, dtype=object)[child_idx],
            "observation_id": [f"g{i:09d}" for i in range(n * m)],
            "date": pd.to_datetime(birth_arr[child_idx] + age_days.astype("timedelta64[D]")),
            "age_days": age_days,
            "zwei": z[:, 0].round(2),
            "zlen": z[:, 1].round(2),
            "zwfl": np.where(rng.random(n * m) < 0.85, z[:, 2].round(2), np.nan),
            "zbmi": z[:, 3].round(2),
            "zhc": np.round(zhc, 2),
            "fwei": flagged[:, 0].astype(int),
            "flen": flagged[:, 1].astype(int),
            "fwfl": flagged[:, 2].astype(int),
            "fbmi": flagged[:, 3].astype(int),
            "fhc": (flagged[:, 4] & ~np.isnan(zhc)).astype(int),
            "weight": weight.round(3),
        }
    )
    growth = growth[growth["date"] <= pd.Timestamp(as_of)].reset_index(drop=True)

    checkups, doses, checks, hb, screens, enrol = [], [], [], [], [], []
    visits = ruleset.checkups.visits
    sched = [
        d
        for d in ruleset.vaccination.doses
        if d.when is None  # special-population doses (HBIG): not for every child
        and (d.option is None or d.option == ruleset.vaccination.default_option(d.series))
    ]
    hb_ages = [parse_age(a) for a in ("6m", "8m", "18m", "30m", "4y", "5y")]
    points = ruleset.screening.age_points
    item_ids = [i.id for p in points for i in p.items]
    recent_days = [as_of - timedelta(days=k) for k in range(3)]
    for i in range(n):
        cid, born = ids[i], births[i]
        for v in visits:
            when = add_age(born, v.age) + timedelta(days=int(rng.integers(0, 25)))
            if when <= as_of and rng.random() < 0.85:
                vt = v.code if rng.random() < 0.7 else None
                checkups.append((cid, f"{cid}-v{v.code}", when, vt))
        for d in sched:
            when = add_age(born, d.age) + timedelta(days=int(rng.integers(0, 45)))
            if when <= as_of and rng.random() < 0.92:
                doses.append((cid, f"{cid}-{d.dose_id}", d.accepts[0], when))
        for a in hb_ages:
            when = add_age(born, a) + timedelta(days=int(rng.integers(0, 20)))
            if when <= as_of and rng.random() < 0.8:
                hb.append((cid, f"{cid}-hb{a}", when, float(round(rng.normal(118, 11)))))
        for p in points:
            when = add_age(born, p.age) + timedelta(days=int(rng.integers(0, 20)))
            if when <= as_of and rng.random() < 0.7:
                pos = tuple(rng.choice(item_ids, 1)) if rng.random() < 0.03 else ()
                screens.append((cid, f"{cid}-s{p.age}", when, pos, bool(rng.random() < 0.005)))
        if centre_of[i] is not None:
            entry = max(born, as_of - timedelta(days=int(rng.integers(0, 400))))
            state = AdmissionState(rng.choice([s.value for s in AdmissionState]))
            enrol.append((cid, centre_of[i], entry, state.value))
            for k, day in enumerate(recent_days):
                fever = rng.random() < 0.03
                temp = float(round(rng.normal(37.8, 0.6) if fever else rng.normal(36.6, 0.25), 1))
                sym = (str(rng.choice(_SYMPTOMS)),) if rng.random() < 0.03 else ()
                checks.append((f"{cid}-d{k}", cid, centre_of[i], class_of[i], day, temp, sym))
    return DistrictData(
        children=children,
        growth=growth,
        checkups=_frame(checkups, ("child_id", "checkup_id", "date", "visit_type")),
        doses=_frame(doses, ("child_id", "immunization_id", "vaccine", "date")),
        daily_checks=_frame(
            checks,
            ("check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms"),
        ),
        haemoglobin=_frame(hb, ("child_id", "observation_id", "date", "hb_g_l")),
        screenings=_frame(
            screens, ("child_id", "screening_id", "date", "positive_items", "regression")
        ),
        enrolments=_frame(
            enrol, ("child_id", "centre_id", "entry_date", "check_state"), date_column="entry_date"
        ),
        cases=_cases(children, ruleset, spec),
    )


def _cases(children: pd.DataFrame, ruleset: RuleSet, spec: SyntheticSpec) -> pd.DataFrame:
    """About 6 % of the children in a managed case (a generator of its own, so the other
    frames do not change): open or closed, with 0–5 follow-ups at jittered intervals."""
    rng = np.random.default_rng(spec.seed + 17)
    codes = [c.code for c in ruleset.cases.conditions]
    rows: list[tuple[str, ManagedCase]] = []
    for cid, born in zip(children["child_id"], children["birth_date"], strict=True):
        if rng.random() >= 0.06:
            continue
        birth = pd.Timestamp(born).date()
        span = (spec.as_of - birth).days
        start = birth + timedelta(days=int(rng.integers(0, max(span, 1))))
        visits, day = [], start
        for _ in range(int(rng.integers(0, 6))):
            day += timedelta(days=int(rng.integers(20, 70)))
            if day <= spec.as_of:
                visits.append(day)
        closed = rng.random() < 0.3
        case = ManagedCase(
            f"{cid}-case",
            str(rng.choice(codes)),
            start,
            not closed,
            (visits[-1] if visits else start) if closed else None,
            str(rng.choice([o.code for o in ruleset.cases.outcomes])) if closed else None,
            tuple(visits),
        )
        rows.append((str(cid), case))
    return cases_frame(rows)


def _frame(
    rows: Sequence[tuple[Any, ...]], columns: tuple[str, ...], date_column: str = "date"
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame[date_column] = pd.to_datetime(frame[date_column])
    return frame
