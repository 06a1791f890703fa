"""The paediatrician's clinical view of a child's growth (pure; no I/O).

* every visit of the :class:`~healthbridge.charts.record.GrowthRecord` as a row with its WHO
  z-scores (2 decimals), WHO's implausibility flags and the grade in words, e.g.
  ``WHZ −3.12 · 重度消瘦 severe wasting``. The grade is NOT a second rule table: it is the rule
  set's own nutrition convention (``clinical/rules/CN/nutrition.toml``, cut-offs of WS/T
  423-2022 on WHO z-scores, with their sources) and the alert kinds' display names
  (``alert-kinds.toml``), so the page says what the clinical pipeline decides;
* growth between consecutive visits (weight and length/height gained, per 30 days);
* the mid-parental (target) height from the parents' recorded heights.

Parents' heights are recorded as an ``Observation`` on the child's record (``subject`` = the
child, so it travels with the child's compartment and consents) coded with the local code
system ``CodeSystem/parent-measurement`` (``father-height`` / ``mother-height``, cm), and, when
the parent has a ``RelatedPerson``, ``focus`` = that RelatedPerson — FHIR R4 Observation.focus
is "used when the focus of the observation is not the patient of record"
(http://hl7.org/fhir/R4/observation-definitions.html#Observation.focus). A local code, not
LOINC 8302-2 body height: every growth reader (charts, pipeline, district) reads 8302-2 on the
child's record as the child's own height. (``record.py`` also skips any Observation with a
``focus``.)

Mid-parental height (Tanner JM, Goldstein H, Whitehouse RH. Standards for children's height at
ages 2–9 years allowing for height of parents. Arch Dis Child 1970;45:755–62): boys
(father + mother + 13) / 2, girls (father + mother − 13) / 2 cm; the target range is
± 8.5 cm (about 2 SD). The ± 8.5 cm is as quoted in paediatric endocrinology textbooks and
Chinese 儿科学 teaching (遗传身高); it was not checked against the 1970 paper itself
(UNCONFIRMED, listed in docs/charts.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from growth_standards import Sex
from healthbridge import terminology as t
from healthbridge.charts.labels import Lang
from healthbridge.charts.record import GrowthRecord
from healthbridge.clinical.nutrition import in_interval
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import AlertKind

#: z-score columns shown, with the clinical abbreviation and WHO's flag column.
Z_COLUMNS: Final = (
    ("zwei", "WAZ", "fwei"),
    ("zlen", "LAZ/HAZ", "flen"),
    ("zwfl", "WLZ/WHZ", "fwfl"),
    ("zbmi", "BAZ", "fbmi"),
    ("zhc", "HCZ", "fhc"),
)
_GRADE_WORDS: Final = {"severe": ("重度", "severe"), "moderate": ("中度", "moderate")}
NORMAL: Final = ("正常范围", "normal range")
IMPLAUSIBLE: Final = ("疑似测量错误（WHO 标记）", "implausible (WHO flag), re-measure")
#: Tanner 1970: half the sex difference in adult height (cm) and the ±2 SD half-width (cm).
TANNER_SEX_OFFSET_CM: Final = 13.0
TANNER_RANGE_CM: Final = 8.5  # UNCONFIRMED against the original paper (module docstring)
#: Local codes of a parent's height (no LOINC code for "father's/mother's height" was found;
#: LOINC 8302-2 would be read as the CHILD's height by every growth reader).
PARENT_HEIGHT_SYSTEM: Final = f"{t.CANONICAL_BASE}/CodeSystem/parent-measurement"
PARENT_HEIGHT: Final = {"father-height": "father", "mother-height": "mother"}


@dataclass(frozen=True, slots=True)
class ZScore:
    column: str
    label: str
    z: float | None  # None: not measured or not scorable at that age
    flagged: bool
    grade_zh: str
    grade_en: str
    abnormal: bool

    def grade(self, lang: Lang) -> str:
        return self.grade_zh if lang is Lang.ZH else self.grade_en

    def text(self, lang: Lang) -> str:
        """E.g. ``WLZ/WHZ −3.12 · 重度消瘦`` (the minus sign is U+2212)."""
        if self.z is None:
            return f"{self.label} —"
        return f"{self.label} {self.z:.2f} · {self.grade(lang)}".replace("-", "−", 1)


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One visit: the measured values, z-scores and the growth since the previous visit."""

    when: dt.date
    age_months: float
    weight_kg: float | None
    length_cm: float | None
    measure: str | None  # "l" lying, "h" standing
    headc_cm: float | None
    scores: tuple[ZScore, ...]
    days_since: int | None
    weight_gain_kg: float | None
    length_gain_cm: float | None

    def per_30_days(self, gain: float | None) -> float | None:
        if gain is None or not self.days_since:
            return None
        return gain * 30.0 / self.days_since


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def grade(
    rules: RuleSet, column: str, z: float, age_days: float, *, flagged: bool = False
) -> tuple[str, str, bool]:
    """(zh, en, abnormal) words for one z-score, from the rule set's nutrition convention."""
    if flagged:
        return (*IMPLAUSIBLE, True)
    for rule in rules.nutrition_convention.rules:
        if rule.column != column and rule.fallback != column:
            continue
        if rule.fallback == column and any(
            r.column == column and r.kind is rule.kind for r in rules.nutrition_convention.rules
        ):
            continue  # the column has its own rule for this kind
        if rule.max_age_days is not None and age_days > rule.max_age_days:
            continue
        if rule.min_age_days is not None and age_days < rule.min_age_days:
            continue
        if not in_interval(z, rule):
            continue
        text = rules.alerts.text(AlertKind(rule.kind))
        zh_word, en_word = _GRADE_WORDS.get(rule.grade, ("", ""))
        return (
            f"{zh_word}{text.display_zh}",
            f"{en_word} {text.display_en.lower()}".strip(),
            True,
        )
    return (*NORMAL, False)


def visit_rows(record: GrowthRecord, rules: RuleSet) -> list[VisitRow]:
    """Every visit, oldest first (corrected-age scores for a preterm child, as the charts)."""
    frame = record.corrected if record.corrected is not None else record.visits
    rows: list[VisitRow] = []
    previous: tuple[dt.date, float | None, float | None] | None = None
    for _, row in frame.iterrows():
        when = row["when"]
        age_days = float(row["age_days"])
        scores = []
        for column, label, flag in Z_COLUMNS:
            z = _num(row.get(column))
            flagged = _num(row.get(flag)) == 1
            if z is None:
                scores.append(ZScore(column, label, None, flagged, "", "", False))
                continue
            zh, en, abnormal = grade(rules, column, z, age_days, flagged=flagged)
            scores.append(ZScore(column, label, round(z, 2), flagged, zh, en, abnormal))
        weight, length = _num(row.get("weight_kg")), _num(row.get("lenhei_cm"))
        days = wgain = lgain = None
        if previous is not None:
            days = (when - previous[0]).days
            wgain = None if weight is None or previous[1] is None else weight - previous[1]
            lgain = None if length is None or previous[2] is None else length - previous[2]
        measure = row.get("measure")
        rows.append(
            VisitRow(
                when, round(age_days / 30.4375, 1), weight, length,
                str(measure) if isinstance(measure, str) else None, _num(row.get("headc_cm")),
                tuple(scores), days, wgain, lgain,
            )
        )  # fmt: skip
        previous = (
            when,
            weight if weight is not None else (previous[1] if previous else None),
            length if length is not None else (previous[2] if previous else None),
        )
    return rows


@dataclass(frozen=True, slots=True)
class TargetHeight:
    father_cm: float
    mother_cm: float
    target_cm: float
    low_cm: float
    high_cm: float


def mid_parental_height(sex: Sex, father_cm: float, mother_cm: float) -> TargetHeight:
    """Tanner's mid-parental height and its ± 8.5 cm range (module docstring)."""
    offset = TANNER_SEX_OFFSET_CM if sex is Sex.MALE else -TANNER_SEX_OFFSET_CM
    target = (father_cm + mother_cm + offset) / 2
    return TargetHeight(
        father_cm, mother_cm, target, target - TANNER_RANGE_CM, target + TANNER_RANGE_CM
    )


def parent_heights(observations: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The latest recorded height (cm) of the father and the mother (``PARENT_HEIGHT`` codes)."""
    found: dict[str, tuple[str, float]] = {}
    for obs in observations:
        if obs.get("status") not in ("final", "amended", "corrected"):
            continue
        role = next(
            (
                str(c.get("code"))
                for c in obs.get("code", {}).get("coding", [])
                if c.get("system") == PARENT_HEIGHT_SYSTEM and c.get("code") in PARENT_HEIGHT
            ),
            None,
        )
        qty = obs.get("valueQuantity", {})
        if role is None or qty.get("value") is None or qty.get("code", "cm") != "cm":
            continue
        when = str(obs.get("effectiveDateTime", ""))
        if role not in found or when >= found[role][0]:
            found[role] = (when, float(qty["value"]))
    return {PARENT_HEIGHT[role]: value for role, (_, value) in found.items()}


def target_height(sex: Sex, observations: Iterable[Mapping[str, Any]]) -> TargetHeight | None:
    """The target height when both parents' heights are recorded, else None."""
    heights = parent_heights(observations)
    if "father" not in heights or "mother" not in heights:
        return None
    return mid_parental_height(sex, heights["father"], heights["mother"])
