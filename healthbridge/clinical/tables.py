"""Typed, frozen rule tables and their parsers (one parser per table kind).

Every table carries a :class:`TableMeta` (id, version, region, effective date, sources and an
evidence tag); every rule or sub-table carries its own evidence tag where DOMAIN.md gives one.
Parsers validate as they go and raise :class:`~healthbridge.clinical.errors.RuleTableError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.ages import Age
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.vocab import (
    FLAG_OF,
    AlertKind,
    Evidence,
    Severity,
)


@dataclass(frozen=True, slots=True)
class Source:
    """A source document: title, number (文号) and date as printed."""

    title: str
    number: str
    date: str


@dataclass(frozen=True, slots=True)
class TableMeta:
    id: str
    version: str
    region: str
    effective_from: date
    evidence: Evidence
    sources: tuple[Source, ...]


def parse_meta(root: Reader) -> TableMeta:
    meta = root.table("meta")
    sources = tuple(
        Source(s.text("title"), s.text("number", ""), s.text("date", ""))
        for s in meta.tables("source")
    )
    return TableMeta(
        id=meta.text("id"),
        version=meta.text("version"),
        region=meta.text("region"),
        effective_from=meta.day("effective_from"),
        evidence=meta.evidence(),
        sources=sources,
    )


# --------------------------------------------------------------------------- nutrition

#: Days per year when an age limit in years is compared with an age in days (WHO anthro).
DAYS_PER_YEAR = 365.25
#: Days per month when an age limit in months is compared with an age in days (WHO anthro).
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True, slots=True)
class NutritionRule:
    """A finding when the z-score lies in the interval (lower, upper) with inclusive flags."""

    kind: AlertKind
    grade: str
    severity: Severity
    column: str
    fallback: str | None
    lower: float | None
    lower_inclusive: bool
    upper: float | None
    upper_inclusive: bool
    max_age_days: float | None
    evidence: Evidence
    #: the rule applies from this age in days (``min_age_months`` × 30.4375, WHO anthro)
    min_age_days: float | None = None


@dataclass(frozen=True, slots=True)
class NutritionConvention:
    id: str
    name_zh: str
    name_en: str
    rules: tuple[NutritionRule, ...]
    #: former ids still accepted (e.g. ``cn-2024``)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NutritionTable:
    meta: TableMeta
    conventions: tuple[NutritionConvention, ...]
    implausible_severity: Severity
    implausible_evidence: Evidence

    def convention(self, convention_id: str) -> NutritionConvention:
        for conv in self.conventions:
            if conv.id == convention_id or convention_id in conv.aliases:
                return conv
        known = ", ".join(c.id for c in self.conventions)
        raise RuleTableError(f"nutrition convention {convention_id!r} not in table ({known})")


def parse_nutrition(root: Reader) -> NutritionTable:
    conventions = []
    for conv in root.tables("convention"):
        rules = []
        for r in conv.tables("rule"):
            column = r.text("column")
            fallback = r.opt_text("fallback")
            for col in (column, fallback):
                if col is not None and col not in FLAG_OF:
                    raise RuleTableError(f"{r.where}: unknown z-score column {col!r}")
            lower, upper = r.opt_number("lower"), r.opt_number("upper")
            if lower is None and upper is None:
                raise RuleTableError(f"{r.where}: a rule needs a lower or an upper bound")
            if lower is not None and upper is not None and lower >= upper:
                raise RuleTableError(f"{r.where}: lower {lower} must be below upper {upper}")
            rules.append(
                NutritionRule(
                    kind=r.enum("kind", AlertKind),
                    grade=r.text("grade"),
                    severity=r.enum("severity", Severity),
                    column=column,
                    fallback=fallback,
                    lower=lower,
                    lower_inclusive=r.boolean("lower_inclusive", False),
                    upper=upper,
                    upper_inclusive=r.boolean("upper_inclusive", False),
                    max_age_days=r.number("max_age_years") * DAYS_PER_YEAR
                    if r.has("max_age_years")
                    else r.number("max_age_months") * DAYS_PER_MONTH
                    if r.has("max_age_months")
                    else None,
                    evidence=r.evidence(),
                    min_age_days=r.number("min_age_months") * DAYS_PER_MONTH
                    if r.has("min_age_months")
                    else None,
                )
            )
        conventions.append(
            NutritionConvention(
                conv.text("id"),
                conv.text("name_zh"),
                conv.text("name_en"),
                tuple(rules),
                conv.texts("aliases", ()),
            )
        )
    imp = root.table("implausible")
    return NutritionTable(
        parse_meta(root), tuple(conventions), imp.enum("severity", Severity), imp.evidence()
    )


# --------------------------------------------------------------------------- velocity


@dataclass(frozen=True, slots=True)
class FalteringIndicator:
    """One z column checked for a fall: the earliest comparison and a fixed number of centile
    spaces (``None``: by birth-weight centile, NICE NG75)."""

    column: str
    min_interval_days: int
    spaces: int | None
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class FalteringRule:
    """NICE NG75 faltering: a fall across centile spaces, or weight below the 2nd centile."""

    indicators: tuple[FalteringIndicator, ...]
    centile_space_sd: float
    birth_max_age_days: int
    birth_low_z: float
    birth_high_z: float
    spaces_birth_low: int
    spaces_birth_mid: int
    spaces_birth_high: int
    spaces_birth_unknown: int
    below_column: str
    below_z: float
    severity: Severity
    evidence: Evidence

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(i.column for i in self.indicators)

    def spaces_for_birth(self, birth_z: float | None) -> int:
        """Centile spaces of a fall of concern for a birth-weight z (NG75)."""
        if birth_z is None or math.isnan(birth_z):
            return self.spaces_birth_unknown
        if birth_z < self.birth_low_z:
            return self.spaces_birth_low
        if birth_z > self.birth_high_z:
            return self.spaces_birth_high
        return self.spaces_birth_mid

    def min_fall(self, spaces: int) -> float:
        """The fall in z (to the 2 decimals of the z-scores) across ``spaces`` centile spaces."""
        return round(spaces * self.centile_space_sd, 2)


@dataclass(frozen=True, slots=True)
class FlatRule:
    weight_column: str
    max_gain_kg: float
    min_interval_days: int
    severity: Severity
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class RapidGainRule:
    column: str
    min_rise: float
    max_age_days: int
    wasted_below_z: float
    severity: Severity
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class GapBand:
    from_age: Age
    to_age: Age
    max_days: int


@dataclass(frozen=True, slots=True)
class MeasurementGapRule:
    bands: tuple[GapBand, ...]
    grace_days: int
    centre_max_days: int
    centre_evidence: Evidence
    severity: Severity
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class VelocityTable:
    meta: TableMeta
    faltering: FalteringRule
    flat: FlatRule
    rapid_gain: RapidGainRule
    measurement_gap: MeasurementGapRule


def parse_velocity(root: Reader) -> VelocityTable:
    f, fl, rg, mg = (root.table(k) for k in ("faltering", "flat", "rapid_gain", "measurement_gap"))
    indicators = tuple(
        FalteringIndicator(
            i.text("column"),
            i.integer("min_interval_days"),
            i.integer("spaces") if i.has("spaces") else None,
            i.evidence(),
        )
        for i in f.tables("indicator")
    )
    for col in (*(i.column for i in indicators), rg.text("column")):
        if col not in FLAG_OF:
            raise RuleTableError(f"{root.where}: unknown z-score column {col!r}")
    bands = tuple(
        GapBand(b.age("from_age"), b.age("to_age"), b.integer("max_days"))
        for b in mg.tables("band")
    )
    return VelocityTable(
        meta=parse_meta(root),
        faltering=FalteringRule(
            indicators=indicators,
            centile_space_sd=f.number("centile_space_sd"),
            birth_max_age_days=f.integer("birth_max_age_days"),
            birth_low_z=f.number("birth_low_z"),
            birth_high_z=f.number("birth_high_z"),
            spaces_birth_low=f.integer("spaces_birth_low"),
            spaces_birth_mid=f.integer("spaces_birth_mid"),
            spaces_birth_high=f.integer("spaces_birth_high"),
            spaces_birth_unknown=f.integer("spaces_birth_unknown"),
            below_column=f.text("below_column"),
            below_z=f.number("below_z"),
            severity=f.enum("severity", Severity),
            evidence=f.evidence(),
        ),
        flat=FlatRule(
            fl.text("weight_column"),
            fl.number("max_gain_kg"),
            fl.integer("min_interval_days"),
            fl.enum("severity", Severity),
            fl.evidence(),
        ),
        rapid_gain=RapidGainRule(
            rg.text("column"),
            rg.number("min_rise"),
            rg.integer("max_age_days"),
            rg.number("wasted_below_z"),
            rg.enum("severity", Severity),
            rg.evidence(),
        ),
        measurement_gap=MeasurementGapRule(
            bands=bands,
            grace_days=mg.integer("grace_days"),
            centre_max_days=mg.integer("centre_max_days"),
            centre_evidence=mg.evidence("centre_evidence"),
            severity=mg.enum("severity", Severity),
            evidence=mg.evidence(),
        ),
    )


# --------------------------------------------------------------------------- checkups


@dataclass(frozen=True, slots=True)
class CheckupVisit:
    """One scheduled visit; ages are from the anchor (birth, or discharge for newborn-home)."""

    code: str
    anchor: str
    age: Age
    due_from: Age | None
    overdue_from: Age | None
    name_zh: str
    name_en: str
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class SystematicYear:
    year: int
    visits: tuple[str, ...]
    required: int


@dataclass(frozen=True, slots=True)
class CheckupTable:
    meta: TableMeta
    due_lead_days: int
    overdue_after_days: int
    last_missed_after: Age
    window_evidence: Evidence
    visits: tuple[CheckupVisit, ...]
    systematic: tuple[SystematicYear, ...]
    severity_due: Severity
    severity_overdue: Severity
    severity_missed: Severity


def parse_checkups(root: Reader) -> CheckupTable:
    w = root.table("windows")
    visits = []
    for v in root.tables("visit"):
        anchor = v.text("anchor", "birth")
        if anchor not in ("birth", "discharge"):
            raise RuleTableError(f"{v.where}.anchor: must be 'birth' or 'discharge'")
        visits.append(
            CheckupVisit(
                code=v.text("code"),
                anchor=anchor,
                age=v.age("age"),
                due_from=v.opt_age("due_from"),
                overdue_from=v.opt_age("overdue_from"),
                name_zh=v.text("name_zh"),
                name_en=v.text("name_en"),
                evidence=v.evidence(),
            )
        )
    codes = [v.code for v in visits]
    if len(set(codes)) != len(codes):
        raise RuleTableError(f"{root.where}: duplicate visit codes")
    sm = root.table("systematic_management")
    years = tuple(
        SystematicYear(y.integer("year"), y.texts("visits"), y.integer("required"))
        for y in sm.tables("year")
    )
    for y in years:
        unknown = set(y.visits) - set(codes)
        if unknown:
            raise RuleTableError(
                f"{root.where}: 4:2:2 year {y.year} names unknown visits {unknown}"
            )
    sev = root.table("severity")
    return CheckupTable(
        meta=parse_meta(root),
        due_lead_days=w.integer("due_lead_days"),
        overdue_after_days=w.integer("overdue_after_days"),
        last_missed_after=w.age("last_missed_after"),
        window_evidence=w.evidence(),
        visits=tuple(visits),
        systematic=years,
        severity_due=sev.enum("due", Severity),
        severity_overdue=sev.enum("overdue", Severity),
        severity_missed=sev.enum("missed", Severity),
    )
