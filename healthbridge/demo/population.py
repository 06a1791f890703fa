"""Draw a synthetic district as tables: who exists, who is enrolled where, what was measured.

The district (:mod:`healthbridge.demo.organisations`: hospitals, centres, classes, staff) has
children aged 0–3 years with their guardians, enrolled in the class of their age; their growth
(:mod:`healthbridge.demo.growth`: checkup and centre visits with WHO-based measurements),
immunisations and certificate checks (:mod:`healthbridge.demo.immunisations`, judged by the
clinical rules) and the centres' morning checks. The same seed and as-of date always give the
same district.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from growth_standards import Sex
from healthbridge.clinical.ages import add_months
from healthbridge.clinical.tables_vaccination import VaccinationTable
from healthbridge.demo.growth import (
    ARCHETYPE_SHARES,
    DAYS_PER_MONTH,
    Archetype,
    visits,
)
from healthbridge.demo.immunisations import admission_states, doses
from healthbridge.demo.organisations import (
    CENTRE_AGREEMENTS,
    CENTRE_PLACES,
    CLASS_LAYOUT,
    CLASS_NAMES_ZH,
    Agreement,
    ClassKind,
    ClassRoom,
    Organization,
    OrgKind,
    Practitioner,
    classes,
    draw_name,
    organizations,
    practitioners,
)
from healthbridge.demo.screenings import screenings

__all__ = [
    "CENTRE_AGREEMENTS",
    "CENTRE_PLACES",
    "CLASS_LAYOUT",
    "CLASS_NAMES_ZH",
    "DAYS_PER_MONTH",
    "Agreement",
    "Archetype",
    "Child",
    "ClassKind",
    "ClassRoom",
    "District",
    "Guardian",
    "OrgKind",
    "Organization",
    "Practitioner",
    "add_months",
    "generate",
]

#: Share of children born preterm (< 37 weeks), drawn independently of the archetype.
PRETERM_SHARE = 0.06
#: Days of morning health checks (晨检) generated before the as-of date.
DAILY_CHECK_DAYS = 10
SYMPTOMS = ("cough", "runny-nose", "sore-throat", "diarrhoea", "vomiting", "rash")


@dataclass(frozen=True, slots=True)
class Child:
    """One child of the district and how they are drawn."""

    id: str
    record_number: str
    family_name: str
    given_name: str
    sex: Sex
    birth_date: dt.date
    gestational_age_weeks: float
    archetype: Archetype
    hospital_id: str
    centre_id: str | None
    class_id: str | None
    enrolled_since: dt.date | None
    consent_to_hospital: bool
    #: entry check of the vaccination certificate (AdmissionState value; None: not enrolled)
    admission_state: str | None = None


@dataclass(frozen=True, slots=True)
class Guardian:
    """A parent or grandparent with legal guardianship (监护人)."""

    id: str
    child_id: str
    relationship: str  # v3-RoleCode: MTH, FTH, GRMTH
    family_name: str
    given_name: str
    gender: str
    phone: str


@dataclass(slots=True)
class District:
    """The whole synthetic district; tables are pandas DataFrames with documented columns.

    ``visits``: child_id, visit (checkup code), date, age_days, place_id (organisation),
    practitioner_id, weight_kg, lenhei_cm, measure ("l"/"h"), headc_cm (NaN when not taken),
    hb_g_l (NaN when not taken), screenings (tuple of ScreeningEntry recorded at the visit,
    :mod:`healthbridge.demo.screenings`).
    ``daily_checks``: child_id, class_id, centre_id, date, temperature_c, symptoms (tuple).
    ``doses``: child_id, vaccine (NIP code), series, dose (number in series), date, lot,
    place_id.
    """

    as_of: dt.date
    seed: int
    organizations: list[Organization] = field(default_factory=list)
    classes: list[ClassRoom] = field(default_factory=list)
    practitioners: list[Practitioner] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    guardians: list[Guardian] = field(default_factory=list)
    visits: pd.DataFrame = field(default_factory=pd.DataFrame)
    daily_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    doses: pd.DataFrame = field(default_factory=pd.DataFrame)
    schedule: str = ""


def generate(
    *,
    children: int = 600,
    seed: int = 20261122,
    as_of: dt.date | None = None,
    schedule: VaccinationTable | None = None,
) -> District:
    """Draw a district of ``children`` children aged 0–3 years at ``as_of`` (default today).

    Vaccinations follow ``schedule`` (default: the current national rule set's NIP edition),
    with some doses missed and some of those caught up. Reproducible: the same arguments give
    identical tables.
    """
    if children < 1:
        raise ValueError("children must be at least 1")
    as_of = as_of or dt.date.today()
    rng = np.random.default_rng(seed)
    orgs = organizations(as_of)
    centres = [o for o in orgs if o.kind is OrgKind.CHILDCARE_CENTRE]
    hospitals = [o for o in orgs if o.kind is not OrgKind.CHILDCARE_CENTRE]
    rooms = classes(centres)
    district = District(as_of=as_of, seed=seed, organizations=orgs, classes=rooms)
    district.practitioners = practitioners(rng, orgs)

    kids, guardians = _children(rng, children, as_of, hospitals, rooms)
    district.children = kids
    district.guardians = guardians
    district.visits = visits(rng, kids, as_of, district.practitioners)
    # the screenings recorded at the visits, from their own stream (other tables unchanged)
    district.visits["screenings"] = screenings(np.random.default_rng(seed + 2), district.visits)
    district.daily_checks = _daily_checks(rng, kids, as_of)
    if schedule is None:
        from healthbridge.clinical.ruleset import load_ruleset

        schedule = load_ruleset("cn-child-health", "2026.1").vaccination
    district.schedule = schedule.meta.id
    district.doses = doses(rng, kids, as_of, schedule)
    # a separate stream, so adding admission states left every other table unchanged
    district.children, catch_up = admission_states(
        np.random.default_rng(seed + 1), kids, district.doses, as_of, schedule
    )
    if catch_up:
        district.doses = (
            pd.concat([district.doses, pd.DataFrame(catch_up, columns=district.doses.columns)])
            .sort_values(["child_id", "date", "series"], kind="stable")
            .reset_index(drop=True)
        )
    return district


def _children(
    rng: np.random.Generator,
    count: int,
    as_of: dt.date,
    hospitals: Sequence[Organization],
    rooms: Sequence[ClassRoom],
) -> tuple[list[Child], list[Guardian]]:
    kids: list[Child] = []
    guardians: list[Guardian] = []
    archetypes = list(ARCHETYPE_SHARES)
    shares = np.array([ARCHETYPE_SHARES[a] for a in archetypes])
    rooms_by_kind = {kind: [r for r in rooms if r.kind is kind] for kind in ClassKind}
    fill = dict.fromkeys((r.id for r in rooms), 0)
    for i in range(count):
        age_days = int(rng.integers(14, 3 * 365))
        birth = as_of - dt.timedelta(days=age_days)
        sex = Sex.MALE if rng.random() < 0.52 else Sex.FEMALE
        draw = rng.random()
        cumulative = np.cumsum(shares)
        pick = int(np.searchsorted(cumulative, draw, side="right"))
        archetype = archetypes[pick] if pick < len(archetypes) else Archetype.TYPICAL
        preterm = rng.random() < PRETERM_SHARE
        ga = (
            float(np.round(rng.uniform(30.0, 36.9), 1))
            if preterm
            else float(np.round(rng.uniform(37.0, 41.5), 1))
        )
        family, given = draw_name(rng)
        room: ClassRoom | None = None
        enrolled: dt.date | None = None
        if add_months(birth, 6) <= as_of and rng.random() < 0.85:
            kind = next(
                k
                for k, (lo, hi, _n) in CLASS_LAYOUT.items()
                if add_months(birth, lo) <= as_of < add_months(birth, hi)
            )
            candidates = rooms_by_kind[kind]
            room = min(candidates, key=lambda r: (fill[r.id], r.id))
            fill[room.id] += 1
            earliest = add_months(birth, 6)
            span = max((as_of - earliest).days, 1)
            enrolled = earliest + dt.timedelta(days=int(rng.integers(0, span)))
        child_id = f"child-{i + 1:06d}"
        hospital = hospitals[int(rng.integers(len(hospitals)))]
        kids.append(
            Child(
                id=child_id,
                record_number=f"HB{330108_000000 + i + 1}",
                family_name=family,
                given_name=given,
                sex=sex,
                birth_date=birth,
                gestational_age_weeks=ga,
                archetype=archetype,
                hospital_id=hospital.id,
                centre_id=room.centre_id if room else None,
                class_id=room.id if room else None,
                enrolled_since=enrolled,
                consent_to_hospital=bool(rng.random() < 0.9),
            )
        )
        for n, (rel, gender) in enumerate((("MTH", "female"), ("FTH", "male"))):
            if n == 1 and rng.random() < 0.3:
                break
            g_given = draw_name(rng)[1]
            guardians.append(
                Guardian(
                    id=f"rp-{i + 1:06d}-{n + 1}",
                    child_id=child_id,
                    relationship=rel,
                    family_name=family if rel == "FTH" else draw_name(rng)[0],
                    given_name=g_given,
                    gender=gender,
                    phone=f"1{int(rng.integers(30, 90))}{int(rng.integers(10**8)):08d}",
                )
            )
    return kids, guardians


def _daily_checks(rng: np.random.Generator, kids: Sequence[Child], as_of: dt.date) -> pd.DataFrame:
    """Morning checks (晨检) for enrolled children on the last weekdays before ``as_of``, with one
    class cluster on the latest of them. The as-of day itself is left to the user: its morning
    check has not been done yet (the demo's health manager does it; tests that record a check
    today see only their own)."""
    days: list[dt.date] = []
    day = as_of - dt.timedelta(days=1)
    while len(days) < DAILY_CHECK_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    enrolled = [c for c in kids if c.class_id is not None and c.enrolled_since is not None]
    rows: list[dict[str, object]] = []
    for child in enrolled:
        for d in days:
            if d < (child.enrolled_since or d) or rng.random() < 0.06:  # absent
                continue
            temp = float(np.round(rng.normal(36.6, 0.22), 1))
            symptoms: tuple[str, ...] = ()
            if rng.random() < 0.015:
                temp = float(np.round(rng.uniform(37.4, 39.2), 1))
                symptoms = (str(rng.choice(SYMPTOMS)),)
            elif rng.random() < 0.02:
                symptoms = (str(rng.choice(SYMPTOMS)),)
            rows.append(
                {
                    "child_id": child.id,
                    "class_id": child.class_id,
                    "centre_id": child.centre_id,
                    "date": d,
                    "temperature_c": temp,
                    "symptoms": symptoms,
                }
            )
    frame = pd.DataFrame(
        rows, columns=["child_id", "class_id", "centre_id", "date", "temperature_c", "symptoms"]
    )
    if not frame.empty:
        # one class with a fever-and-rash cluster on the latest day (an outbreak-report case)
        latest = frame["date"] == days[0]
        first_class = sorted(frame.loc[latest, "class_id"].unique())[0]
        cluster = frame.index[latest & (frame["class_id"] == first_class)][:3]
        frame.loc[cluster, "temperature_c"] = [38.2, 38.6, 37.9][: len(cluster)]
        frame.loc[cluster, "symptoms"] = pd.Series([("rash",)] * len(cluster), index=cluster)
    return frame
