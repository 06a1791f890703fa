"""Read the entry checks of the vaccination certificate (入托查验) out of the store.

Each enrolment (the ``childcare-enrollment`` extension on the child's Patient) is one entry:
its ``centre``, its ``period.start`` (the entry date) and its optional
``admission-check-state`` part (CodeSystem ``admission-check-state``; the values of
:class:`healthbridge.clinical.admission.AdmissionState`). An enrolment without the part, or with
a code outside the CodeSystem, counts as ``not_submitted``, as the clinical pipeline reads it
(:func:`healthbridge.pipeline.extract.child_info`). The frame is the ``admission_checks`` input
of :func:`healthbridge.reports.coverage.coverage_table`.

Only Patients whose stored JSON mentions the enrolment extension are parsed (a ``LIKE``
pre-filter in the database), so children never enrolled cost nothing.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pandas as pd
from sqlalchemy import Connection, Table, select

from healthbridge import terminology as t
from healthbridge.reports.coverage import ADMISSION_STATES
from healthbridge.store.models import ResourceRow

RES: Table = ResourceRow.__table__  # type: ignore[attr-defined]
ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
STATE_PART: Final = "admission-check-state"
NOT_SUBMITTED: Final = "not_submitted"
COLUMNS: Final = ("child_id", "centre", "entry_date", "status")
_BATCH: Final = 5000


def _part(extension: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in extension.get("extension", []) if e.get("url") == url), {})


def enrolment_checks(patient: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(child_id, centre id, entry date, status)`` of each enrolment of one Patient."""
    rows = []
    for ext in patient.get("extension", []):
        if ext.get("url") != ENROLLMENT_EXTENSION:
            continue
        ref = _part(ext, "centre").get("valueReference", {}).get("reference")
        start = _part(ext, "period").get("valuePeriod", {}).get("start")
        if not isinstance(ref, str) or not ref.startswith("Organization/"):
            continue
        if not isinstance(start, str) or len(start) < 10:
            continue
        code = _part(ext, STATE_PART).get("valueCode")
        status = code if code in ADMISSION_STATES else NOT_SUBMITTED
        rows.append((str(patient["id"]), ref.split("/")[1], start[:10], status))
    return rows


def admission_checks(conn: Connection) -> pd.DataFrame:
    """Every enrolment's entry check: ``child_id``, ``centre``, ``entry_date``, ``status``."""
    stmt = select(RES.c.content).where(
        RES.c.res_type == "Patient",
        RES.c.deleted.is_(False),
        RES.c.content.contains(ENROLLMENT_EXTENSION, autoescape=True),
    )
    rows: list[tuple[str, str, str, str]] = []
    result = conn.execution_options(yield_per=_BATCH).execute(stmt)
    for partition in result.partitions():
        for (content,) in partition:
            rows.extend(enrolment_checks(json.loads(content)))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["entry_date"] = pd.to_datetime(frame["entry_date"], errors="coerce")
    return frame
