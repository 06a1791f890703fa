"""The ``screening-schedule`` rule table: scheduled screenings and their abnormal cut-offs.

Haemoglobin, hearing, eye/vision, oral health and the developmental assessment (DOMAIN.md §2.1,
§4.3); parsed into frozen dataclasses like the other tables (:mod:`.tables`). Each screening
names its age points, and what makes a result abnormal: a ``refer`` result, a visual acuity at
or below the age's limit, caries, a developmental quotient band, or another table (``anaemia``
for haemoglobin: one reading of that fact).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.ages import Age, parse_age
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.tables import TableMeta, parse_meta
from healthbridge.clinical.vocab import Evidence, Severity

#: Screening codes (CodeSystem ``child-screening``).
SCREENING_CODES: tuple[str, ...] = ("haemoglobin", "hearing", "eye", "oral", "development")


@dataclass(frozen=True, slots=True)
class AcuityLimit:
    """Uncorrected visual acuity (decimal) at or below ``at_or_below`` is abnormal in
    [from_age, to_age)."""

    from_age: Age
    to_age: Age
    at_or_below: float
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class DqBand:
    """A developmental quotient below ``below`` (and not below a lower band's) is ``grade``."""

    grade: str
    below: float
    severity: Severity
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Screening:
    code: str
    name_zh: str
    name_en: str
    #: (label as written in the table, parsed age), in ascending order
    ages: tuple[tuple[str, Age], ...]
    evidence: Evidence
    abnormal_by: str | None = None
    refer_is_abnormal: bool = False
    acuity: tuple[AcuityLimit, ...] = ()
    caries_abnormal_from: int | None = None
    #: ascending ``below``
    dq_bands: tuple[DqBand, ...] = ()


@dataclass(frozen=True, slots=True)
class ScreeningScheduleTable:
    meta: TableMeta
    due_lead_days: int
    overdue_after_days: int
    last_missed_after: Age
    window_evidence: Evidence
    severity_due: Severity
    severity_overdue: Severity
    severity_abnormal: Severity
    abnormal_evidence: Evidence
    screenings: tuple[Screening, ...]

    def screening(self, code: str) -> Screening:
        for s in self.screenings:
            if s.code == code:
                return s
        raise KeyError(code)


def parse_screening_schedule(root: Reader) -> ScreeningScheduleTable:
    w, sev, ab = root.table("windows"), root.table("severity"), root.table("abnormal")
    screenings = []
    for s in root.tables("screening"):
        code = s.text("code")
        if code not in SCREENING_CODES:
            raise RuleTableError(f"{s.where}.code: {code!r} is not a child-screening code")
        labels = s.texts("ages")
        ages = tuple((label, parse_age(label)) for label in labels)
        if [a.approx_days() for _l, a in ages] != sorted(a.approx_days() for _l, a in ages):
            raise RuleTableError(f"{s.where}.ages: must be ascending")
        bands = tuple(
            DqBand(b.text("grade"), b.number("below"), b.enum("severity", Severity), b.evidence())
            for b in s.tables("dq_band", required=False)
        )
        if [b.below for b in bands] != sorted(b.below for b in bands):
            raise RuleTableError(f"{s.where}.dq_band: `below` must ascend")
        screenings.append(
            Screening(
                code=code,
                name_zh=s.text("name_zh"),
                name_en=s.text("name_en"),
                ages=ages,
                evidence=s.evidence(),
                abnormal_by=s.opt_text("abnormal_by"),
                refer_is_abnormal=s.boolean("refer_is_abnormal", False),
                acuity=tuple(
                    AcuityLimit(
                        a.age("from_age"),
                        a.age("to_age"),
                        a.number("abnormal_at_or_below"),
                        a.evidence(),
                    )
                    for a in s.tables("acuity", required=False)
                ),
                caries_abnormal_from=s.integer("caries_abnormal_from")
                if s.has("caries_abnormal_from")
                else None,
                dq_bands=bands,
            )
        )
    codes = [s.code for s in screenings]
    if len(set(codes)) != len(codes):
        raise RuleTableError(f"{root.where}: duplicate screening codes")
    return ScreeningScheduleTable(
        meta=parse_meta(root),
        due_lead_days=w.integer("due_lead_days"),
        overdue_after_days=w.integer("overdue_after_days"),
        last_missed_after=w.age("last_missed_after"),
        window_evidence=w.evidence(),
        severity_due=sev.enum("due", Severity),
        severity_overdue=sev.enum("overdue", Severity),
        severity_abnormal=ab.enum("severity", Severity),
        abnormal_evidence=ab.evidence(),
        screenings=tuple(screenings),
    )
