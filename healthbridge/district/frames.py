"""The district frames the pure reports take, and the rules that shape their rows.

:class:`DistrictFrames` is what :mod:`healthbridge.district.gather` reads and
:mod:`healthbridge.district.cache` keeps. The functions here build the rows of each frame from
columns already read (from the typed rule-input table, :mod:`healthbridge.district.read`) and
order them by a key, so that a full read and an incremental refresh of a few children build
the same frames row for row.

Representations read (docs/exchange.md §"What is read"):

* child: ``Patient`` (``birthDate``, ``gender``, the ``childcare-enrollment`` extension's
  ``centre`` and ``period``, the ``gestational-age`` extension);
* growth: ``Observation`` weight 29463-7, length 8306-3 (lying), height 8302-2 (standing), head
  circumference 9843-4, paired per ``Encounter`` (or per child and day without one) and scored
  with :func:`growth_standards.score` (chronological age, as WHO's survey method does);
* checkups: ``Encounter.type`` coded in CodeSystem ``checkup-visit``;
* vaccinations: ``Immunization`` (status completed) coded in CodeSystem ``nip-vaccine`` with
  ``protocolApplied.doseNumberPositiveInt``;
* centres: ``Organization`` of kind ``childcare-centre`` (``organization-kind``), with the
  optional ``childcare-places`` (valueInteger) and ``childcare-agreement`` (``hospital``
  valueReference, ``period`` valuePeriod; repeatable) extensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final

import numpy as np
import pandas as pd

from healthbridge import terminology as t
from healthbridge.fhir import facts

ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
GESTATIONAL_AGE_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age"
#: Our representation of a centre's agreement with a hospital (医育结合签约): an extension on
#: the centre's Organization with ``hospital`` (valueReference) and ``period`` (valuePeriod).
AGREEMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-agreement"
#: Registered childcare places (托位数) of a centre: valueInteger on its Organization.
PLACES_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-places"
CENTRE_KIND: Final = "childcare-centre"

GROWTH_CODES: Final = {
    t.LOINC_BODY_WEIGHT: "weight_kg",
    t.LOINC_BODY_LENGTH: "lenhei_cm",
    t.LOINC_BODY_HEIGHT: "lenhei_cm",
    t.LOINC_HEAD_CIRCUMFERENCE: "headc_cm",
}
#: Observation statuses whose value counts as a measurement.
MEASURED: Final = ("final", "amended", "corrected")
#: Encounter statuses that are not a checkup that took place.
NOT_HELD: Final = ("cancelled", "entered-in-error", "planned")


@dataclass(frozen=True)
class DistrictFrames:
    """Everything the district reports read, as plain DataFrames.

    * ``children``: ``child_id``, ``birth_date``, ``sex`` (1/2), ``centre``, ``enrolled_on``,
      ``left_on``, ``gestational_age_weeks``;
    * ``measurements``: ``child_id``, ``encounter``, ``date``, ``weight_kg``, ``lenhei_cm``,
      ``measure``, ``headc_cm``, plus ``sex``, ``birth_date``, ``centre``, ``age_days`` and
      growth_standards' score columns (``zwei``, ``fwei``, ``zlen`` …);
    * ``checkups``: ``child_id``, ``date``, ``visit_code``;
    * ``vaccinations``: ``child_id``, ``vaccine``, ``dose``, ``date``;
    * ``centres``: ``centre``, ``name``, ``places``; ``agreements``: ``centre``, ``hospital``,
      ``signed_on``, ``ends_on``.
    """

    children: pd.DataFrame
    measurements: pd.DataFrame
    checkups: pd.DataFrame
    vaccinations: pd.DataFrame
    centres: pd.DataFrame
    agreements: pd.DataFrame
    #: ``child_id``, ``centre``, ``entry_date``, ``status`` (:mod:`healthbridge.district.admission`)
    admission_checks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["child_id", "centre", "entry_date", "status"])
    )


def shallow(frames: DistrictFrames) -> DistrictFrames:
    """Copies sharing the data (copy-on-write): a caller changing its frames cannot change
    the cached ones."""
    return DistrictFrames(
        *(getattr(frames, f.name).copy(deep=False) for f in fields(DistrictFrames))
    )


def day(value: Any) -> str | None:
    """The calendar date of a FHIR date/dateTime as written (local time of the record)."""
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e.get("url") == url]


def children(patients: list[dict[str, Any]]) -> pd.DataFrame:
    """The ``children`` frame of Patients (their elements as stored), in the given order."""
    rows = []
    for p in patients:
        birth = day(p.get("birthDate"))
        if birth is None:
            continue
        centre = enrolled = left = None
        for e in facts.enrolments(p):  # the last enrolment counts
            centre, enrolled, left = e.centre_id, e.start, e.end
        ga = next(
            (
                e.get("valueQuantity", {}).get("value")
                for e in extensions(p, GESTATIONAL_AGE_EXTENSION)
            ),
            None,
        )
        sex = {"male": 1, "female": 2}.get(p.get("gender", ""))
        rows.append((p["id"], birth, sex, centre, enrolled, left, ga))
    frame = pd.DataFrame(
        rows,
        columns=[
            "child_id",
            "birth_date",
            "sex",
            "centre",
            "enrolled_on",
            "left_on",
            "gestational_age_weeks",
        ],
    )
    for col in ("birth_date", "enrolled_on", "left_on"):
        frame[col] = dates(frame[col])
    for col in ("child_id", "centre"):
        frame[col] = frame[col].astype("str")
    frame["sex"] = frame["sex"].astype("Int64")
    frame["gestational_age_weeks"] = pd.to_numeric(
        frame["gestational_age_weeks"], errors="coerce"
    ).astype("float64")
    return frame


def dates(values: pd.Series) -> pd.Series:
    """Calendar dates as datetime64[us] whatever the values (all missing included): the
    frames of a few children refreshed must have the dtypes of the whole district's."""
    return pd.to_datetime(values, errors="coerce").astype("datetime64[us]")


def calendar(days: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` strings (None, or not a valid date: NaT) as datetime64[us]."""
    parsed = pd.to_datetime(days, format="%Y-%m-%d", errors="coerce")
    return pd.Series(parsed, index=days.index).astype("datetime64[us]")


def objects(values: pd.Series) -> pd.Series:
    """Values as an object Series with a fresh index (pandas 3 would infer its string dtype
    from a bare object array; the frames keep object columns)."""
    return pd.Series(values.to_numpy(dtype=object), dtype=object)


def in_standard_units(codes: pd.Series, values: np.ndarray, units: pd.Series) -> np.ndarray:
    """Growth values in kg/cm (:func:`healthbridge.fhir.facts.growth_values`; an unknown unit:
    NaN, dropped — never read as kg or cm)."""
    kinds = [facts.GROWTH_QUANTITY.get(c) for c in codes.tolist()]
    return facts.growth_values(kinds, values, units.tolist())


def growth_frame(
    res_id: pd.Series,
    written: pd.Series,
    child: pd.Series,
    date: pd.Series,
    code: pd.Series,
    value: np.ndarray,
    encounter: pd.Series,
) -> pd.DataFrame:
    """The growth-Observation frame of already filtered rows, with their ``res_id`` and
    ``recorded`` (``meta.lastUpdated``) to order repeated measurements by
    (:func:`healthbridge.district.pairing.pair`); a measurement without an encounter is paired
    per child and day."""
    out = pd.DataFrame(
        {
            "res_id": objects(res_id),
            "recorded": objects(written),
            "child_id": objects(child),
            "encounter": objects(encounter),
            "date": objects(date),
            "code": objects(code),
            "value": value,
        }
    )
    missing = out["encounter"].isna()
    if missing.any():
        own = out.loc[missing, "child_id"] + "@" + out.loc[missing, "date"]
        out.loc[missing, "encounter"] = own
    return out


def checkup_frame(
    res_id: pd.Series, child: pd.Series, date: pd.Series, code: pd.Series
) -> pd.DataFrame:
    """Checkups with the Encounter's ``res_id``, in id order (rows missing a field dropped)."""
    frame = pd.DataFrame(
        {
            "res_id": objects(res_id),
            "child_id": objects(child),
            "date": calendar(date.reset_index(drop=True)).to_numpy(),
            "visit_code": objects(code),
        }
    )
    return by_id(frame.dropna())


def vaccination_frame(
    res_id: pd.Series, child: pd.Series, code: pd.Series, dose: np.ndarray, date: pd.Series
) -> pd.DataFrame:
    """Doses with the Immunization's ``res_id``, in id order (rows missing a field dropped)."""
    frame = pd.DataFrame(
        {
            "res_id": objects(res_id),
            "child_id": objects(child),
            "vaccine": objects(code),
            "dose": dose,
            "date": calendar(date.reset_index(drop=True)).to_numpy(),
        }
    )
    frame = by_id(frame.dropna())
    frame["dose"] = frame["dose"].astype("int64")
    return frame


def by_id(frame: pd.DataFrame, key: str = "res_id") -> pd.DataFrame:
    """Rows in ``key`` order (stable; missing keys last): an order that does not depend on
    where the database stored the rows, so that a refresh reproduces a full read row for row.
    Rows already in order (a table scan in key order) are kept as they are; otherwise the
    keys are factorised in sorted order and the integer codes sorted (a sort of millions of
    strings compared one by one was a large part of a cold read)."""
    values = frame[key]
    if values.notna().all() and values.is_monotonic_increasing:
        return frame.reset_index(drop=True)
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=True)
    codes = np.where(codes < 0, len(uniques), codes)
    return frame.take(np.argsort(codes, kind="stable")).reset_index(drop=True)


def public(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame without the ``res_id`` the refresh keeps."""
    return frame.drop(columns="res_id")


def _codes(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [
        c["code"]
        for c in (concept or {}).get("coding", [])
        if c.get("system") == system and "code" in c
    ]


def _sub(extension: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in extension.get("extension", []) if e.get("url") == url), {})


def centres(organizations: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``centres`` and ``agreements`` frames of the Organizations (parsed whole: nested
    extensions, a handful per district), in centre order."""
    found, agreements = [], []
    for o in organizations:
        kinds = [c for tp in o.get("type", []) for c in _codes(tp, t.CS_ORG_KIND)]
        if CENTRE_KIND not in kinds or o.get("active") is False:
            continue
        places = next((e.get("valueInteger") for e in extensions(o, PLACES_EXTENSION)), None)
        found.append((o["id"], o.get("name"), places))
        for ext in extensions(o, AGREEMENT_EXTENSION):
            hospital = facts.ref_id(_sub(ext, "hospital").get("valueReference"), "Organization")
            period = _sub(ext, "period").get("valuePeriod", {})
            if hospital and day(period.get("start")):
                agreements.append(
                    (o["id"], hospital, day(period.get("start")), day(period.get("end")))
                )
    found.sort(key=lambda row: row[0])
    agreements.sort(key=lambda row: row[0])  # stable: a centre's agreements in order
    centre_frame = pd.DataFrame(found, columns=["centre", "name", "places"])
    centre_frame["places"] = pd.to_numeric(centre_frame["places"], errors="coerce")
    agreement_frame = pd.DataFrame(
        agreements, columns=["centre", "hospital", "signed_on", "ends_on"]
    )
    for col in ("signed_on", "ends_on"):
        agreement_frame[col] = pd.to_datetime(agreement_frame[col], errors="coerce")
    return centre_frame, agreement_frame
