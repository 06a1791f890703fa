"""Read the district's rows: column scans of the typed rule-input table, Organizations whole.

Whole-district figures read every child, visit and dose, so the district is read set-based
instead of paging through FHIR searches. Observations, Encounters, Immunizations and Patients
come from the rule-input table the store keeps in the same transaction as every resource
version (:mod:`healthbridge.store.rule_inputs`; migration 0008 filled it for the resources
stored before it existed): ``code`` is the first non-empty LOINC code (Observation) or the
code of the last ``checkup-visit`` / ``nip-vaccine`` coding, ``child_id``/``encounter_id``
the referenced local ids (relative or absolute), ``day`` the first 10 characters of the date
as written, ``value`` a finite JSON number, ``written`` ``meta.lastUpdated``. Each function
reads every row of its type, or with ``res_ids`` only those resources (an incremental
refresh, :mod:`healthbridge.district.refresh`). Organizations (nested extensions, a handful)
are parsed whole from the stored documents.

The same frames read from the documents are kept as a test oracle
(``tests/healthbridge/district/document_read.py``): the two must agree on every district.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection

from healthbridge.district.frames import (
    GROWTH_CODES,
    MEASURED,
    NOT_HELD,
    checkup_frame,
    growth_frame,
    in_standard_units,
    vaccination_frame,
)
from healthbridge.inputs import dbframes as dbf
from healthbridge.store import rule_inputs as ri


def _sql_list(values: Sequence[str]) -> str:
    """``('a', 'b')`` of our own constants (never input)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _transpose(rows: list[Any], n: int) -> list[pd.Series]:
    """The columns of fetched rows as object Series (one C-level transpose)."""
    if not rows:
        return [pd.Series([], dtype=object) for _ in range(n)]
    table = np.array(rows, dtype=object)
    return [pd.Series(table[:, k], dtype=object) for k in range(n)]


def patients(conn: Connection, res_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The Patients' elements the district reads (``id``, ``birthDate``, ``gender``,
    ``extension``: the table's ``extra`` keeps them as stored), in id order."""
    rows = ri.scan(conn, "Patient", "extra", " AND extra IS NOT NULL", res_ids=res_ids)
    return sorted((orjson.loads(e) for (e,) in rows), key=lambda p: str(p["id"]))


def growth(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Weight, length/height and head-circumference Observations with a final value, a child
    and a day (derived growth scores have no row), values in kg/cm."""
    rid, written, child, day, code, value, encounter, unit = _transpose(
        ri.scan(
            conn,
            "Observation",
            "res_id, written, child_id, day, code, value, encounter_id, unit",
            f" AND code IN {_sql_list(list(GROWTH_CODES))} AND status IN {_sql_list(MEASURED)}"
            " AND child_id IS NOT NULL AND day IS NOT NULL AND value IS NOT NULL",
            res_ids=res_ids,
        ),
        8,
    )
    number = in_standard_units(code, value.to_numpy(dtype="float64"), unit)
    keep = ~np.isnan(number)
    return growth_frame(
        rid[keep].reset_index(drop=True),
        written.where(written.notna(), "")[keep].reset_index(drop=True),
        child[keep].reset_index(drop=True),
        day[keep].reset_index(drop=True),
        code[keep].reset_index(drop=True),
        number[keep],
        encounter[keep].reset_index(drop=True),
    )


def checkups(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Encounters typed in CodeSystem ``checkup-visit`` (the code of the last such coding),
    not cancelled/planned/in error, with the Encounter's ``res_id``, in id order."""
    rid, child, day, code = _transpose(
        ri.scan(
            conn,
            "Encounter",
            "res_id, child_id, day, code",
            f" AND code IS NOT NULL AND (status IS NULL OR status NOT IN {_sql_list(NOT_HELD)})",
            res_ids=res_ids,
        ),
        4,
    )
    return checkup_frame(rid, child, day, code)


def vaccinations(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Completed Immunizations coded in CodeSystem ``nip-vaccine`` (the code of the last such
    coding) with a dose number (the first ``protocolApplied.doseNumberPositiveInt``), with
    the Immunization's ``res_id``, in id order."""
    rid, child, code, dose, day = _transpose(
        ri.scan(
            conn,
            "Immunization",
            "res_id, child_id, code, value, day",
            " AND status = 'completed' AND code IS NOT NULL",
            res_ids=res_ids,
        ),
        5,
    )
    return vaccination_frame(rid, child, code, dose.to_numpy(dtype="float64"), day)


def organizations(conn: Connection) -> list[dict[str, Any]]:
    """Every current Organization, parsed whole."""
    return dbf.documents(conn, "Organization")
