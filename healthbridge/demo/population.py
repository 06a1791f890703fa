"""Draw a synthetic district as tables: who exists, who is enrolled where, what was measured.

The district mirrors a 医育融合 arrangement (DOMAIN.md §3.8): two hospitals (an MCH hospital
and a community health centre) sign agreements with six childcare centres; each centre has
classes of the three kinds in 《托育机构设置标准（试行）》 (乳儿班 6–12 m, 托小班 12–24 m,
托大班 24–36 m). Children aged 0–3 years follow the national 0–6 checkup schedule
(DOMAIN.md §2.1), and enrolled children are also measured quarterly at their centre
(DOMAIN.md §3.4, a regional parameter).

Growth values come from per-child z-score trajectories turned into measurements with the WHO
standards (:func:`growth_standards.value_at_z`), so the demo population contains children who
are typical, stunted, wasted, overweight, faltering, preterm or microcephalic in known
proportions. The same seed and as-of date always give the same district.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from growth_standards import Indicator, Sex, value_at_z
from healthbridge.clinical.ages import add_age
from healthbridge.clinical.tables_vaccination import DoseRule, VaccinationTable
from healthbridge.clinical.vaccination import edition_rules, rule_at

#: Average days in a month, as WHO uses to convert ages (anthro: 30.4375 days per month).
DAYS_PER_MONTH = 30.4375


class OrgKind(StrEnum):
    """The kinds of organisation in a district's 医育融合 network."""

    MCH_HOSPITAL = "mch-hospital"  # 妇幼保健院
    COMMUNITY_HEALTH_CENTRE = "community-health-centre"  # 社区卫生服务中心
    CHILDCARE_CENTRE = "childcare-centre"  # 托育机构


class ClassKind(StrEnum):
    """Class kinds of 《托育机构设置标准（试行）》 (2019), by age in months."""

    INFANT = "infant"  # 乳儿班, 6–12 months
    TODDLER_YOUNG = "toddler-young"  # 托小班, 12–24 months
    TODDLER_OLD = "toddler-old"  # 托大班, 24–36 months


CLASS_NAMES_ZH = {
    ClassKind.INFANT: "乳儿班",
    ClassKind.TODDLER_YOUNG: "托小班",
    ClassKind.TODDLER_OLD: "托大班",
}

#: Age band (months, [low, high)) and classes per centre for each class kind.
CLASS_LAYOUT: dict[ClassKind, tuple[int, int, int]] = {
    ClassKind.INFANT: (6, 12, 2),
    ClassKind.TODDLER_YOUNG: (12, 24, 3),
    ClassKind.TODDLER_OLD: (24, 36, 3),
}


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

#: Share of children born preterm (< 37 weeks), drawn independently of the archetype.
PRETERM_SHARE = 0.06

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
#: Chance that a scheduled vaccine dose was not given on time; a third of those are caught up.
MISSED_DOSE_SHARE = 0.04
CATCH_UP_SHARE = 0.35
#: Days of morning health checks (晨检) generated before the as-of date.
DAILY_CHECK_DAYS = 10

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "子涵浩宇欣怡梓萱一诺雨泽思源若曦俊熙佳琪晨阳沐辰可馨语桐嘉懿书瑶明轩天佑安然"
SYMPTOMS = ("cough", "runny-nose", "sore-throat", "diarrhoea", "vomiting", "rash")


@dataclass(frozen=True, slots=True)
class Agreement:
    """A centre's signed 医育结合 service agreement with a health institution."""

    hospital_id: str
    start: dt.date
    end: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Organization:
    """A hospital, community health centre or childcare centre.

    Centres carry their registered places (托位数) and their agreements with hospitals."""

    id: str
    kind: OrgKind
    name_zh: str
    name_en: str
    code: str
    places: int | None = None
    agreements: tuple[Agreement, ...] = ()


@dataclass(frozen=True, slots=True)
class ClassRoom:
    """A class (班级) at a childcare centre."""

    id: str
    centre_id: str
    kind: ClassKind
    name_zh: str


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A paediatrician at a hospital or a health manager (保健员) at a centre."""

    id: str
    name: str
    gender: str
    role: str  # "paediatrician" | "health-manager"
    org_id: str


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
    hb_g_l (NaN when not taken).
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


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar-month arithmetic with end-of-month clamping (31 Jan + 1 m = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has at least 28 days")


#: Registered places (托位数) per centre, and which hospitals each centre signed with
#: (``org-mch``/``org-chc``): five of six centres signed, one through both; the community
#: affordable point has not signed yet, and one earlier agreement has ended.
CENTRE_PLACES = (90, 120, 80, 60, 50, 30)
CENTRE_AGREEMENTS: tuple[tuple[str, ...], ...] = (
    ("org-mch",),
    ("org-mch",),
    ("org-mch", "org-chc"),
    ("org-chc",),
    ("org-chc",),
    (),
)


def _organizations(as_of: dt.date) -> list[Organization]:
    hospitals = [
        Organization(
            "org-mch",
            OrgKind.MCH_HOSPITAL,
            "滨江区妇幼保健院",
            "Binjiang District MCH Hospital",
            "MCH-330108",
        ),
        Organization(
            "org-chc",
            OrgKind.COMMUNITY_HEALTH_CENTRE,
            "长河街道社区卫生服务中心",
            "Changhe Community Health Centre",
            "CHC-330108-03",
        ),
    ]
    centres = [
        Organization(
            f"org-centre-{i}",
            OrgKind.CHILDCARE_CENTRE,
            name_zh,
            name_en,
            f"TY-330108-{i:02d}",
            places=CENTRE_PLACES[i - 1],
            agreements=tuple(
                Agreement(hospital, add_months(as_of, -(6 * i + 3 * n)))
                for n, hospital in enumerate(CENTRE_AGREEMENTS[i - 1])
            )
            + (
                # the community point had a trial agreement that has ended
                (Agreement("org-chc", add_months(as_of, -30), add_months(as_of, -6)),)
                if i == 6
                else ()
            ),
        )
        for i, (name_zh, name_en) in enumerate(
            [
                ("小太阳托育园", "Little Sun Childcare"),
                ("彩虹宝贝托育中心", "Rainbow Baby Childcare Centre"),
                ("启明星托育园", "Morning Star Childcare"),
                ("童心托育中心", "Tongxin Childcare Centre"),
                ("绿芽托育园", "Green Sprout Childcare"),
                ("滨江社区普惠托育点", "Binjiang Community Affordable Childcare"),
            ],
            start=1,
        )
    ]
    return hospitals + centres


def _classes(centres: Sequence[Organization]) -> list[ClassRoom]:
    rooms: list[ClassRoom] = []
    for centre in centres:
        for kind, (_low, _high, count) in CLASS_LAYOUT.items():
            for n in range(1, count + 1):
                rooms.append(
                    ClassRoom(
                        f"{centre.id}-{kind.value}-{n}",
                        centre.id,
                        kind,
                        f"{CLASS_NAMES_ZH[kind]}{n}",
                    )
                )
    return rooms


def _name(rng: np.random.Generator) -> tuple[str, str]:
    family = SURNAMES[int(rng.integers(len(SURNAMES)))]
    length = 1 + int(rng.integers(2))
    given = "".join(GIVEN[int(rng.integers(len(GIVEN)))] for _ in range(length))
    return family, given


def _practitioners(rng: np.random.Generator, orgs: Sequence[Organization]) -> list[Practitioner]:
    people: list[Practitioner] = []
    for org in orgs:
        role = "health-manager" if org.kind is OrgKind.CHILDCARE_CENTRE else "paediatrician"
        count = 1 if org.kind is OrgKind.CHILDCARE_CENTRE else 3
        for n in range(1, count + 1):
            family, given = _name(rng)
            gender = "female" if rng.random() < 0.7 else "male"
            people.append(Practitioner(f"pr-{org.id}-{n}", family + given, gender, role, org.id))
    return people


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
    orgs = _organizations(as_of)
    centres = [o for o in orgs if o.kind is OrgKind.CHILDCARE_CENTRE]
    hospitals = [o for o in orgs if o.kind is not OrgKind.CHILDCARE_CENTRE]
    rooms = _classes(centres)
    district = District(as_of=as_of, seed=seed, organizations=orgs, classes=rooms)
    district.practitioners = _practitioners(rng, orgs)

    kids, guardians = _children(rng, children, as_of, hospitals, rooms)
    district.children = kids
    district.guardians = guardians
    district.visits = _visits(rng, kids, as_of, district.practitioners)
    district.daily_checks = _daily_checks(rng, kids, as_of)
    if schedule is None:
        from healthbridge.clinical.ruleset import load_ruleset

        schedule = load_ruleset("cn-child-health", "2026.1").vaccination
    district.schedule = schedule.meta.id
    district.doses = _doses(rng, kids, as_of, schedule)
    # a separate stream, so adding admission states left every other table unchanged
    district.children, catch_up = _admission_states(
        np.random.default_rng(seed + 1), kids, district.doses, as_of, schedule
    )
    if catch_up:
        district.doses = (
            pd.concat([district.doses, pd.DataFrame(catch_up, columns=district.doses.columns)])
            .sort_values(["child_id", "date", "series"], kind="stable")
            .reset_index(drop=True)
        )
    return district


def _overdue_on(birth: dt.date, rule: DoseRule) -> dt.date:
    """The first day a dose counts as missing at an entry check: a month past its age."""
    return add_months(add_age(birth, rule.age), 1)


#: Share of entrants past the 30-day check deadline whose certificate is still not checked.
UNCHECKED_SHARE = 0.05


def _admission_states(
    rng: np.random.Generator,
    kids: Sequence[Child],
    doses: pd.DataFrame,
    as_of: dt.date,
    table: VaccinationTable,
) -> tuple[list[Child], list[dict[str, object]]]:
    """The entry check of each enrolled child (查验办法 2021, DOMAIN.md §1.4), and the
    catch-up doses it led to (rows for the ``doses`` table).

    A child entered less than ``check_within_days`` ago may not have submitted the certificate
    yet; later entrants were assessed (a few are overdue). The assessment is *incomplete* when
    a default-product dose more than a month past its age on the entry date was not given by
    then. Most guardians then take the child for catch-up (more the longer ago the entry):
    the missing doses are given in rounds from two to six weeks after entry — every series'
    next missing dose on one day, rounds at least 28 days apart and each dose after its
    series' minimum interval — as far as ``as_of`` allows. State: catch-up recorded (mostly
    re-checked a month later) once every missing dose is given, in progress when some are.
    """
    from dataclasses import replace

    defaults = {o.series: o.default_option for o in table.options}
    rules = [
        r
        for r in table.doses
        if r.sex is None
        and r.when is None
        and (r.option is None or r.option == defaults.get(r.series))
    ]
    live = {v.code for v in table.vaccines if v.live_injectable}
    gap = table.live_injectable_min_gap_days
    given: dict[str, set[tuple[str, int, dt.date]]] = {}
    live_days: dict[str, set[dt.date]] = {}
    for child_id, vaccine, series, dose, day in doses[
        ["child_id", "vaccine", "series", "dose", "date"]
    ].itertuples(index=False):
        given.setdefault(str(child_id), set()).add((str(series), int(dose), day))
        if vaccine in live:
            live_days.setdefault(str(child_id), set()).add(day)
    doses_of: dict[str, list[tuple[str, str, int, dt.date]]] = {}
    for child_id, vaccine, series, dose, day in doses[
        ["child_id", "vaccine", "series", "dose", "date"]
    ].itertuples(index=False):
        doses_of.setdefault(str(child_id), []).append((str(vaccine), str(series), int(dose), day))
    out: list[Child] = []
    catch_up: list[dict[str, object]] = []
    for child in kids:
        entry = child.enrolled_since
        if entry is None or child.centre_id is None:
            out.append(child)
            continue
        recent = (as_of - entry).days <= table.admission.check_within_days
        if rng.random() < (0.6 if recent else UNCHECKED_SHARE):  # not assessed yet
            state = "not_submitted" if rng.random() < 0.5 else "submitted"
            out.append(replace(child, admission_state=state))
            continue
        mine = given.get(child.id, set())
        missing = [
            r
            for r in rules
            if _overdue_on(child.birth_date, r) <= entry
            and not any(s == r.series and n == r.number and d <= entry for s, n, d in mine)
        ]
        still = [r for r in missing if not any(s == r.series and n == r.number for s, n, _ in mine)]
        if not missing:
            state = "assessed_complete"
        elif not still:  # the late doses were given after entry anyway
            state = "rechecked" if rng.random() < 0.7 else "catchup_recorded"
        else:
            waited = (as_of - entry).days
            share = 0.9 if waited > 90 else 0.6 if waited > 45 else 0.0
            days = live_days.get(child.id, set())
            rows = (
                _catch_up(rng, child, still, mine, entry, as_of, (live, days, gap))
                if rng.random() < share
                else []
            )
            if rows and not _valid_with(child, doses_of.get(child.id, []), rows, table, as_of):
                rows = []  # e.g. a product no longer given at the child's age: not caught up
            catch_up.extend(rows)
            if len(rows) == len(still):
                last = max(d for d in (r["date"] for r in rows) if isinstance(d, dt.date))
                done_long_ago = (as_of - last).days > 30
                state = "rechecked" if done_long_ago and rng.random() < 0.8 else "catchup_recorded"
            elif rows:
                state = "catchup_in_progress"
            else:
                state = "catchup_in_progress" if rng.random() < 0.5 else "assessed_incomplete"
        out.append(replace(child, admission_state=state))
    return out, catch_up


def _valid_with(
    child: Child,
    existing: Sequence[tuple[str, str, int, dt.date]],
    rows: Sequence[dict[str, object]],
    table: VaccinationTable,
    as_of: dt.date,
) -> bool:
    """Whether the child's doses plus the catch-up ``rows`` pass the schedule's checks
    (products accepted at that age, intervals) as the clinical rules read them."""
    from healthbridge.clinical.vaccination import GivenDose, vaccination_plan
    from healthbridge.clinical.vocab import Sex as ClinicalSex

    given = [GivenDose(f"{s}-{n}", v, d) for v, s, n, d in existing] + [
        GivenDose(f"{r['series']}-{r['dose']}", str(r["vaccine"]), r["date"])  # type: ignore[arg-type]
        for r in rows
    ]
    sex = ClinicalSex.MALE if child.sex is Sex.MALE else ClinicalSex.FEMALE
    return vaccination_plan(child.birth_date, sex, given, table, as_of).invalid == ()


def _catch_up(
    rng: np.random.Generator,
    child: Child,
    missing: Sequence[DoseRule],
    given: set[tuple[str, int, dt.date]],
    entry: dt.date,
    as_of: dt.date,
    live_rule: tuple[set[str], set[dt.date], int],
) -> list[dict[str, object]]:
    """Catch-up doses of ``missing`` in rounds (see :func:`_admission_states`).

    ``live_rule`` is (injectable live vaccine codes, the days the child already had one, the
    minimum gap): a round with such a vaccine is moved until it is on the same day as, or at
    least the gap away from, every other injectable live dose (DOMAIN.md §1.3)."""
    live, live_days, gap = live_rule
    last: dict[str, dt.date] = {}
    on: dict[tuple[str, int], dt.date] = {}
    for series, number, day in given:
        on[series, number] = day
        last[series] = max(last.get(series, day), day)
    queues: dict[str, list[DoseRule]] = {}
    for rule in sorted(missing, key=lambda r: (r.series, r.number)):
        queues.setdefault(rule.series, []).append(rule)
    rows: list[dict[str, object]] = []
    day = entry + dt.timedelta(days=int(rng.integers(14, 43)))
    while any(queues.values()):
        batch = [q.pop(0) for q in queues.values() if q]
        for rule in batch:
            if rule.series in last and rule.min_interval is not None:
                day = max(day, add_age(last[rule.series], rule.min_interval))
            for extra in rule.extra_intervals:
                earlier = on.get((rule.series, extra.from_number))
                if earlier is not None:
                    day = max(day, add_age(earlier, extra.min))
        if any(rule.accepts[0] in live for rule in batch):
            while any(0 < abs((day - d).days) < gap for d in live_days):
                day += dt.timedelta(days=1)
            live_days.add(day)
        if day > as_of:
            break
        for rule in batch:
            last[rule.series] = on[rule.series, rule.number] = day
            rows.append(
                {
                    "child_id": child.id,
                    "vaccine": rule.accepts[0],
                    "series": rule.series,
                    "dose": rule.number,
                    "date": day,
                    "lot": f"{day.year}{int(rng.integers(1, 999)):03d}{int(rng.integers(10)):d}",
                    "place_id": child.hospital_id,
                }
            )
        day += dt.timedelta(days=28)  # injectable live vaccines: 28 days between visits
    return rows


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
        family, given = _name(rng)
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
            g_given = _name(rng)[1]
            guardians.append(
                Guardian(
                    id=f"rp-{i + 1:06d}-{n + 1}",
                    child_id=child_id,
                    relationship=rel,
                    family_name=family if rel == "FTH" else _name(rng)[0],
                    given_name=g_given,
                    gender=gender,
                    phone=f"1{int(rng.integers(30, 90))}{int(rng.integers(10**8)):08d}",
                )
            )
    return kids, guardians


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


def _visits(
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


def _daily_checks(rng: np.random.Generator, kids: Sequence[Child], as_of: dt.date) -> pd.DataFrame:
    """Morning checks (晨检) for enrolled children on the last weekdays, with one class cluster."""
    days: list[dt.date] = []
    day = as_of
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


def _in_edition(
    birth: dt.date,
    day: dt.date,
    variants: tuple[tuple[dt.date, DoseRule], ...],
    rule: DoseRule,
    last: dict[str, dt.date],
    given_on: dict[tuple[str, int], dt.date],
) -> dt.date:
    """``day`` moved, if needed, to the minimum age and intervals of the NIP edition in force
    on the day the dose is given (the clinical rules judge each dose so): a child born in 2024
    had DTaP 1 at 3 months, by the 2021 edition. Editions only move forward in time, so this
    settles in a few steps."""
    while True:
        judge = rule_at(variants, day)
        moved = max(day, add_age(birth, judge.age))
        if rule.series in last and judge.min_interval is not None:
            moved = max(moved, add_age(last[rule.series], judge.min_interval))
        for extra in judge.extra_intervals:
            earlier = given_on.get((rule.series, extra.from_number))
            if earlier is not None:
                moved = max(moved, add_age(earlier, extra.min))
        if moved == day:
            return day
        day = moved


def _doses(
    rng: np.random.Generator, kids: Sequence[Child], as_of: dt.date, table: VaccinationTable
) -> pd.DataFrame:
    """Doses on the schedule's default products, given at the visit for their minimum age.

    Doses due at the same age are given on the same day (so injectable live vaccines never
    fall within 28 days of each other); a missed dose delays the rest of its series, and is
    sometimes caught up later, always keeping the series' minimum intervals.
    """
    defaults = {o.series: o.default_option for o in table.options}
    rules = [
        r
        for r in table.doses
        if r.when is None and (r.option is None or r.option == defaults.get(r.series))
    ]  # special-population doses (HBIG) are not given to the demo children
    editions = edition_rules(table)
    rows: list[dict[str, object]] = []
    for child in kids:
        visit_jitter: dict[str, int] = {}
        last: dict[str, dt.date] = {}
        given_on: dict[tuple[str, int], dt.date] = {}
        stopped: set[str] = set()
        for rule in rules:
            if rule.sex is not None and rule.sex.value != (
                "male" if child.sex is Sex.MALE else "female"
            ):
                continue
            if rule.series in stopped:
                continue
            target = add_age(child.birth_date, rule.age)
            key = str(rule.age)
            # birth doses within 24 hours (HepB1, BCG); later visits within two weeks
            spread = 1 if rule.age.approx_days() == 0 else 15
            jitter = visit_jitter.setdefault(key, int(rng.integers(0, spread)))
            day = target + dt.timedelta(days=jitter)
            if rule.series in last and rule.min_interval is not None:
                day = max(day, add_age(last[rule.series], rule.min_interval))
            for extra in rule.extra_intervals:  # e.g. HepB D1 -> D3 at least 4 months
                earlier = given_on.get((rule.series, extra.from_number))
                if earlier is not None:
                    day = max(day, add_age(earlier, extra.min))
            if rng.random() < MISSED_DOSE_SHARE:
                if rng.random() >= CATCH_UP_SHARE:
                    stopped.add(rule.series)
                    continue
                day = day + dt.timedelta(days=int(rng.integers(45, 120)))
            day = _in_edition(child.birth_date, day, editions[rule.dose_id], rule, last, given_on)
            if day > as_of:
                stopped.add(rule.series)
                continue
            last[rule.series] = day
            given_on[rule.series, rule.number] = day
            rows.append(
                {
                    "child_id": child.id,
                    "vaccine": rule.accepts[0],
                    "series": rule.series,
                    "dose": rule.number,
                    "date": day,
                    "lot": f"{day.year}{int(rng.integers(1, 999)):03d}{int(rng.integers(10)):d}",
                    "place_id": child.hospital_id,
                }
            )
    return pd.DataFrame(
        rows, columns=["child_id", "vaccine", "series", "dose", "date", "lot", "place_id"]
    )
