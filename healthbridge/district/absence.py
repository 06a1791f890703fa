"""The district's sick absences (因病缺勤) of the last days, by cause and class.

Reads the attendance Encounters (``centre-day#attendance``, ``cancelled``, reason ``sick``;
docs/web.md "The centre's day") and the symptoms reported for them (Observations 75325-1
with an ``…/absence/symptom/…`` identifier) with the system's reach — the district page
shows only aggregates, small cells suppressed (:mod:`healthbridge.reports.absence`). The
cause of a sick child-day is the syndrome of each reported symptom in the daily-check rule
table (``unspecified`` without symptoms).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from healthbridge import terminology as t
from healthbridge.clinical.tables_care import DailyCheckTable
from healthbridge.reports.absence import COLUMNS, sick_absence_table
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository

SID_ATTENDANCE = f"{t.CANONICAL_BASE}/sid/attendance"
SID_CHECK = f"{t.CANONICAL_BASE}/sid/daily-check"
CS_CENTRE_DAY = f"{t.CANONICAL_BASE}/CodeSystem/centre-day"
CS_ABSENCE_REASON = f"{t.CANONICAL_BASE}/CodeSystem/absence-reason"
CAUSES = ("fever", "respiratory", "gastrointestinal", "rash", "conjunctivitis", "jaundice")


def _ref(value: Any, rtype: str) -> str:
    ref = str((value or {}).get("reference", ""))
    return ref.split("/", 1)[1] if ref.startswith(f"{rtype}/") else ""


def _search(txn: Any, rtype: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset, size = 0, int(txn.max_count)
    while True:
        page = txn.search_params(rtype, [*params, ("_count", str(size)), ("_offset", str(offset))])
        out += [m.resource for m in page.matches if m.resource is not None]
        if len(page.matches) < size:
            return out
        offset += size


def sick_absences(
    repo: Repository, table: DailyCheckTable, first: dt.date, last: dt.date
) -> pd.DataFrame:
    """Rows (``COLUMNS``) of the sick child-days from ``first`` to ``last`` (Beijing dates)."""
    window = [
        ("date", f"ge{(first - dt.timedelta(days=1)).isoformat()}"),
        ("date", f"le{(last + dt.timedelta(days=1)).isoformat()}"),
    ]
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        encounters = _search(
            txn, "Encounter",
            [("type", f"{CS_CENTRE_DAY}|attendance"), ("status", "cancelled"), *window],
        )  # fmt: skip
        symptoms = _search(txn, "Observation", [("code", f"{t.LOINC}|75325-1"), *window])
    reported: dict[str, set[str]] = {}
    for obs in symptoms:
        for ident in obs.get("identifier") or ():
            value = str(ident.get("value", ""))
            if ident.get("system") == SID_CHECK and "/absence/symptom/" in value:
                day_key, _, code = value.partition("/absence/symptom/")
                reported.setdefault(day_key, set()).add(code)
    rows = []
    for enc in encounters:
        reasons = {
            c.get("code")
            for rc in enc.get("reasonCode") or ()
            for c in rc.get("coding") or ()
            if c.get("system") == CS_ABSENCE_REASON
        }
        ids = enc.get("identifier") or ()
        key = next((str(i.get("value")) for i in ids if i.get("system") == SID_ATTENDANCE), "")
        child, _, day = key.partition("/")
        if "sick" not in reasons or not child or not first.isoformat() <= day <= last.isoformat():
            continue
        centre = _ref(enc.get("serviceProvider"), "Organization")
        room = next(
            (_ref(loc.get("location"), "Location") for loc in enc.get("location") or ()), ""
        )
        causes = {table.syndrome_of(c) or "other" for c in reported.get(key, ())} or {"unspecified"}
        rows += [(centre, room, child, day, cause) for cause in sorted(causes)]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def sick_absence_report(
    repo: Repository,
    table: DailyCheckTable,
    first: dt.date,
    last: dt.date,
    centres: frozenset[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`healthbridge.reports.absence.sick_absence_table` of the window, and the names of
    its centres and classes (``Organization/x`` / ``Location/y`` → name; directory data);
    ``centres``: only these centres' absences (an official's area, :mod:`healthbridge.district.
    areas`; ``None``: every centre)."""
    records = sick_absences(repo, table, first, last)
    if centres is not None:
        records = records.loc[records["centre"].isin(centres)]
    report = sick_absence_table(records, CAUSES)
    wanted = (("Organization", set(report["centre"])), ("Location", set(report["class_id"])))
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        names = {
            f"{rtype}/{r['id']}": str(r.get("name", r["id"]))
            for rtype, ids in wanted
            if ids
            for r in _search(txn, rtype, [("_id", ",".join(sorted(ids)))])
        }
    return report, names
