"""A child's FHIR growth record turned into chart points and latest scores.

Input is plain FHIR JSON (the Patient and its growth Observations), so the same code serves the
``$growth-chart`` operation, the parent report and the web pages. Measurements taken at one
Encounter (or, without an Encounter, on one day) form one row, as WHO Anthro scores a visit:
BMI and weight-for-length/height need the weight and the length/height of the same visit.
Scoring (and the implausibility flags) is :func:`growth_standards.score`, i.e. WHO's method;
corrected age for a child born before 37 weeks (until 24 months) is growth_standards' own
``corrected_age=True``, taken from the Patient's gestational-age extension.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from growth_standards import Indicator, Sex, score, spec
from healthbridge import terminology as t
from healthbridge.charts.growth import Point

GESTATIONAL_AGE_URL: Final = f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age"
#: LOINC codes of the measurements charts use, and the frame column each fills.
GROWTH_CODES: Final[dict[str, str]] = {
    t.LOINC_BODY_WEIGHT: "weight_kg",
    t.LOINC_BODY_LENGTH: "lenhei_cm",
    t.LOINC_BODY_HEIGHT: "lenhei_cm",
    t.LOINC_HEAD_CIRCUMFERENCE: "headc_cm",
}
#: Observation statuses that carry a usable value (entered-in-error, cancelled... do not).
USABLE_STATUS: Final = frozenset({"final", "amended", "corrected", "preliminary"})
_SOURCE = {"weight_kg": "src_weight", "lenhei_cm": "src_length", "headc_cm": "src_headc"}
UNITS: Final[dict[Indicator, str]] = {
    Indicator.WFA: "kg",
    Indicator.LHFA: "cm",
    Indicator.WFL: "kg",
    Indicator.WFH: "kg",
    Indicator.BFA: "kg/m²",
    Indicator.HCFA: "cm",
}


class RecordError(ValueError):
    """The Patient cannot be charted (no birth date or no administrative sex male/female)."""


@dataclass(frozen=True, slots=True)
class GrowthRecord:
    """One child's scored visits (a row per visit; growth_standards' columns plus
    ``when``, ``encounter`` and ``src_*``: the Observation references)."""

    patient_id: str
    sex: Sex
    birth_date: dt.date
    gestational_age_weeks: float | None
    visits: pd.DataFrame  # chronological scoring
    corrected: pd.DataFrame | None  # corrected-age scoring (preterm children only)

    @property
    def preterm(self) -> bool:
        """Born before 37 completed weeks (WHO's definition of preterm birth)."""
        return self.gestational_age_weeks is not None and self.gestational_age_weeks < 37


def patient_sex(patient: Mapping[str, Any]) -> Sex:
    """``Patient.gender`` as WHO's sex code; other genders have no WHO reference."""
    gender = patient.get("gender")
    if gender == "male":
        return Sex.MALE
    if gender == "female":
        return Sex.FEMALE
    raise RecordError("growth charts need Patient.gender male or female")


def gestational_age(patient: Mapping[str, Any]) -> float | None:
    """Weeks from the gestational-age extension (None when not recorded)."""
    for ext in patient.get("extension", []):
        if ext.get("url") == GESTATIONAL_AGE_URL:
            value = ext.get("valueQuantity", {}).get("value")
            return float(value) if value is not None else None
    return None


def _effective_date(obs: Mapping[str, Any]) -> dt.date | None:
    raw = obs.get("effectiveDateTime") or obs.get("effectivePeriod", {}).get("start")
    if not isinstance(raw, str) or len(raw) < 10:
        return None
    # The local calendar day as written (Beijing time in our data), not converted to UTC.
    return dt.date.fromisoformat(raw[:10])


def _loinc(obs: Mapping[str, Any]) -> str | None:
    for coding in obs.get("code", {}).get("coding", []):
        if coding.get("system") == t.LOINC and coding.get("code") in GROWTH_CODES:
            return str(coding["code"])
    return None


def visit_rows(observations: Iterable[Mapping[str, Any]], birth_date: dt.date) -> pd.DataFrame:
    """Group growth Observations into visits (by Encounter, else by day); later values of the
    same kind in one visit win (a re-measurement)."""
    visits: dict[tuple[str, dt.date], dict[str, Any]] = {}
    for obs in sorted(observations, key=lambda o: str(o.get("effectiveDateTime", ""))):
        code = _loinc(obs)
        when = _effective_date(obs)
        value = obs.get("valueQuantity", {}).get("value")
        if code is None or when is None or value is None:
            continue
        if obs.get("status") not in USABLE_STATUS or obs.get("focus"):
            continue  # unusable, or about someone else (a parent's height: clinical_view.py)
        enc = obs.get("encounter", {}).get("reference") or ""
        row = visits.setdefault(
            (enc, when if not enc else dt.date.min),
            {"when": when, "encounter": enc or None},
        )
        row["when"] = min(row["when"], when)
        column = GROWTH_CODES[code]
        row[column] = float(value)
        row[_SOURCE[column]] = f"Observation/{obs['id']}"
        if column == "lenhei_cm":
            row["measure"] = "l" if code == t.LOINC_BODY_LENGTH else "h"
    columns = ["when", "encounter", "weight_kg", "lenhei_cm", "measure", "headc_cm"]
    frame = pd.DataFrame(list(visits.values()), columns=[*columns, *_SOURCE.values()])
    frame = frame.sort_values("when", kind="stable").reset_index(drop=True)
    frame["age_days"] = [float((d - birth_date).days) for d in frame["when"]]
    return frame


def growth_record(
    patient: Mapping[str, Any], observations: Iterable[Mapping[str, Any]]
) -> GrowthRecord:
    """Score a child's growth Observations (chronological and, if preterm, corrected age)."""
    birth = patient.get("birthDate")
    if not isinstance(birth, str) or len(birth) != 10:
        raise RecordError("growth charts need a full Patient.birthDate")
    birth_date = dt.date.fromisoformat(birth)
    sex = patient_sex(patient)
    ga = gestational_age(patient)
    rows = visit_rows(observations, birth_date)
    rows["sex"] = int(sex)
    rows = rows[rows["age_days"] >= 0].reset_index(drop=True)
    scored = score(rows)
    corrected = None
    if ga is not None and ga < 37:
        with_ga = rows.assign(gestational_age_weeks=ga)
        corrected = score(with_ga, corrected_age=True)
    return GrowthRecord(str(patient["id"]), sex, birth_date, ga, scored, corrected)


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _flagged(value: Any) -> bool:
    return value is not pd.NA and value is not None and not pd.isna(value) and int(value) == 1


#: The visit columns :func:`points` reads (besides the indicator's flag column).
_POINT_COLUMNS: Final = (
    "when",
    "age_days",
    "weight_kg",
    "lenhei_cm",
    "headc_cm",
    "cbmi",
    "clenhei",
    "src_weight",
    "src_length",
    "src_headc",
)


def _records(frame: pd.DataFrame, flag_column: str) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of the columns :func:`points` reads, built column-wise
    (``DataFrame.to_dict("records")`` indexes row by row and took most of a parent report's
    summary time)."""
    wanted = [c for c in (*_POINT_COLUMNS, flag_column) if c in frame.columns]
    columns = {c: frame[c].tolist() for c in dict.fromkeys(wanted)}
    rows = zip(*columns.values(), strict=True)
    return [dict(zip(columns, values, strict=True)) for values in rows]


def points(record: GrowthRecord, indicator: Indicator) -> list[Point]:
    """The child's plotted points for ``indicator`` in time order.

    Age-based charts: x = age in days, value as measured (BMI from the visit's weight and
    adjusted length/height). Weight-for-length/height: x = the adjusted length/height, for the
    visits WHO scores on that indicator (length before 731 days, height from 731 days).
    ``implausible`` is WHO's flag; ``corrected_x`` the corrected age of a preterm child.
    """
    frame = record.visits
    s = spec(indicator)
    out: list[Point] = []
    cages = record.corrected["cage_days"].tolist() if record.corrected is not None else None
    for i, row in enumerate(_records(frame, s.flag_column)):
        flag = _flagged(row.get(s.flag_column))
        source = row.get("src_weight")
        if indicator is Indicator.WFA:
            value = _num(row["weight_kg"])
        elif indicator is Indicator.LHFA:
            value, source = _num(row["lenhei_cm"]), row.get("src_length")
        elif indicator is Indicator.HCFA:
            value, source = _num(row["headc_cm"]), row.get("src_headc")
        elif indicator is Indicator.BFA:
            value = _num(row["cbmi"])
        elif indicator in (Indicator.WFL, Indicator.WFH):
            weight, length = _num(row["weight_kg"]), _num(row["clenhei"])
            if weight is None or length is None:
                continue
            uses_height = row["age_days"] >= 731
            if uses_height != (indicator is Indicator.WFH):
                continue
            out.append(Point(length, weight, row["when"], str(source), flag))
            continue
        else:
            raise RecordError(f"no chart points for indicator {indicator.value!r}")
        if value is None:
            continue
        if indicator is Indicator.BFA:
            source = f"{row.get('src_weight')}+{row.get('src_length')}"
        corrected_x = None
        if cages is not None:
            cage = _num(cages[i])
            if cage is not None and cage != row["age_days"]:
                corrected_x = cage
        out.append(
            Point(float(row["age_days"]), value, row["when"], str(source), flag, corrected_x)
        )
    return sorted(out, key=lambda p: (p.when, p.x))


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest scored value of one indicator (percentile None when flagged implausible)."""

    indicator: Indicator
    value: float
    unit: str
    measured: dt.date
    z: float | None
    percentile: float | None


def latest(record: GrowthRecord, indicator: Indicator) -> Latest | None:
    """The last visit with a value for ``indicator``: value, z and percentile (WHO's scoring;
    corrected age for preterm children as recorded in the corrected frame)."""
    s = spec(indicator)
    frame = record.corrected if record.corrected is not None else record.visits
    pts = points(record, indicator)
    if not pts:
        return None
    last = pts[-1]
    rows = frame[frame["when"] == last.when]
    row = rows.iloc[-1]
    z = _num(row.get(s.score_column))
    pct = _num(row.get(s.percentile_column))
    if last.implausible:
        z = pct = None
    return Latest(indicator, last.value, UNITS[indicator], last.when, z, pct)
