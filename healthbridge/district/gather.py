"""Read a whole district out of the store as the DataFrames the pure reports take.

Whole-district figures read every child, visit and dose, so this module reads set-based instead
of paging through FHIR searches. Observations, Encounters, Immunizations and Patients come from
the typed rule-input table the store keeps at write time (:mod:`healthbridge.store.rule_inputs`:
column scans) when it is current, else from the stored documents (one query per type, the
fields extracted by the database: :mod:`healthbridge.pipeline.dbframes`, ``json_extract`` /
``jsonb``); both apply the table's rules (references relative or absolute, the first LOINC code,
the last ``checkup-visit`` / ``nip-vaccine`` coding, dates as the first 10 characters written),
so the frames are the same. Organizations (nested extensions) are parsed whole. It reads as
the district platform itself: callers either return aggregates only (reports, gated by
:func:`healthbridge.district.roles.require_role`) or read the children they output back
through the Transaction API as the caller (WHO Anthro export).

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

import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
import pickle
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection, text

import growth_standards
from healthbridge import terminology as t
from healthbridge.district.admission import admission_checks
from healthbridge.fhir import facts
from healthbridge.fhir.values import index_instant
from healthbridge.inputs import dbframes as dbf
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository

ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
GESTATIONAL_AGE_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age"
#: Our representation of a centre's agreement with a hospital (医育结合签约): an extension on
#: the centre's Organization with ``hospital`` (valueReference) and ``period`` (valuePeriod).
AGREEMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-agreement"
#: Registered childcare places (托位数) of a centre: valueInteger on its Organization.
PLACES_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-places"
CENTRE_KIND: Final = "childcare-centre"

_GROWTH_CODES: Final = {
    t.LOINC_BODY_WEIGHT: "weight_kg",
    t.LOINC_BODY_LENGTH: "lenhei_cm",
    t.LOINC_BODY_HEIGHT: "lenhei_cm",
    t.LOINC_HEAD_CIRCUMFERENCE: "headc_cm",
}


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


def _contents(conn: Connection, resource_type: str) -> Iterator[dict[str, Any]]:
    yield from dbf.parse(dbf.fields(conn, resource_type, {"doc": "$"})["doc"].tolist())


def _ref_id(reference: dict[str, Any] | None, resource_type: str) -> str | None:
    return facts.ref_id(reference, resource_type)


def _day(value: Any) -> str | None:
    """The calendar date of a FHIR date/dateTime as written (local time of the record)."""
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _codes(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [
        c["code"]
        for c in (concept or {}).get("coding", [])
        if c.get("system") == system and "code" in c
    ]


def _extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e.get("url") == url]


def _sub(extension: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in extension.get("extension", []) if e.get("url") == url), {})


def _children(patients: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for p in patients:
        birth = _day(p.get("birthDate"))
        if birth is None:
            continue
        centre = enrolled = left = None
        for e in facts.enrolments(p):  # the last enrolment counts
            centre, enrolled, left = e.centre_id, e.start, e.end
        ga = next(
            (
                e.get("valueQuantity", {}).get("value")
                for e in _extensions(p, GESTATIONAL_AGE_EXTENSION)
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
        frame[col] = _dates(frame[col])
    for col in ("child_id", "centre"):
        frame[col] = frame[col].astype("str")
    frame["sex"] = frame["sex"].astype("Int64")
    frame["gestational_age_weeks"] = pd.to_numeric(
        frame["gestational_age_weeks"], errors="coerce"
    ).astype("float64")
    return frame


def _dates(values: pd.Series) -> pd.Series:
    """Calendar dates as datetime64[us] whatever the values (all missing included): the
    frames of a few children refreshed must have the dtypes of the whole district's."""
    return pd.to_datetime(values, errors="coerce").astype("datetime64[us]")


def _coded(
    conn: Connection,
    resource_type: str,
    codings: str,
    system: str,
    paths: dict[str, str],
    codes: Sequence[str] | None = None,
    *,
    concepts: bool = False,
    last: bool = False,
    exclude: str | None = None,
    res_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per current resource with a code of ``system`` in the coding array at JSON path
    ``codings`` (``concepts``: in a list of CodeableConcepts there) — the first such code
    counts (``last``: the code of the last such coding, whatever it holds); with ``codes``,
    only those — with the requested fields, all read field-wise by the
    database (:mod:`healthbridge.pipeline.dbframes`, shared with ``healthbridge evaluate``)."""
    raw = dbf.fields(
        conn,
        resource_type,
        {"codings": codings, **paths},
        exclude_containing=exclude,
        res_ids=res_ids,
    )
    arrays = raw["codings"].tolist()
    if concepts:
        arrays = [dbf.concept_codings(a) for a in arrays]
    raw.insert(1, "code", pd.Series(dbf.coded(arrays, system, last=last), dtype=object))
    keep = raw["code"].notna()
    if codes is not None:
        keep &= raw["code"].isin(list(codes))
    return raw.loc[keep].drop(columns="codings").reset_index(drop=True)


def _refs(values: Sequence[Any], resource_type: str) -> pd.Series:
    """``Type/id`` references (relative or absolute) → ids of ``resource_type``, None for
    anything else: the rule of the rule-input table (:func:`healthbridge.store.rule_inputs.
    ref_id`) and of the clinical pipeline (:func:`healthbridge.pipeline.dbframes.ref_ids`)."""
    return pd.Series(dbf.ref_ids(list(values), resource_type), dtype=object)


def _number(value: Any) -> float:
    """A JSON number as float (anything else, or non-finite: NaN) — the rule-input table's."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        out = float(value)
    except OverflowError:
        return math.nan
    return out if math.isfinite(out) else math.nan


def _numbers(values: Sequence[Any]) -> np.ndarray:
    return np.array([_number(v) for v in values], dtype="float64")


def _first10(values: Sequence[Any]) -> pd.Series:
    """The date as written: the first 10 characters of a string of at least 10 (a partial
    date such as ``2024-05`` has no day and counts as missing), else None — the rule-input
    table's ``day``."""
    return pd.Series(
        [v[:10] if isinstance(v, str) and len(v) >= 10 else None for v in values], dtype=object
    )


def _calendar(days: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` strings (None, or not a valid date: NaT) as datetime64[us]."""
    parsed = pd.to_datetime(days, format="%Y-%m-%d", errors="coerce")
    return pd.Series(parsed, index=days.index).astype("datetime64[us]")


def _strings(values: Sequence[Any]) -> pd.Series:
    """JSON strings as they are, anything else None (as the table's ``status``)."""
    return pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)


#: Observation statuses whose value counts as a measurement.
_MEASURED: Final = ("final", "amended", "corrected")
#: Encounter statuses that are not a checkup that took place.
_NOT_HELD: Final = ("cancelled", "entered-in-error", "planned")


def _objects(values: pd.Series) -> pd.Series:
    """Values as an object Series with a fresh index (pandas 3 would infer its string dtype
    from a bare object array; the frames keep object columns whichever source they came
    from)."""
    return pd.Series(values.to_numpy(dtype=object), dtype=object)


def _growth_frame(
    res_id: pd.Series,
    written: pd.Series,
    child: pd.Series,
    day: pd.Series,
    code: pd.Series,
    value: np.ndarray,
    encounter: pd.Series,
) -> pd.DataFrame:
    """The growth-Observation frame of already filtered rows (either source)."""
    out = pd.DataFrame(
        {
            "res_id": _objects(res_id),
            "recorded": _objects(written),
            "child_id": _objects(child),
            "encounter": _objects(encounter),
            "date": _objects(day),
            "code": _objects(code),
            "value": value,
        }
    )
    missing = out["encounter"].isna()
    if missing.any():
        own = out.loc[missing, "child_id"] + "@" + out.loc[missing, "date"]
        out.loc[missing, "encounter"] = own
    return out


def _growth_observations(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Weight, length/height and head-circumference Observations, with their ``res_id`` and
    ``recorded`` (``meta.lastUpdated``) to order repeated measurements by (:func:`_pair`), read from
    the stored documents by the rule-input table's rules (:func:`_growth_from_table`)."""
    raw = _coded(
        conn,
        "Observation",
        "$.code.coding",
        t.LOINC,
        {
            "status": "$.status",
            "subject": "$.subject.reference",
            "value": "$.valueQuantity.value",
            "unit": "$.valueQuantity.code",
            "effective": "$.effectiveDateTime",
            "period_start": "$.effectivePeriod.start",
            "encounter": "$.encounter.reference",
            "recorded": "$.meta.lastUpdated",
        },
        codes=list(_GROWTH_CODES),
        exclude=t.CS_GROWTH_INDICATOR,  # the derived scores: not measurements
        res_ids=res_ids,
    )
    raw = raw.loc[_strings(raw["status"].tolist()).isin(_MEASURED).to_numpy()]
    when = [
        e if isinstance(e, str) and e else p
        for e, p in zip(raw["effective"].tolist(), raw["period_start"].tolist(), strict=True)
    ]
    child = _refs(raw["subject"].tolist(), "Patient")
    day = _first10(when)
    value = _in_standard_units(raw["code"], _numbers(raw["value"].tolist()), raw["unit"])
    keep = (child.notna() & day.notna()).to_numpy() & ~np.isnan(value)
    written = pd.Series(["" if w is None else str(w) for w in raw["recorded"].tolist()])
    return _growth_frame(
        _text(raw["res_id"]).reset_index(drop=True)[keep],
        written[keep],
        child[keep],
        day[keep],
        _text(raw["code"]).reset_index(drop=True)[keep],
        value[keep],
        _refs(raw["encounter"].tolist(), "Encounter")[keep],
    )


def _text(values: pd.Series) -> pd.Series:
    return values.astype("object")


#: The paired columns of the growth codes, in :func:`_pair`'s field numbering.
_FIELDS: Final = ("weight_kg", "lenhei_cm", "headc_cm")
_MEASURE: Final = {t.LOINC_BODY_LENGTH: "l", t.LOINC_BODY_HEIGHT: "h"}


def _last_recorded(observations: pd.DataFrame, group: np.ndarray) -> np.ndarray:
    """Positions (ascending) of the last recorded row of each ``group``: the only row of most
    groups; for the rest the greatest (``recorded``, ``res_id``)."""
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    sizes = np.diff(np.r_[np.flatnonzero(starts), len(ordered)])
    repeated = np.repeat(sizes > 1, sizes)
    single = order[~repeated]
    if not repeated.any():
        return np.sort(single)
    rows = order[repeated]
    some = pd.DataFrame(
        {
            "group": group[rows],
            "recorded": observations["recorded"].to_numpy(dtype=object)[rows],
            "res_id": observations["res_id"].to_numpy(dtype=object)[rows],
            "row": rows,
        }
    )
    some = some.sort_values(["group", "recorded", "res_id"], kind="stable", na_position="first")
    last = some.drop_duplicates("group", keep="last")["row"].to_numpy(dtype=np.int64)
    return np.sort(np.concatenate([single, last]))


def _pair(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per (child, encounter), in that order: weight, length/height with its measure
    (``l`` lying, ``h`` standing), head circumference (``observations`` in any order).

    A repeated measurement in one encounter: the last one recorded counts (per field: the
    greatest ``recorded`` — ``meta.lastUpdated`` — then ``res_id``, as the store's instants
    have millisecond precision; an order free of where the rows were stored, so that a refresh
    of a few children pairs exactly as a read of the whole district does), and so does the
    measure of the length/height kept; the date is the earliest of the measurements kept.
    Computed on integer keys (the children and encounters factorised in sorted order, so the
    rows come out in (child, encounter) order; only the few repeated measurements are ordered
    by their stamps): a pivot on the string keys after sorting every row by its stamp took
    most of a cold read. ``tests/healthbridge/district/test_gather_pair.py`` checks it against
    the pandas implementation it replaces."""
    columns = ["child_id", "encounter", "date", "weight_kg", "lenhei_cm", "measure", "headc_cm"]
    if observations.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    code = observations["code"].to_numpy(dtype=object)
    field_no = np.full(len(code), -1, dtype=np.int64)
    for k, name in enumerate(_FIELDS):
        for loinc, target in _GROWTH_CODES.items():
            if target == name:
                field_no[code == loinc] = k
    child_no, children = pd.factorize(observations["child_id"].to_numpy(dtype=object), sort=True)
    enc_no, encounters = pd.factorize(observations["encounter"].to_numpy(dtype=object), sort=True)
    key = child_no.astype(np.int64) * max(len(encounters), 1) + enc_no
    kept = _last_recorded(observations, key * len(_FIELDS) + field_no)
    keys, group = np.unique(key, return_inverse=True)
    group_kept, field_kept = group[kept], field_no[kept]
    values = observations["value"].to_numpy(dtype="float64")[kept]
    wide = np.full((len(keys), len(_FIELDS)), np.nan)
    wide[group_kept, field_kept] = values
    # earliest date among the kept rows (dates factorised in sorted order)
    date_no, dates = pd.factorize(observations["date"].to_numpy(dtype=object)[kept], sort=True)
    order = np.lexsort((date_no, group_kept))
    first = order[np.r_[True, group_kept[order][1:] != group_kept[order][:-1]]]
    date = np.empty(len(keys), dtype=object)
    date[group_kept[first]] = dates[date_no[first]]
    measure = np.full(len(keys), np.nan, dtype=object)
    lenhei = field_kept == _FIELDS.index("lenhei_cm")
    measure[group_kept[lenhei]] = [_MEASURE.get(c) for c in code[kept][lenhei]]
    measure[pd.isna(measure)] = np.nan
    span = max(len(encounters), 1)
    return pd.DataFrame(
        {
            "child_id": pd.Series(children[keys // span], dtype="str"),
            "encounter": pd.Series(encounters[keys % span], dtype="str"),
            "date": pd.Series(date, dtype=object),
            "weight_kg": wide[:, 0],
            "lenhei_cm": wide[:, 1],
            "measure": pd.Series(measure, dtype="str"),
            "headc_cm": wide[:, 2],
        }
    )


def score_measurements(measurements: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Attach the child's sex, birth date and centre, the age in days, and WHO z-scores."""
    info = children[["child_id", "sex", "birth_date", "centre"]]
    frame = measurements.merge(info, on="child_id", how="inner")
    frame["date"] = _dates(frame["date"])
    frame["age_days"] = (frame["date"] - frame["birth_date"]).dt.days.astype("float64")
    frame = frame.loc[frame["age_days"] >= 0].reset_index(drop=True)
    for col in ("weight_kg", "lenhei_cm", "headc_cm"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["measure"] = frame["measure"].astype("object").where(frame["measure"].notna(), None)
    if frame.empty:
        return frame
    return growth_standards.score(frame)


def _checkups(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Encounters typed in CodeSystem ``checkup-visit`` (not cancelled/planned/in error), with
    the Encounter's ``res_id``, in id order. The visit is the code of the last
    ``checkup-visit`` coding (the rule-input table's and the clinical pipeline's rule)."""
    raw = _coded(
        conn,
        "Encounter",
        "$.type",
        t.CS_CHECKUP_VISIT,
        {"status": "$.status", "subject": "$.subject.reference", "start": "$.period.start"},
        concepts=True,
        last=True,
        res_ids=res_ids,
    )
    raw = raw.loc[~_strings(raw["status"].tolist()).isin(_NOT_HELD).to_numpy()]
    return _checkup_frame(
        _text(raw["res_id"]),
        _refs(raw["subject"].tolist(), "Patient"),
        _first10(raw["start"].tolist()),
        _text(raw["code"]),
    )


def _checkup_frame(
    res_id: pd.Series, child: pd.Series, day: pd.Series, code: pd.Series
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "res_id": _objects(res_id),
            "child_id": _objects(child),
            "date": _calendar(day.reset_index(drop=True)).to_numpy(),
            "visit_code": _objects(code),
        }
    )
    return _by_id(frame.dropna())


def _vaccinations(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Completed Immunizations coded in CodeSystem ``nip-vaccine`` (the code of the last such
    coding) with a dose number, with the Immunization's ``res_id``, in id order."""
    raw = _coded(
        conn,
        "Immunization",
        "$.vaccineCode.coding",
        t.CS_NIP_VACCINE,
        {
            "status": "$.status",
            "patient": "$.patient.reference",
            "dose": "$.protocolApplied[0].doseNumberPositiveInt",
            "occurrence": "$.occurrenceDateTime",
        },
        last=True,
        res_ids=res_ids,
    )
    raw = raw.loc[(_strings(raw["status"].tolist()) == "completed").to_numpy()]
    return _vaccination_frame(
        _text(raw["res_id"]),
        _refs(raw["patient"].tolist(), "Patient"),
        _text(raw["code"]),
        _numbers(raw["dose"].tolist()),
        _first10(raw["occurrence"].tolist()),
    )


def _vaccination_frame(
    res_id: pd.Series, child: pd.Series, code: pd.Series, dose: np.ndarray, day: pd.Series
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "res_id": _objects(res_id),
            "child_id": _objects(child),
            "vaccine": _objects(code),
            "dose": dose,
            "date": _calendar(day.reset_index(drop=True)).to_numpy(),
        }
    )
    frame = _by_id(frame.dropna())
    frame["dose"] = frame["dose"].astype("int64")
    return frame


def _sql_list(values: Sequence[str]) -> str:
    """``('a', 'b')`` of our own constants (never input)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _transpose(rows: list[Any], n: int) -> list[pd.Series]:
    """The columns of fetched rows as object Series (one C-level transpose)."""
    if not rows:
        return [pd.Series([], dtype=object) for _ in range(n)]
    table = np.array(rows, dtype=object)
    return [pd.Series(table[:, k], dtype=object) for k in range(n)]


def _patients_from_table(conn: Connection) -> list[dict[str, Any]]:
    """The Patients' elements the district reads (``id``, ``birthDate``, ``gender``,
    ``extension``: the table's ``extra`` keeps them as stored), in id order."""
    rows = ri.scan(conn, "Patient", "extra", " AND extra IS NOT NULL")
    return sorted((orjson.loads(e) for (e,) in rows), key=lambda p: str(p["id"]))


def _growth_from_table(conn: Connection) -> pd.DataFrame:
    """:func:`_growth_observations` from the rule-input table: its ``code`` is the first
    non-empty LOINC code, ``child_id``/``encounter_id`` the referenced ids, ``day`` the first
    10 characters of ``effectiveDateTime`` (else ``effectivePeriod.start``), ``value`` the
    finite JSON number of ``valueQuantity.value`` and ``written`` ``meta.lastUpdated`` —
    the rules :func:`_growth_observations` applies to the documents; derived growth scores
    have no row."""
    rid, written, child, day, code, value, encounter, unit = _transpose(
        ri.scan(
            conn,
            "Observation",
            "res_id, written, child_id, day, code, value, encounter_id, unit",
            f" AND code IN {_sql_list(list(_GROWTH_CODES))} AND status IN {_sql_list(_MEASURED)}"
            " AND child_id IS NOT NULL AND day IS NOT NULL AND value IS NOT NULL",
        ),
        8,
    )
    number = _in_standard_units(code, value.to_numpy(dtype="float64"), unit)
    keep = ~np.isnan(number)
    return _growth_frame(
        rid[keep].reset_index(drop=True),
        written.where(written.notna(), "")[keep].reset_index(drop=True),
        child[keep].reset_index(drop=True),
        day[keep].reset_index(drop=True),
        code[keep].reset_index(drop=True),
        number[keep],
        encounter[keep].reset_index(drop=True),
    )


def _in_standard_units(codes: pd.Series, values: np.ndarray, units: pd.Series) -> np.ndarray:
    """Growth values in kg/cm (:func:`healthbridge.fhir.facts.growth_values`; an unknown unit:
    NaN, dropped — never read as kg or cm)."""
    kinds = [facts.GROWTH_QUANTITY.get(c) for c in codes.tolist()]
    return facts.growth_values(kinds, values, units.tolist())


def _checkups_from_table(conn: Connection) -> pd.DataFrame:
    """:func:`_checkups` from the rule-input table (``code``: the last ``checkup-visit``
    coding's code; ``day``: ``period.start`` as written)."""
    rid, child, day, code = _transpose(
        ri.scan(
            conn,
            "Encounter",
            "res_id, child_id, day, code",
            f" AND code IS NOT NULL AND (status IS NULL OR status NOT IN {_sql_list(_NOT_HELD)})",
        ),
        4,
    )
    return _checkup_frame(rid, child, day, code)


def _vaccinations_from_table(conn: Connection) -> pd.DataFrame:
    """:func:`_vaccinations` from the rule-input table (``code``: the last ``nip-vaccine``
    coding's code; ``value``: the first ``protocolApplied.doseNumberPositiveInt``)."""
    rid, child, code, dose, day = _transpose(
        ri.scan(
            conn,
            "Immunization",
            "res_id, child_id, code, value, day",
            " AND status = 'completed' AND code IS NOT NULL",
        ),
        5,
    )
    return _vaccination_frame(rid, child, code, dose.to_numpy(dtype="float64"), day)


def _by_id(frame: pd.DataFrame, key: str = "res_id") -> pd.DataFrame:
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


def _centres(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    centres, agreements = [], []
    for o in _contents(conn, "Organization"):
        kinds = [c for tp in o.get("type", []) for c in _codes(tp, t.CS_ORG_KIND)]
        if CENTRE_KIND not in kinds or o.get("active") is False:
            continue
        places = next((e.get("valueInteger") for e in _extensions(o, PLACES_EXTENSION)), None)
        centres.append((o["id"], o.get("name"), places))
        for ext in _extensions(o, AGREEMENT_EXTENSION):
            hospital = _ref_id(_sub(ext, "hospital").get("valueReference"), "Organization")
            period = _sub(ext, "period").get("valuePeriod", {})
            if hospital and _day(period.get("start")):
                agreements.append(
                    (o["id"], hospital, _day(period.get("start")), _day(period.get("end")))
                )
    centres.sort(key=lambda row: row[0])
    agreements.sort(key=lambda row: row[0])  # stable: a centre's agreements in order
    centre_frame = pd.DataFrame(centres, columns=["centre", "name", "places"])
    centre_frame["places"] = pd.to_numeric(centre_frame["places"], errors="coerce")
    agreement_frame = pd.DataFrame(
        agreements, columns=["centre", "hospital", "signed_on", "ends_on"]
    )
    for col in ("signed_on", "ends_on"):
        agreement_frame[col] = pd.to_datetime(agreement_frame[col], errors="coerce")
    return centre_frame, agreement_frame


#: Resource types the district frames are read from.
_READ_TYPES: Final = ("Patient", "Observation", "Encounter", "Immunization", "Organization")
#: How far before a read a later refresh looks again for changes: a write stamps its rows
#: when it runs and becomes visible when it commits, so rows stamped shortly before a read may
#: appear after it. A write committing later than this (or stamped by a clock further behind)
#: is caught by the version count (see :class:`_Mark`) and costs a full read, never a wrong
#: frame.
REFRESH_MARGIN: dt.timedelta = dt.timedelta(minutes=5)
#: More changed resources than this since the last read: read everything again.
DELTA_LIMIT: int = 50_000


def data_version(conn: Connection) -> tuple[object, ...]:
    """A cheap fingerprint of the stored data: the number of versions ever written (every
    committed create, update or delete adds one, whichever transaction commits last) and the
    latest ``lastUpdated`` of each type read (index lookups)."""
    count = conn.exec_driver_sql("SELECT count(*) FROM resource_version").scalar_one()
    latest = tuple(
        conn.execute(
            text("SELECT max(last_updated) FROM resource WHERE res_type = :t"), {"t": rtype}
        ).scalar_one()
        for rtype in _READ_TYPES
    )
    return (count, *latest)


@dataclass(frozen=True)
class _Mark:
    """What was read of one resource type: the watermark of an incremental refresh.

    The store never removes a version and stamps every version (create, update, delete) with
    the time it was written; a resource's ``lastUpdated`` is its newest version's. With
    ``since`` a little before the read (:data:`REFRESH_MARGIN`), and ``window`` the (version,
    stamp) of
    every row stamped at or after it, a later read finds every resource changed since as a
    row stamped at or after ``since`` whose (version, stamp) is not in ``window`` —
    *provided* no new version is stamped before ``since``. That is checked, not assumed: the
    count of versions of the type grew by exactly as many as the versions stamped at or after
    ``since`` did (``versions``, ``window_versions``), and every row of ``window`` is still
    there. Anything else (a long transaction committing late, a restored backup, another
    database at the same URL) fails the check and the district is read whole again.
    """

    versions: int
    since: str
    window: dict[str, tuple[int, str]]
    window_versions: int


@dataclass(frozen=True)
class _State:
    """The cached district: the frames handed out plus what a refresh updates them from."""

    version: tuple[object, ...]
    revision: str | None
    marks: dict[str, _Mark]
    observations: pd.DataFrame  # _growth_observations of every child, in child order
    checkups: pd.DataFrame  # _checkups, with res_id
    vaccinations: pd.DataFrame  # _vaccinations, with res_id
    frames: DistrictFrames


@dataclass(frozen=True)
class GatherInfo:
    """How the last cached :func:`gather` got its frames (for benchmarks and tests):
    ``cached`` (data unchanged), ``incremental`` (``changed`` resources per type re-read),
    ``snapshot`` (loaded from the snapshot file, then ``changed`` resources re-read) or
    ``full`` (with the ``reason``, and the ``source`` read: ``table`` or ``documents``)."""

    mode: str
    changed: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    source: str = ""


#: Last gathered district per database URL.
_CACHE: dict[str, _State] = {}
_CACHE_LOCK = threading.Lock()
#: One refresh at a time: a second report request waits for the first one's frames.
_REFRESH_LOCK = threading.Lock()
_LAST: list[GatherInfo] = [GatherInfo("none")]


def last_gather() -> GatherInfo:
    """How the last cached :func:`gather` of this process got its frames."""
    return _LAST[0]


def _since(started: dt.datetime) -> str:
    """The window start of a read that started at ``started`` (the store's index form)."""
    return index_instant(started - REFRESH_MARGIN)


def _window(conn: Connection, rtype: str, since: str) -> list[tuple[str, int, str]]:
    rows = conn.execute(
        text(
            "SELECT res_id, version_id, last_updated FROM resource"
            " WHERE res_type = :t AND last_updated >= :s"
        ),
        {"t": rtype, "s": since},
    ).all()
    return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def _counts(conn: Connection, rtype: str, since: str) -> tuple[int, int]:
    """(versions of the type, versions of it stamped at or after ``since``)."""
    versions = conn.execute(
        text("SELECT count(*) FROM resource_version WHERE res_type = :t"), {"t": rtype}
    ).scalar_one()
    recent = conn.execute(
        text(
            "SELECT count(*) FROM resource_version v JOIN resource r"
            " ON v.res_type = r.res_type AND v.res_id = r.res_id"
            " WHERE r.res_type = :t AND r.last_updated >= :s AND v.last_updated >= :s"
        ),
        {"t": rtype, "s": since},
    ).scalar_one()
    return int(versions), int(recent)


def _mark(conn: Connection, rtype: str, started: dt.datetime) -> _Mark:
    since = _since(started)
    versions, recent = _counts(conn, rtype, since)
    window = {rid: (v, stamp) for rid, v, stamp in _window(conn, rtype, since)}
    return _Mark(versions, since, window, recent)


def _revision(conn: Connection) -> str | None:
    """The schema revision (a migration may rewrite stored rows without new versions)."""
    if not conn.dialect.has_table(conn, "alembic_version"):  # made without migrations
        return None
    value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


def _measurements(observations: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    return score_measurements(_pair(observations), children)


def _public(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="res_id")


#: Where a full read takes the Observations, Encounters, Immunizations and Patients from:
#: ``"table"`` the typed rule-input table, ``"documents"`` the stored JSON, ``"auto"`` the
#: table when it is current (:func:`healthbridge.store.rule_inputs.is_current`), else the
#: documents.
Source = Literal["auto", "table", "documents"]


class StaleRuleInputsError(RuntimeError):
    """``source="table"`` was asked for but the rule-input table is not current (run
    ``healthbridge db reindex --rule-inputs``)."""


def _use_table(conn: Connection, source: Source) -> bool:
    if source == "documents":
        return False
    current = ri.is_current(conn)
    if source == "table" and not current:
        raise StaleRuleInputsError(
            "the rule-input table is not current: run 'healthbridge db reindex --rule-inputs'"
        )
    return current


def _read_state(
    conn: Connection, version: tuple[object, ...], started: dt.datetime, source: Source = "auto"
) -> tuple[_State, str]:
    """Read everything (the caller holds one snapshot, begun after ``started``: the watermark
    matches the frames); returns the state and the source read (``table``/``documents``).

    From the rule-input table (:mod:`healthbridge.store.rule_inputs`, written by the store in
    the same transaction as every resource version) the read is a few column scans; from the
    documents every resource's JSON is parsed. Both apply the same rules, so the frames are
    identical (tests/healthbridge/district/test_gather_source.py)."""
    marks = {rtype: _mark(conn, rtype, started) for rtype in _READ_TYPES}
    table = _use_table(conn, source)
    if table:
        ordered = _patients_from_table(conn)
        observations = _by_id(_growth_from_table(conn), "child_id")
        checkups = _checkups_from_table(conn)
        vaccinations = _vaccinations_from_table(conn)
    else:
        ordered = sorted(_contents(conn, "Patient"), key=lambda p: str(p["id"]))
        observations = _by_id(_growth_observations(conn), "child_id")
        checkups = _checkups(conn)
        vaccinations = _vaccinations(conn)
    children = _children(ordered)
    centres, agreements = _centres(conn)
    frames = DistrictFrames(
        children=children,
        measurements=_measurements(observations, children),
        checkups=_public(checkups),
        vaccinations=_public(vaccinations),
        centres=centres,
        agreements=agreements,
        admission_checks=admission_checks(ordered),
    )
    state = _State(version, _revision(conn), marks, observations, checkups, vaccinations, frames)
    return state, "table" if table else "documents"


def _read(conn: Connection, source: Source = "auto") -> DistrictFrames:
    started = dt.datetime.now(dt.UTC)
    return _read_state(conn, data_version(conn), started, source)[0].frames


def _ranges(frame: pd.DataFrame, key: str, keys: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end positions of each of ``keys`` (in sorted order) in ``frame``, which is
    in ``key`` order (binary search: no pass over the whole column)."""
    values = frame[key].to_numpy(dtype=object)
    wanted = np.array(sorted(keys), dtype=object)
    return (
        np.searchsorted(values, wanted, side="left"),
        np.searchsorted(values, wanted, side="right"),
    )


def _rows(frame: pd.DataFrame, key: str, keys: set[str]) -> pd.DataFrame:
    """The rows of ``frame`` (in ``key`` order) whose ``key`` is one of ``keys``."""
    if not keys or frame.empty:
        return frame.iloc[:0]
    lo, hi = _ranges(frame, key, keys)
    return frame.take(np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)]))


def _splice(frame: pd.DataFrame, key: str, drop: set[str], new: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (in ``key`` order) without the rows whose ``key`` is in ``drop``, with ``new``
    (in ``key`` order, every key in ``drop``) inserted where its keys sort: the rows kept are
    sliced, not filtered, so the frame is copied once."""
    if frame.empty:
        return new.reset_index(drop=True)
    if not drop:
        return frame
    lo, hi = _ranges(frame, key, drop)
    keys = sorted(drop)
    if new.empty:
        new_lo = new_hi = np.zeros(len(keys), dtype=np.int64)
    else:
        new = new.astype(frame.dtypes.to_dict())
        new_keys = new[key].to_numpy(dtype=object)
        wanted = np.array(keys, dtype=object)
        new_lo = np.searchsorted(new_keys, wanted, side="left")
        new_hi = np.searchsorted(new_keys, wanted, side="right")
    pieces, start = [], 0
    for a, b, c, d in zip(lo, hi, new_lo, new_hi, strict=True):
        if a > start:
            pieces.append(frame.iloc[start:a])
        if d > c:
            pieces.append(new.iloc[c:d])
        start = max(start, int(b))
    if start < len(frame):
        pieces.append(frame.iloc[start:])
    if not pieces:
        return frame.iloc[:0].reset_index(drop=True)
    return pd.concat(pieces, ignore_index=True)


def _changes(conn: Connection, state: _State) -> tuple[dict[str, list[str]], str]:
    """Per type, the ids changed since ``state`` was read; an empty reason when the watermark
    holds (see :class:`_Mark`), else why the district must be read whole."""
    if _revision(conn) != state.revision:
        return {}, "schema revision changed"
    changed: dict[str, list[str]] = {}
    for rtype in _READ_TYPES:
        mark = state.marks[rtype]
        versions, recent = _counts(conn, rtype, mark.since)
        if versions - mark.versions != recent - mark.window_versions:
            return {}, f"{rtype}: versions written before the watermark"
        window = _window(conn, rtype, mark.since)
        if len(mark.window.keys() - {rid for rid, _, _ in window}):
            # a stamp never goes back and the store never removes a row: another database
            return {}, f"{rtype}: rows read before are gone"
        changed[rtype] = sorted(
            rid for rid, v, stamp in window if mark.window.get(rid) != (v, stamp)
        )
    total = sum(len(ids) for ids in changed.values())
    if total > DELTA_LIMIT:
        return {}, f"{total} changed resources (more than {DELTA_LIMIT})"
    return changed, ""


def _refresh(
    conn: Connection,
    state: _State,
    version: tuple[object, ...],
    changed: dict[str, list[str]],
    started: dt.datetime,
) -> _State:
    """``state`` brought up to date by re-reading only the ``changed`` resources: Patients
    (their children, entry checks and every measurement of theirs re-scored), growth
    Observations (the children they belonged to or now belong to re-paired and re-scored),
    Encounters and Immunizations (their rows replaced), Organizations (the centres re-read:
    a handful of rows). Every other row is kept as is."""
    frames = state.frames
    patient_ids = set(changed["Patient"])
    children, checks = frames.children, frames.admission_checks
    if patient_ids:
        rows = dbf.fields(conn, "Patient", {"doc": "$"}, res_ids=sorted(patient_ids))["doc"]
        now = sorted(dbf.parse(rows.tolist()), key=lambda p: str(p["id"]))
        children = _splice(children, "child_id", patient_ids, _children(now))
        checks = _splice(checks, "child_id", patient_ids, admission_checks(now))

    observations = state.observations  # in child order
    affected = set(patient_ids)
    if changed["Observation"]:
        ids = changed["Observation"]
        gone = observations["res_id"].isin(ids)
        fresh = _growth_observations(conn, ids)
        owners = set(observations.loc[gone, "child_id"]) | set(fresh["child_id"])
        theirs = _rows(observations, "child_id", owners)
        theirs = pd.concat([theirs.loc[~theirs["res_id"].isin(ids)], fresh], ignore_index=True)
        observations = _splice(observations, "child_id", owners, _by_id(theirs, "child_id"))
        affected |= owners
    measurements = frames.measurements
    if affected:
        new = _measurements(
            _rows(observations, "child_id", affected), _rows(children, "child_id", affected)
        )
        lo, hi = _ranges(measurements, "child_id", affected)
        if int((hi - lo).sum()) == len(measurements):  # nothing else left: as a full read
            measurements = _measurements(observations, children)
        else:
            measurements = _splice(measurements, "child_id", affected, new)

    checkups, vaccinations = state.checkups, state.vaccinations
    if changed["Encounter"]:
        ids = changed["Encounter"]
        checkups = _splice(checkups, "res_id", set(ids), _checkups(conn, ids))
    if changed["Immunization"]:
        ids = changed["Immunization"]
        vaccinations = _splice(vaccinations, "res_id", set(ids), _vaccinations(conn, ids))
    centres, agreements = frames.centres, frames.agreements
    if changed["Organization"]:
        centres, agreements = _centres(conn)
    return _State(
        version=version,
        revision=state.revision,
        marks={rtype: _mark(conn, rtype, started) for rtype in _READ_TYPES},
        observations=observations,
        checkups=checkups,
        vaccinations=vaccinations,
        frames=DistrictFrames(
            children=children,
            measurements=measurements,
            checkups=_public(checkups) if changed["Encounter"] else frames.checkups,
            vaccinations=_public(vaccinations) if changed["Immunization"] else frames.vaccinations,
            centres=centres,
            agreements=agreements,
            admission_checks=checks,
        ),
    )


def _shallow(frames: DistrictFrames) -> DistrictFrames:
    """Copies sharing the data (copy-on-write): a caller changing its frames cannot change
    the cached ones."""
    return DistrictFrames(
        *(getattr(frames, f.name).copy(deep=False) for f in fields(DistrictFrames))
    )


def _snapshot(conn: Connection) -> Connection:
    """One consistent view for the whole read (PostgreSQL: REPEATABLE READ; SQLite: the read
    transaction the store's engine opens with ``BEGIN`` sees one snapshot in WAL mode)."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


_LOG = logging.getLogger(__name__)
#: Bump when :class:`_State` or the frames change shape or meaning: older snapshots are
#: ignored.
SNAPSHOT_FORMAT: Final = 2
#: After an incremental refresh, the snapshot is rewritten when it is older than this.
SNAPSHOT_INTERVAL: dt.timedelta = dt.timedelta(minutes=10)
_SAVED: dict[str, float] = {}  # snapshot path → monotonic time of the last save
_SAVERS: list[threading.Thread] = []


#: The snapshot directory under the server's data directory (``Settings.data_dir``).
SNAPSHOT_SUBDIR: Final = "district-cache"


def snapshot_path(directory: Path, key: str) -> Path:
    """The snapshot file of the database ``key`` (its URL, password hidden) in ``directory``."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return directory / f"district-frames-{digest}.pickle"


def _header(key: str) -> dict[str, object]:
    """What a snapshot must match to be used: its format, the database URL, the rule-input
    extractor and the library versions the pickled frames come from."""
    return {
        "format": SNAPSHOT_FORMAT,
        "database": key,
        "extractor": ri.EXTRACTOR_VERSION,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


@dataclass(frozen=True)
class _Packed:
    """A text column stored as codes into its distinct values (millions of repeated ids and
    dates pickle as a few thousand strings and an integer array); only columns without
    missing values are packed, so unpacking gives back exactly the values and dtype."""

    dtype: Any
    values: np.ndarray
    codes: np.ndarray

    def unpack(self) -> pd.Series:
        series: pd.Series = pd.Series(self.values[self.codes], dtype=self.dtype)
        return series


#: Columns of (nearly) distinct values: nothing to gain from packing them.
_UNIQUE: Final = frozenset({"res_id", "recorded"})


def _pack_frame(frame: pd.DataFrame) -> tuple[pd.Index, dict[str, Any]]:
    columns: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name].reset_index(drop=True)
        text = col.dtype == object or isinstance(col.dtype, pd.StringDtype)
        if text and len(col) and col.notna().all() and name not in _UNIQUE:
            codes, values = pd.factorize(col.to_numpy(dtype=object))
            small = codes.astype(np.int32) if len(values) < 2**31 else codes
            columns[name] = _Packed(col.dtype, np.asarray(values, dtype=object), small)
        else:
            columns[name] = col
    return frame.index, columns


def _unpack_frame(packed: tuple[pd.Index, dict[str, Any]]) -> pd.DataFrame:
    index, columns = packed
    frame = pd.DataFrame(
        {n: c.unpack() if isinstance(c, _Packed) else c for n, c in columns.items()}
    )
    frame.index = index
    return frame


_FRAME_FIELDS: Final = ("observations", "checkups", "vaccinations")


def _pack(state: _State) -> dict[str, Any]:
    """``state`` with its DataFrames' text columns packed (:class:`_Packed`)."""
    return {
        "version": state.version,
        "revision": state.revision,
        "marks": state.marks,
        **{name: _pack_frame(getattr(state, name)) for name in _FRAME_FIELDS},
        "frames": {
            f.name: _pack_frame(getattr(state.frames, f.name)) for f in fields(DistrictFrames)
        },
    }


def _unpack(packed: dict[str, Any]) -> _State:
    frames = DistrictFrames(**{n: _unpack_frame(c) for n, c in packed["frames"].items()})
    return _State(
        version=packed["version"],
        revision=packed["revision"],
        marks=packed["marks"],
        frames=frames,
        **{name: _unpack_frame(packed[name]) for name in _FRAME_FIELDS},
    )


def _save(path: Path, key: str, state: _State) -> None:
    """Write ``state`` atomically (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            pickle.dump(_header(key), out, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(_pack(state), out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _save_quietly(path: Path, key: str, state: _State) -> None:
    """:func:`_save`, a failure logged: the snapshot only saves time, the report is served."""
    try:
        _save(path, key, state)
    except (OSError, pickle.PicklingError) as exc:
        _LOG.warning("district snapshot not written to %s: %s", path, exc)


def _save_later(path: Path, key: str, state: _State) -> None:
    """Save in a background thread (the report does not wait; the state is immutable)."""
    _SAVED[str(path)] = time.monotonic()
    saver = threading.Thread(target=_save_quietly, args=(path, key, state), daemon=True)
    _SAVERS.append(saver)
    saver.start()


def wait_for_snapshots() -> None:
    """Wait until the snapshots being written are on disk (tests, orderly shutdown)."""
    while _SAVERS:
        _SAVERS.pop().join()


def _load(path: Path, key: str) -> _State | None:
    """The snapshot at ``path`` if it was written for this database by this format,
    extractor and library versions; None otherwise (missing, unreadable, or another's).

    A snapshot is only a starting point: :func:`gather` then checks its watermark against
    the database exactly as it checks the in-memory frames (:func:`_changes`), so a
    snapshot older than the data is refreshed, and one the watermark cannot vouch for
    (restored backup, another database at the URL, writes stamped before it, a new schema
    revision) is discarded for a full read. The file lives in the server's own data
    directory: it is trusted as the database is (pickle)."""
    try:
        with path.open("rb") as f:
            if pickle.load(f) != _header(key):
                return None
            packed = pickle.load(f)
        return _unpack(packed)
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        TypeError,
        KeyError,
        ValueError,
        IndexError,
    ):
        return None


def gather(
    repo: Repository,
    *,
    cached: bool = True,
    source: Source = "auto",
    snapshot_dir: Path | None = None,
) -> DistrictFrames:
    """Read the district (current versions, deleted resources excluded) into DataFrames.

    Reading and scoring a whole district is the cost of every report; with ``cached`` the
    frames of the last read are kept with a watermark of what was read (:class:`_Mark`). While
    :func:`data_version` is unchanged (one count and a few index lookups) they are reused as
    they are; after writes only the resources written since are re-read and only the children
    they touch re-paired and re-scored (:func:`_refresh`) — unless the watermark cannot be
    trusted or too much changed (:data:`DELTA_LIMIT`), when everything is read again. The
    frames are identical to a full read's either way (tests/healthbridge/district/
    test_gather_refresh.py). Callers get copy-on-write copies.

    ``source`` says where a full read takes the clinical resources from (:data:`Source`): the
    typed rule-input table when it is current (a column scan: the cold read of a 100,000-child
    district in seconds instead of minutes), else the stored documents; a refresh re-reads the
    few changed resources from the documents.

    ``snapshot_dir`` (the server's data directory) keeps the cached frames on disk too
    (:func:`snapshot_path`; written in the background after a full read, and after a refresh
    at most every :data:`SNAPSHOT_INTERVAL`): the first report after a restart loads them and
    refreshes what was written since, under the same watermark checks as the in-memory frames
    (:func:`_load`), instead of reading the whole district again.
    """
    if not cached:
        with repo.engine.connect() as conn:
            return _read(_snapshot(conn), source)
    key = repo.engine.url.render_as_string(hide_password=True)
    with repo.engine.connect() as conn:
        version = data_version(conn)
    with _CACHE_LOCK:
        state = _CACHE.get(key)
    if state is not None and state.version == version:
        _LAST[0] = GatherInfo("cached")
        return _shallow(state.frames)
    with _REFRESH_LOCK:
        with _CACHE_LOCK:
            state = _CACHE.get(key)
        path = None if snapshot_dir is None else snapshot_path(snapshot_dir, key)
        loaded = False
        if state is None and path is not None:
            state = _load(path, key)
            loaded = state is not None
        with repo.engine.connect() as raw:
            conn = _snapshot(raw)
            started = dt.datetime.now(dt.UTC)  # before the snapshot's first statement
            version = data_version(conn)
            if state is not None and state.version == version:
                info = GatherInfo("snapshot" if loaded else "cached")
            else:
                changed: dict[str, list[str]] = {}
                reason = "first read"
                if state is not None:
                    changed, reason = _changes(conn, state)
                    reason = f"snapshot: {reason}" if reason and loaded else reason
                if reason or state is None:
                    state, read_from = _read_state(conn, version, started, source)
                    info = GatherInfo("full", reason=reason, source=read_from)
                else:
                    state = _refresh(conn, state, version, changed, started)
                    counts = {k: len(v) for k, v in changed.items()}
                    info = GatherInfo("snapshot" if loaded else "incremental", counts)
        with _CACHE_LOCK:
            _CACHE.clear()  # one district at a time: the frames are large
            _CACHE[key] = state
        _LAST[0] = info
        if path is not None and info.mode != "cached":
            last = _SAVED.get(str(path))
            due = last is None or time.monotonic() - last >= SNAPSHOT_INTERVAL.total_seconds()
            if info.mode == "full" or (due and info.changed):
                _save_later(path, key, state)
        return _shallow(state.frames)
