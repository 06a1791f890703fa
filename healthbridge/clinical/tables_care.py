"""Rule tables for the daily health check, anaemia, warning signs and alert display texts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.ages import Age
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.tables import TableMeta, parse_meta
from healthbridge.clinical.vocab import AlertKind, Evidence, Severity, SubjectType

# --------------------------------------------------------------------------- daily check


@dataclass(frozen=True, slots=True)
class SymptomDef:
    code: str
    name_zh: str
    name_en: str
    syndrome: str


@dataclass(frozen=True, slots=True)
class ClusterWindow:
    """``min_children`` distinct children with one syndrome in one class within ``days`` days."""

    days: int
    min_children: int


@dataclass(frozen=True, slots=True)
class DailyCheckTable:
    meta: TableMeta
    fever_threshold_c: float
    fever_severity: Severity
    high_fever_threshold_c: float
    high_fever_severity: Severity
    fever_evidence: Evidence
    high_fever_evidence: Evidence
    symptom_severity: Severity
    symptoms: tuple[SymptomDef, ...]
    cluster_windows: tuple[ClusterWindow, ...]
    cluster_severity: Severity
    cluster_evidence: Evidence
    #: single-case report within 24 h: the symptoms, the severity and grade they give
    report_symptoms: tuple[str, ...] = ()
    report_severity: Severity = Severity.HIGH
    report_grade: str = "report-24h"

    def syndrome_of(self, symptom: str) -> str | None:
        for s in self.symptoms:
            if s.code == symptom:
                return s.syndrome
        return None


def parse_daily_check(root: Reader) -> DailyCheckTable:
    f, sa, c = root.table("fever"), root.table("symptom_alert"), root.table("cluster")
    symptoms = tuple(
        SymptomDef(s.text("code"), s.text("name_zh"), s.text("name_en"), s.text("syndrome"))
        for s in root.tables("symptom")
    )
    if "fever" not in {s.code for s in symptoms}:
        raise RuleTableError(f"{root.where}: the symptom list must include 'fever'")
    windows = tuple(
        ClusterWindow(w.integer("days"), w.integer("min_children")) for w in c.tables("window")
    )
    if any(w.days < 1 or w.min_children < 1 for w in windows):
        raise RuleTableError(f"{root.where}.cluster: windows need days ≥ 1 and min_children ≥ 1")
    if f.number("high_threshold_c") <= f.number("threshold_c"):
        raise RuleTableError(f"{root.where}.fever: high_threshold_c must exceed threshold_c")
    return DailyCheckTable(
        meta=parse_meta(root),
        fever_threshold_c=f.number("threshold_c"),
        fever_severity=f.enum("severity", Severity),
        high_fever_threshold_c=f.number("high_threshold_c"),
        high_fever_severity=f.enum("high_severity", Severity),
        fever_evidence=f.evidence(),
        high_fever_evidence=f.evidence("high_evidence"),
        symptom_severity=sa.enum("severity", Severity),
        symptoms=symptoms,
        cluster_windows=windows,
        cluster_severity=c.enum("severity", Severity),
        cluster_evidence=c.evidence(),
        **_single_case(root, {s.code for s in symptoms}),
    )


def _single_case(root: Reader, known: set[str]) -> dict[str, Any]:
    """The optional ``[single_case_report]`` table (symptoms must be listed symptoms)."""
    if not root.has("single_case_report"):
        return {}
    r = root.table("single_case_report")
    codes = r.texts("symptoms")
    unknown = sorted(set(codes) - known)
    if unknown:
        raise RuleTableError(f"{root.where}.single_case_report: unknown symptoms {unknown}")
    return {
        "report_symptoms": codes,
        "report_severity": r.enum("severity", Severity),
        "report_grade": r.text("grade"),
    }


# --------------------------------------------------------------------------- anaemia


@dataclass(frozen=True, slots=True)
class HbGrade:
    grade: str
    below: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class HbBand:
    """Age band [from_age, to_age) with its anaemia threshold and grades (ascending ``below``)."""

    from_age: Age
    to_age: Age
    anaemia_below: float
    grades: tuple[HbGrade, ...]
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class AltitudeStep:
    """From ``from_m`` metres above sea level, ``adjust_g_l`` is subtracted from measured Hb."""

    from_m: float
    adjust_g_l: float


@dataclass(frozen=True, slots=True)
class AnaemiaTable:
    meta: TableMeta
    bands: tuple[HbBand, ...]
    refer_grades: tuple[str, ...]
    no_improvement_days: int
    referral_evidence: Evidence
    #: expected Hb rise after ``no_improvement_days`` of iron treatment (less → refer)
    expected_rise_g_l: float = 0.0
    altitude: tuple[AltitudeStep, ...] = ()
    altitude_evidence: Evidence = Evidence.UNCERTAIN

    def altitude_adjustment(self, altitude_m: float | None) -> float:
        """g/L subtracted from a measured Hb at this altitude (WHO 2011 Table 2); 0 unknown."""
        if altitude_m is None or math.isnan(altitude_m):
            return 0.0
        out = 0.0
        for step in self.altitude:
            if altitude_m >= step.from_m:
                out = step.adjust_g_l
        return out


def parse_anaemia(root: Reader) -> AnaemiaTable:
    bands = []
    for b in root.tables("band"):
        grades = tuple(
            HbGrade(g.text("grade"), g.number("below"), g.enum("severity", Severity))
            for g in b.tables("grade")
        )
        belows = [g.below for g in grades]
        if belows != sorted(belows) or len(set(belows)) != len(belows):
            raise RuleTableError(f"{b.where}: grades must be listed by strictly ascending 'below'")
        threshold = b.number("anaemia_below")
        if belows[-1] != threshold:
            raise RuleTableError(f"{b.where}: the mildest grade must end at anaemia_below")
        bands.append(HbBand(b.age("from_age"), b.age("to_age"), threshold, grades, b.evidence()))
    r = root.table("referral")
    alt = root.table("altitude")
    steps = tuple(
        AltitudeStep(a.number("from_m"), a.number("adjust_g_l")) for a in alt.tables("step")
    )
    if [x.from_m for x in steps] != sorted(x.from_m for x in steps):
        raise RuleTableError(f"{alt.where}: altitude steps must ascend by from_m")
    return AnaemiaTable(
        parse_meta(root),
        tuple(bands),
        r.texts("refer_grades"),
        r.integer("no_improvement_days"),
        r.evidence(),
        r.number("expected_rise_g_l"),
        steps,
        alt.evidence(),
    )


# --------------------------------------------------------------------------- warning signs


@dataclass(frozen=True, slots=True)
class WarningItem:
    id: str
    text_zh: str
    text_en: str


@dataclass(frozen=True, slots=True)
class AgePoint:
    age: Age
    items: tuple[WarningItem, ...]


@dataclass(frozen=True, slots=True)
class ScreeningTable:
    meta: TableMeta
    age_points: tuple[AgePoint, ...]
    positive_if_any_item: bool
    positive_if_regression: bool
    severity: Severity
    preterm_below_weeks: float
    term_weeks: float
    corrected_age_until: Age
    evidence: Evidence
    corrected_age_evidence: Evidence

    def item_ids(self) -> frozenset[str]:
        return frozenset(i.id for p in self.age_points for i in p.items)


def parse_screening(root: Reader) -> ScreeningTable:
    points = tuple(
        AgePoint(
            p.age("age"),
            tuple(
                WarningItem(i.text("id"), i.text("text_zh"), i.text("text_en"))
                for i in p.tables("item")
            ),
        )
        for p in root.tables("age_point")
    )
    ages = [p.age.approx_days() for p in points]
    if ages != sorted(ages):
        raise RuleTableError(f"{root.where}: age points must be in ascending order")
    ids = [i.id for p in points for i in p.items]
    if len(ids) != len(set(ids)):
        raise RuleTableError(f"{root.where}: duplicate warning-sign item ids")
    r = root.table("rule")
    return ScreeningTable(
        meta=parse_meta(root),
        age_points=points,
        positive_if_any_item=r.boolean("positive_if_any_item"),
        positive_if_regression=r.boolean("positive_if_regression"),
        severity=r.enum("severity", Severity),
        preterm_below_weeks=r.number("preterm_below_weeks"),
        term_weeks=r.number("term_weeks"),
        corrected_age_until=r.age("corrected_age_until"),
        evidence=r.evidence(),
        corrected_age_evidence=r.evidence("corrected_age_evidence"),
    )


# --------------------------------------------------------------------------- alert texts


@dataclass(frozen=True, slots=True)
class AlertKindText:
    """Display texts of one alert kind; ``parent_*`` is the kind explanation for parents."""

    kind: AlertKind
    subject: SubjectType
    display_zh: str
    display_en: str
    parent_zh: str
    parent_en: str


@dataclass(frozen=True, slots=True)
class SeverityText:
    severity: Severity
    display_zh: str
    display_en: str


@dataclass(frozen=True, slots=True)
class AlertKindsTable:
    meta: TableMeta
    kinds: tuple[AlertKindText, ...]
    severities: tuple[SeverityText, ...]

    def text(self, kind: AlertKind) -> AlertKindText:
        for k in self.kinds:
            if k.kind is kind:
                return k
        raise RuleTableError(f"no display text for alert kind {kind}")


def parse_alert_kinds(root: Reader) -> AlertKindsTable:
    kinds = tuple(
        AlertKindText(
            k.enum("code", AlertKind),
            k.enum("subject", SubjectType),
            k.text("display_zh"),
            k.text("display_en"),
            k.text("parent_zh"),
            k.text("parent_en"),
        )
        for k in root.tables("kind")
    )
    missing = set(AlertKind) - {k.kind for k in kinds}
    if missing or len(kinds) != len(AlertKind):
        raise RuleTableError(
            f"{root.where}: every alert kind needs exactly one entry; missing {sorted(missing)}"
        )
    sevs = tuple(
        SeverityText(s.enum("code", Severity), s.text("display_zh"), s.text("display_en"))
        for s in root.tables("severity")
    )
    if {s.severity for s in sevs} != set(Severity):
        raise RuleTableError(f"{root.where}: every severity needs display texts")
    return AlertKindsTable(parse_meta(root), kinds, sevs)


# --------------------------------------------------------------------------- z interpretation


@dataclass(frozen=True, slots=True)
class ZBand:
    """A z-score band: z strictly below ``below`` (or strictly above ``above``) → ``code``."""

    code: str
    display: str
    below: float | None
    above: float | None


@dataclass(frozen=True, slots=True)
class InterpretationTable:
    """Interpretation codes of a growth z-score (HL7 v3 ObservationInterpretation)."""

    meta: TableMeta
    bands: tuple[ZBand, ...]
    normal: tuple[str, str]

    def interpret(self, z: float) -> tuple[str, str]:
        """(code, display) of ``z``: the first band it falls in, else the normal code."""
        for band in self.bands:
            if (band.below is not None and z < band.below) or (
                band.above is not None and z > band.above
            ):
                return band.code, band.display
        return self.normal


def parse_interpretation(root: Reader) -> InterpretationTable:
    bands = []
    for b in root.tables("band"):
        below, above = b.opt_number("below"), b.opt_number("above")
        if (below is None) == (above is None):
            raise RuleTableError(f"{b.where}: a band needs exactly one of 'below' or 'above'")
        bands.append(ZBand(b.text("code"), b.text("display"), below, above))
    lows = [b.below for b in bands if b.below is not None]
    highs = [b.above for b in bands if b.above is not None]
    if lows != sorted(lows) or highs != sorted(highs, reverse=True):
        raise RuleTableError(f"{root.where}: list bands from the most extreme inwards")
    if lows and highs and max(lows) > min(highs):
        raise RuleTableError(f"{root.where}: low and high bands overlap")
    normal = root.table("normal")
    return InterpretationTable(
        parse_meta(root), tuple(bands), (normal.text("code"), normal.text("display"))
    )
