"""Read the entry checks of the vaccination certificate (入托查验) out of the store.

Each enrolment (the ``childcare-enrollment`` extension on the child's Patient) is one entry:
its ``centre``, its ``period.start`` (the entry date) and its optional
``admission-check-state`` part (CodeSystem ``admission-check-state``; the values of
:class:`healthbridge.clinical.admission.AdmissionState`). An enrolment without the part, or with
a code outside the CodeSystem, counts as ``not_submitted``, as the clinical pipeline reads it
(:func:`healthbridge.inputs.extract.child_info`). The frame is the ``admission_checks`` input
of :func:`healthbridge.reports.coverage.coverage_table`.

The Patients come from the district gathering's single read of the Patient table
(:mod:`healthbridge.district.gather`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import pandas as pd

from healthbridge import terminology as t
from healthbridge.fhir import facts
from healthbridge.reports.coverage_inputs import ADMISSION_STATES

ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
STATE_PART: Final = "admission-check-state"
NOT_SUBMITTED: Final = "not_submitted"
COLUMNS: Final = ("child_id", "centre", "entry_date", "status")


def enrolment_checks(patient: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(child_id, centre id, entry date, status)`` of each enrolment of one Patient
    (enrolments read by :func:`healthbridge.fhir.facts.enrolments`)."""
    rows = []
    for e in facts.enrolments(patient):
        if e.centre_id is None or e.start is None:
            continue
        status = e.state if e.state in ADMISSION_STATES else NOT_SUBMITTED
        rows.append((str(patient["id"]), e.centre_id, e.start, status))
    return rows


def admission_checks(patients: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Every enrolment's entry check: ``child_id``, ``centre``, ``entry_date``, ``status``.

    Takes the Patients the district gathering has already read (one read of the table).
    """
    rows = [row for patient in patients for row in enrolment_checks(patient)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("child_id", "centre", "status"):
        frame[col] = frame[col].astype("str")
    # datetime64[us] even with no rows: the same dtypes for one child as for the district
    frame["entry_date"] = pd.to_datetime(frame["entry_date"], errors="coerce").astype(
        "datetime64[us]"
    )
    return frame
