"""The growth indicators, their reference tables and WHO's per-indicator rules.

Every number here is part of WHO's method, not a clinical decision threshold, and is cited:

* **Restricted z-scores** beyond ±3 SD (WHO Multicentre Growth Reference Study Group, *WHO
  Child Growth Standards: Methods and development*, 2006, chapter 7 "Computation of centiles
  and z-scores"): applied to the indicators whose distribution is skewed, i.e. weight-for-age,
  weight-for-length/height, BMI-for-age, arm circumference- and the two skinfold-for-age
  indicators. Length/height- and head circumference-for-age (L = 1, normal) use the plain LMS
  z-score. The R package ``anthro`` (``R/z-score-*.R``) and ``anthroplus`` (``R/zscores.R``)
  make the same choice per indicator.
* **Flags for biologically implausible values** (WHO Anthro for personal computers, manual
  2011, section on flagged values; ``anthro::anthro_zscores`` documentation; WHO AnthroPlus
  manual 2009): length/height-for-age ``|z| > 6``; weight-for-age ``z < -6`` or ``z > 5``;
  every other indicator ``|z| > 5``. The 2007 reference uses the same limits
  (``anthroplus::anthroplus_zscores``: ``fhfa``, ``fwfa``, ``fbfa``).
* **Age ranges**: WHO 2006 tables from day 0 (arm circumference and skinfolds from day 91, i.e.
  3 months) to 1826 days, scored while age < 60 months (``anthro`` 0.9.3 and later); WHO 2007
  from 60 months, exclusive upper bounds 229 months (height, BMI) and 121 months (weight), as
  ``anthroplus`` >= 1.0 (test "age upper bounds are exclusive").
* **Weight-for-length** 45-110 cm, **weight-for-height** 65-120 cm (table limits, checked on the
  length/height after the 0.7 cm conversion; ``anthro`` ``R/z-score-weight-for-lenhei.R``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from growth_standards.errors import InvalidArgumentError


class Indicator(StrEnum):
    """Growth indicator codes (docs/CONVENTIONS.md, CodeSystem ``growth-indicator``)."""

    WFA = "wfa"
    LHFA = "lhfa"
    WFL = "wfl"
    WFH = "wfh"
    BFA = "bfa"
    HCFA = "hcfa"
    ACFA = "acfa"
    TSFA = "tsfa"
    SSFA = "ssfa"


class Sex(IntEnum):
    """Sex as coded by WHO Anthro: 1 male, 2 female."""

    MALE = 1
    FEMALE = 2


class Reference(StrEnum):
    """The WHO reference population a z-score is computed against."""

    WHO2006 = "WHO2006"
    """WHO Child Growth Standards (2006), birth to 60 months."""
    WHO2007 = "WHO2007"
    """WHO Growth Reference (2007), 5 to 19 years."""


class XAxis(StrEnum):
    """What an indicator's reference is indexed by."""

    AGE = "age_days"
    LENGTH = "length_cm"
    HEIGHT = "height_cm"


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """WHO's rules for one indicator (see the module docstring for the sources)."""

    indicator: Indicator
    title: str
    title_zh: str
    x_axis: XAxis
    unit: str
    """UCUM unit of the measurement."""
    restricted: bool
    """Whether WHO's restricted z-score applies beyond ±3 SD."""
    flag_low: float
    flag_high: float
    """A z-score is flagged implausible when ``z < flag_low`` or ``z > flag_high``."""
    weight_based: bool
    """Oedema blanks weight-based scores (WHO Anthro manual; ``anthro`` ``oedema``)."""
    score_column: str
    flag_column: str
    percentile_column: str
    who2006_table: str
    x_min: float
    x_max: float
    """Inclusive range of the WHO 2006 table (days, or cm after the 0.7 cm conversion)."""
    who2007_table: str | None = None
    who2007_months_below: float = 0.0
    """Exclusive upper age bound in months of the WHO 2007 reference."""

    @property
    def reference_tables(self) -> tuple[str, ...]:
        tables = (self.who2006_table,)
        return tables + ((self.who2007_table,) if self.who2007_table else ())


_LAST_DAY = 1826.0

SPECS: dict[Indicator, IndicatorSpec] = {
    spec.indicator: spec
    for spec in (
        IndicatorSpec(
            Indicator.WFA, "Weight-for-age", "年龄别体重", XAxis.AGE, "kg",
            True, -6.0, 5.0, True, "zwei", "fwei", "pwei",
            "who2006_wfa", 0.0, _LAST_DAY, "who2007_wfa", 121.0,
        ),
        IndicatorSpec(
            Indicator.LHFA, "Length/height-for-age", "年龄别身长/身高", XAxis.AGE, "cm",
            False, -6.0, 6.0, False, "zlen", "flen", "plen",
            "who2006_lhfa", 0.0, _LAST_DAY, "who2007_hfa", 229.0,
        ),
        IndicatorSpec(
            Indicator.WFL, "Weight-for-length", "身长别体重", XAxis.LENGTH, "kg",
            True, -5.0, 5.0, True, "zwfl", "fwfl", "pwfl",
            "who2006_wfl", 45.0, 110.0,
        ),
        IndicatorSpec(
            Indicator.WFH, "Weight-for-height", "身高别体重", XAxis.HEIGHT, "kg",
            True, -5.0, 5.0, True, "zwfl", "fwfl", "pwfl",
            "who2006_wfh", 65.0, 120.0,
        ),
        IndicatorSpec(
            Indicator.BFA, "BMI-for-age", "年龄别BMI", XAxis.AGE, "kg/m2",
            True, -5.0, 5.0, True, "zbmi", "fbmi", "pbmi",
            "who2006_bfa", 0.0, _LAST_DAY, "who2007_bfa", 229.0,
        ),
        IndicatorSpec(
            Indicator.HCFA, "Head circumference-for-age", "年龄别头围", XAxis.AGE, "cm",
            False, -5.0, 5.0, False, "zhc", "fhc", "phc",
            "who2006_hcfa", 0.0, _LAST_DAY,
        ),
        IndicatorSpec(
            Indicator.ACFA, "Arm circumference-for-age", "年龄别上臂围", XAxis.AGE, "cm",
            True, -5.0, 5.0, False, "zac", "fac", "pac",
            "who2006_acfa", 91.0, _LAST_DAY,
        ),
        IndicatorSpec(
            Indicator.TSFA, "Triceps skinfold-for-age", "年龄别三头肌皮褶厚度", XAxis.AGE,
            "mm", True, -5.0, 5.0, False, "zts", "fts", "pts",
            "who2006_tsfa", 91.0, _LAST_DAY,
        ),
        IndicatorSpec(
            Indicator.SSFA, "Subscapular skinfold-for-age", "年龄别肩胛下皮褶厚度", XAxis.AGE,
            "mm", True, -5.0, 5.0, False, "zss", "fss", "pss",
            "who2006_ssfa", 91.0, _LAST_DAY,
        ),
    )
}  # fmt: skip


def spec(indicator: Indicator | str) -> IndicatorSpec:
    """The :class:`IndicatorSpec` of ``indicator`` (a member or its code, e.g. ``"wfa"``)."""
    try:
        return SPECS[Indicator(indicator)]
    except ValueError:
        raise InvalidArgumentError(f"unknown indicator {indicator!r}") from None
