"""The organisations of the synthetic district: hospitals, childcare centres, their classes and
staff.

The district mirrors a 医育融合 arrangement (DOMAIN.md §3.8): two hospitals (an MCH hospital
and a community health centre) sign agreements with six childcare centres; each centre has
classes of the three kinds in 《托育机构设置标准（试行）》 (乳儿班 6–12 m, 托小班 12–24 m,
托大班 24–36 m), one health manager (保健员), and each hospital three paediatricians.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from healthbridge.clinical.ages import add_months


class OrgKind(StrEnum):
    """The kinds of organisation in a district's 医育融合 network."""

    MCH_HOSPITAL = "mch-hospital"  # 妇幼保健院
    COMMUNITY_HEALTH_CENTRE = "community-health-centre"  # 社区卫生服务中心
    CHILDCARE_CENTRE = "childcare-centre"  # 托育机构
    PROVINCE = "province"  # 省
    CITY = "city"  # 市
    DISTRICT = "district"  # 县/区


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

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "子涵浩宇欣怡梓萱一诺雨泽思源若曦俊熙佳琪晨阳沐辰可馨语桐嘉懿书瑶明轩天佑安然"


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
    #: the area the organisation belongs to (``Organization.partOf``)
    part_of: str | None = None
    #: an area's resident population (``area-population`` extension)
    population: int | None = None


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
    role: str  # "paediatrician" | "health-manager" | "district-official"
    org_id: str


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


#: The small province of the demo (issue 19): 1 province, 2 cities, 5 districts, with the
#: administrative division codes of GB/T 2260 as identifiers. (id, kind, 中文名, English name,
#: code, parent)
AREAS: tuple[tuple[str, OrgKind, str, str, str, str | None], ...] = (
    ("area-zj", OrgKind.PROVINCE, "浙江省", "Zhejiang Province", "330000", None),
    ("area-hz", OrgKind.CITY, "杭州市", "Hangzhou", "330100", "area-zj"),
    ("area-nb", OrgKind.CITY, "宁波市", "Ningbo", "330200", "area-zj"),
    ("area-hz-binjiang", OrgKind.DISTRICT, "滨江区", "Binjiang District", "330108", "area-hz"),
    ("area-hz-xihu", OrgKind.DISTRICT, "西湖区", "Xihu District", "330106", "area-hz"),
    ("area-hz-shangcheng", OrgKind.DISTRICT, "上城区", "Shangcheng District", "330102", "area-hz"),
    ("area-nb-haishu", OrgKind.DISTRICT, "海曙区", "Haishu District", "330203", "area-nb"),
    ("area-nb-yinzhou", OrgKind.DISTRICT, "鄞州区", "Yinzhou District", "330212", "area-nb"),
)
#: The resident population (常住人口) of each district, for places per 1,000 population.
#: ILLUSTRATIVE: rounded figures of the order of the 2020 census (第七次全国人口普查), not
#: official statistics. The cities and the province carry none: theirs is the sum of their
#: districts' (healthbridge.district.area_population). The demo's six centres are a small
#: sample of these districts' places, so its places per 1,000 are far below the 十四五 4.5.
AREA_POPULATION: dict[str, int] = {
    "area-hz-binjiang": 504_000,
    "area-hz-xihu": 1_129_000,
    "area-hz-shangcheng": 1_323_000,
    "area-nb-haishu": 597_000,
    "area-nb-yinzhou": 1_613_000,
}
#: The district of each centre (centres 1 and 6 in Binjiang, where the hospitals are).
CENTRE_AREAS: tuple[str, ...] = (
    "area-hz-binjiang",
    "area-hz-xihu",
    "area-hz-shangcheng",
    "area-nb-haishu",
    "area-nb-yinzhou",
    "area-hz-binjiang",
)
#: The demo's health officials (卫健委 staff): (Practitioner id, name, area).
OFFICIALS: tuple[tuple[str, str, str], ...] = (
    ("official-zj", "省卫健委 · 周敏", "area-zj"),
    ("official-hz", "杭州市卫健委 · 陈立", "area-hz"),
    ("official-nb", "宁波市卫健委 · 王芳", "area-nb"),
    ("official-binjiang", "滨江区卫健局 · 李强", "area-hz-binjiang"),
)


def jurisdictions() -> list[Organization]:
    """The areas of :data:`AREAS` as organisations (province > city > district)."""
    return [
        Organization(
            oid,
            kind,
            zh,
            en,
            f"GB2260-{code}",
            part_of=parent,
            population=AREA_POPULATION.get(oid),
        )
        for oid, kind, zh, en, code, parent in AREAS
    ]


def officials() -> list[Practitioner]:
    """The officials of :data:`OFFICIALS` (role ``district-official`` at their area)."""
    return [
        Practitioner(pid, name, "female" if n % 2 == 0 else "male", "district-official", area)
        for n, (pid, name, area) in enumerate(OFFICIALS)
    ]


def organizations(as_of: dt.date) -> list[Organization]:
    hospitals = [
        Organization(
            "org-mch",
            OrgKind.MCH_HOSPITAL,
            "滨江区妇幼保健院",
            "Binjiang District MCH Hospital",
            "MCH-330108",
            part_of="area-hz-binjiang",
        ),
        Organization(
            "org-chc",
            OrgKind.COMMUNITY_HEALTH_CENTRE,
            "长河街道社区卫生服务中心",
            "Changhe Community Health Centre",
            "CHC-330108-03",
            part_of="area-hz-binjiang",
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
            part_of=CENTRE_AREAS[i - 1],
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


def classes(centres: Sequence[Organization]) -> list[ClassRoom]:
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


def draw_name(rng: np.random.Generator) -> tuple[str, str]:
    family = SURNAMES[int(rng.integers(len(SURNAMES)))]
    length = 1 + int(rng.integers(2))
    given = "".join(GIVEN[int(rng.integers(len(GIVEN)))] for _ in range(length))
    return family, given


def practitioners(rng: np.random.Generator, orgs: Sequence[Organization]) -> list[Practitioner]:
    people: list[Practitioner] = []
    for org in orgs:
        role = "health-manager" if org.kind is OrgKind.CHILDCARE_CENTRE else "paediatrician"
        count = 1 if org.kind is OrgKind.CHILDCARE_CENTRE else 3
        for n in range(1, count + 1):
            family, given = draw_name(rng)
            gender = "female" if rng.random() < 0.7 else "male"
            people.append(Practitioner(f"pr-{org.id}-{n}", family + given, gender, role, org.id))
    return people
