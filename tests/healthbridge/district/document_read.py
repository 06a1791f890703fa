"""The district read from the stored documents: the oracle of the rule-input table read.

Until migration 0008 filled the rule-input table for every database, the server read the
district from the stored JSON when the table was not current. The runtime now reads the table
only (:mod:`healthbridge.district.read`); this read, which applies the table's rules to the
documents field by field in the database (:mod:`healthbridge.inputs.dbframes`:
``json_extract`` / ``jsonb``), is kept here to check that the two give the same frames on every
district (test_gather_source.py), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from healthbridge import terminology as t
from healthbridge.district.admission import admission_checks
from healthbridge.district.frames import (
    GROWTH_CODES,
    MEASURED,
    NOT_HELD,
    DistrictFrames,
    by_id,
    centres,
    checkup_frame,
    children,
    growth_frame,
    in_standard_units,
    public,
    vaccination_frame,
)
from healthbridge.district.gather import consistent
from healthbridge.district.pairing import measurements
from healthbridge.inputs import dbframes as dbf
from healthbridge.store.repository import Repository


def _refs(values: Sequence[Any], resource_type: str) -> pd.Series:
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
    """The date as written (the table's ``day``): partial dates count as missing."""
    return pd.Series(
        [v[:10] if isinstance(v, str) and len(v) >= 10 else None for v in values], dtype=object
    )


def _strings(values: Sequence[Any]) -> pd.Series:
    return pd.Series([v if isinstance(v, str) else None for v in values], dtype=object)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("object")


def _contents(conn: Connection, resource_type: str) -> Iterator[dict[str, Any]]:
    yield from dbf.documents(conn, resource_type)


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
    database (:mod:`healthbridge.inputs.dbframes`, shared with ``healthbridge evaluate``)."""
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
    ref_id`) and of the clinical pipeline (:func:`healthbridge.inputs.dbframes.ref_ids`)."""
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


def _growth_observations(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Weight, length/height and head-circumference Observations, with their ``res_id`` and
    ``recorded`` (``meta.lastUpdated``), read from the stored documents by the rule-input
    table's rules."""
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
        codes=list(GROWTH_CODES),
        exclude=t.CS_GROWTH_INDICATOR,  # the derived scores: not measurements
        res_ids=res_ids,
    )
    raw = raw.loc[_strings(raw["status"].tolist()).isin(MEASURED).to_numpy()]
    when = [
        e if isinstance(e, str) and e else p
        for e, p in zip(raw["effective"].tolist(), raw["period_start"].tolist(), strict=True)
    ]
    child = _refs(raw["subject"].tolist(), "Patient")
    day = _first10(when)
    value = in_standard_units(raw["code"], _numbers(raw["value"].tolist()), raw["unit"])
    keep = (child.notna() & day.notna()).to_numpy() & ~np.isnan(value)
    written = pd.Series(["" if w is None else str(w) for w in raw["recorded"].tolist()])
    return growth_frame(
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
    raw = raw.loc[~_strings(raw["status"].tolist()).isin(NOT_HELD).to_numpy()]
    return checkup_frame(
        _text(raw["res_id"]),
        _refs(raw["subject"].tolist(), "Patient"),
        _first10(raw["start"].tolist()),
        _text(raw["code"]),
    )


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
    return vaccination_frame(
        _text(raw["res_id"]),
        _refs(raw["patient"].tolist(), "Patient"),
        _text(raw["code"]),
        _numbers(raw["dose"].tolist()),
        _first10(raw["occurrence"].tolist()),
    )


def read_documents(repo: Repository) -> DistrictFrames:
    """The district's frames read from the stored documents (as :func:`healthbridge.district.
    gather.gather` reads them from the rule-input table)."""
    with repo.engine.connect() as raw:
        conn = consistent(raw)
        ordered = sorted(_contents(conn, "Patient"), key=lambda p: str(p["id"]))
        observations = by_id(_growth_observations(conn), "child_id")
        kids = children(ordered)
        centre_frame, agreements = centres(list(_contents(conn, "Organization")))
        return DistrictFrames(
            children=kids,
            measurements=measurements(observations, kids),
            checkups=public(_checkups(conn)),
            vaccinations=public(_vaccinations(conn)),
            centres=centre_frame,
            agreements=agreements,
            admission_checks=admission_checks(ordered),
        )
