"""DataFrame schemas shared by the batch evaluators, and Finding ↔ DataFrame conversion.

Input frames (one row per record; extra columns are ignored):

``children``      child_id, birth_date, sex ("male"/"female"); optional centre_id, class_id,
                  discharge_date, gestational_weeks, altitude_m (metres above sea level),
                  maternal_hbsag ("positive"/"negative"/"unknown"), birth_weight_g
``growth``        child_id, observation_id, date, age_days, zwei, zlen, zwfl, zbmi, zhc and the
                  flags fwei, flen, fwfl, fbmi, fhc (growth_standards output; a flag is set when
                  truthy); optional weight (kg) and corrected (bool: scored at the corrected
                  age of a preterm child). Missing z-scores are NaN.
``checkups``      child_id, checkup_id, date, visit_type (a ``checkup-visit`` code, or empty)
``doses``         child_id, immunization_id, vaccine (``nip-vaccine`` code), date
``daily_checks``  check_id, child_id, centre_id, class_id, date, temperature_c (axillary,
                  NaN when not taken), symptoms (tuple of symptom codes)
``haemoglobin``   child_id, observation_id, date, hb_g_l
``screenings``    child_id, screening_id, date, positive_items (tuple of item ids), regression
``enrolments``    child_id, centre_id, entry_date, check_state (``AdmissionState`` value)
``tb_tests``      child_id, observation_id, date, negative (tuberculin skin test result)
``screening_results``  child_id and the fields of
                  :class:`~healthbridge.clinical.screening_schedule.ScreeningResult`

Dates are ``datetime64`` columns. The findings frame has :data:`FINDING_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd

from healthbridge.clinical.alerts import Finding, finding_sort_key
from healthbridge.clinical.errors import ClinicalInputError
from healthbridge.clinical.vocab import AlertKind, Severity, SubjectType

FINDING_COLUMNS: tuple[str, ...] = (
    "subject",
    "subject_type",
    "kind",
    "severity",
    "grade",
    "evidence_ids",
    "items",
    "detail",
    "rule_id",
    "rule_version",
    "observed_on",
)


def require_columns(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    """Raise :class:`ClinicalInputError` naming the missing columns of an input frame."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ClinicalInputError(f"{name} frame lacks columns {missing}")


def findings_to_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """A findings frame (:data:`FINDING_COLUMNS`), sorted by subject type, subject and kind."""
    rows = [
        (
            f.subject,
            f.subject_type.value,
            f.kind.value,
            f.severity.value,
            f.grade,
            f.evidence_ids,
            f.items,
            f.detail,
            f.rule_id,
            f.rule_version,
            f.observed_on,
        )
        for f in sorted(findings, key=finding_sort_key)
    ]
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))


def frame_to_findings(frame: pd.DataFrame) -> tuple[Finding, ...]:
    """Findings from a findings frame (inverse of :func:`findings_to_frame`)."""
    require_columns(frame, "findings", FINDING_COLUMNS)
    out = []
    row: Any
    for row in frame.itertuples(index=False):
        observed = row.observed_on
        if observed is not None and not isinstance(observed, date):
            observed = None if pd.isna(observed) else pd.Timestamp(observed).date()
        out.append(
            Finding(
                subject=str(row.subject),
                kind=AlertKind(row.kind),
                severity=Severity(row.severity),
                grade=str(row.grade),
                evidence_ids=tuple(row.evidence_ids),
                items=tuple(row.items),
                detail=str(row.detail),
                rule_id=str(row.rule_id),
                rule_version=str(row.rule_version),
                observed_on=observed,
                subject_type=SubjectType(row.subject_type),
            )
        )
    return tuple(sorted(out, key=finding_sort_key))


def as_date(value: object) -> date:
    """A ``datetime.date`` from a date, datetime, Timestamp or ISO string."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value if type(value) is date else date(value.year, value.month, value.day)
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise ClinicalInputError(f"not a date: {value!r}")
