"""The paediatrician's home list (issue 16 item 9): the children shared with the hospital as
a worklist — searchable, filtered, sorted by alert severity then name, paged.

Read with a bounded number of searches whatever the number of children (the page used to read
each child one by one: 10–20 s for ~270 children):

1. ``Consent?organization=…&status=active&_include=Consent:patient`` — the shared children;
2. ``Flag`` — the alerts the user may see (open ones kept) (the store's reach rules keep
   them to the hospital's children);
3. ``Organization`` and ``Location`` — centre and class names;
4. for the children of the shown page only: ``Encounter?patient=…`` — their checkups, for the
   next checkup due (the checkup rule table, :func:`healthbridge.clinical.checkups.checkup_plan`).

Searches 1 and 2 are not named in the audit (:func:`healthbridge.access.auditing.
reads_not_listed`): the page records what it shows, the rows' children and their open alerts
(:func:`shown_records`; docs/access.md "Audit").

The shaping (:func:`rows`, :func:`select`) is pure and tested on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlencode

from healthbridge.charts.labels import Lang
from healthbridge.charts.summary import _alerts as alert_views
from healthbridge.charts.summary import _code_of_type as visit_code
from healthbridge.charts.summary import child_name
from healthbridge.clinical.checkups import CheckupRecord, checkup_plan
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.fhir.facts import current_enrolment, date_of, ref_id
from healthbridge.inputs.elements import (
    AlertMark,
    alert_marks,
    read_elements,
    search_elements,
)
from healthbridge.store.repository import Transaction
from healthbridge.web import data

PAGE_SIZE: Final = 20
#: read the shared children and the alerts in one search each, not 1,000 at a time (each
#: further page re-runs the search over the matches before it: :func:`data.search_all`)
WHOLE: Final = 100_000
#: most urgent first; a child without alert sorts after every severity
SEVERITY_RANK: Final = {"high": 0, "moderate": 1, "low": 2}
NO_ALERT: Final = 3
#: the severity a rank stands for (:func:`rows`; the shown rows get the Flag's own code)
RANKED: Final = ("high", "moderate", "low")


@dataclass(frozen=True, slots=True)
class ChildRow:
    """One child of the list (``next_*`` are filled for the shown page only)."""

    id: str
    name: str
    search_text: str  # names (any script, e.g. pinyin), identifier values and the id, lowercased
    gender: str
    birth: dt.date | None
    centre_id: str | None
    class_id: str | None
    alerts: int
    severity: str | None
    top_alert: str  # the most urgent alert in words ("" when none)
    same_name: bool = False
    next_label: str = ""
    next_date: dt.date | None = None

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity or "", NO_ALERT if not self.alerts else 2)


def age_words(birth: dt.date | None, on: dt.date, lang: Lang) -> str:
    """The age as a paediatrician says it: 18天 / 9个月 / 1岁3月 / 2岁 (en: 18 d, 9 m, 1 y 3 m)."""
    if birth is None or birth > on:
        return ""
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    zh = lang is Lang.ZH
    if months < 1:
        days = (on - birth).days
        return f"{days}天" if zh else f"{days} d"
    years, rest = divmod(months, 12)
    if years == 0:
        return f"{rest}个月" if zh else f"{rest} m"
    if rest == 0:
        return f"{years}岁" if zh else f"{years} y"
    return f"{years}岁{rest}月" if zh else f"{years} y {rest} m"


def _texts(patient: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for name in patient.get("name") or ():
        parts.append(str(name.get("text") or ""))
        parts.append(str(name.get("family") or "") + "".join(name.get("given") or ()))
        parts.append(" ".join([*(name.get("given") or ()), str(name.get("family") or "")]))
    parts += [str(i.get("value") or "") for i in patient.get("identifier") or ()]
    parts.append(str(patient.get("id") or ""))  # the record's id (as in links and exports)
    return "\n".join(p.strip().lower() for p in parts if p.strip())


def _open_by_child(flags: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_child: dict[str, list[Mapping[str, Any]]] = {}
    for flag in flags:
        pid = ref_id((flag.get("subject") or {}), "Patient")
        if pid is not None and flag.get("status") == "active":
            by_child.setdefault(pid, []).append(flag)
    return by_child


def rows(patients: Iterable[Mapping[str, Any]], marks: Iterable[AlertMark]) -> list[ChildRow]:
    """Every child with their open alerts, sorted by the most severe alert, then name, then
    birth date; children of the same name are marked (the page then shows what tells them
    apart: birth date and centre, always on the row).

    The rows carry the count and the rank of the open alerts (``severity`` named by the rank);
    the alert in words and the exact severity code are read for the shown rows only
    (:func:`with_alerts`: ~14,000 alert views at 10,000 children were a quarter of the page).
    """
    ranks: dict[str, list[int]] = {}
    for m in marks:
        if m.patient_id is not None and m.active:
            ranks.setdefault(m.patient_id, []).append(SEVERITY_RANK.get(m.severity or "", 2))
    out = []
    for p in patients:
        pid = str(p["id"])
        open_flags = ranks.get(pid, ())
        rank = min(open_flags, default=NO_ALERT)
        enrolled = current_enrolment(p)
        row = ChildRow(
            pid, child_name(p), _texts(p), str(p.get("gender") or ""),
            date_of(p.get("birthDate")),
            enrolled.centre_id if enrolled else None,
            enrolled.class_id if enrolled else None,
            len(open_flags), RANKED[rank] if open_flags else None, "",
        )  # fmt: skip
        out.append(row)
    names: dict[str, int] = {}
    for r in out:
        names[r.name] = names.get(r.name, 0) + 1
    out = [replace(r, same_name=True) if names[r.name] > 1 else r for r in out]
    out.sort(key=lambda r: (r.rank, r.name, r.birth or dt.date.min, r.id))
    return out


def with_alerts(
    shown: Sequence[ChildRow], flags: Iterable[Mapping[str, Any]], rules: RuleSet, lang: Lang
) -> list[ChildRow]:
    """The shown rows with their most urgent open alert (the child page's alert views:
    severity first, then the latest) in words and its severity code."""
    by_child = _open_by_child(flags)
    out = []
    for r in shown:
        views = alert_views(by_child.get(r.id, ()), rules, lang)
        ranked = sorted(views, key=lambda a: SEVERITY_RANK.get(a.severity or "", 2))
        if ranked:
            r = replace(r, severity=ranked[0].severity or "low", top_alert=ranked[0].display)
        out.append(r)
    return out


@dataclass(frozen=True, slots=True)
class Listing:
    rows: list[ChildRow]
    total: int  # matching the search and filters
    all_children: int
    with_alerts: int
    page: int
    pages: int


def select(
    found: Sequence[ChildRow], *, q: str = "", centre: str = "", alerts: bool = False, page: int = 1
) -> Listing:
    """The rows matching the search (any part of a name, in any script, or of an identifier)
    and filters, one page of them."""
    needle = q.strip().lower()
    chosen = [
        r
        for r in found
        if (not needle or needle in r.search_text)
        and (not centre or r.centre_id == centre)
        and (not alerts or r.alerts > 0)
    ]
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * PAGE_SIZE
    return Listing(
        chosen[start : start + PAGE_SIZE], len(chosen), len(found),
        sum(1 for r in found if r.alerts), page, pages,
    )  # fmt: skip


def query(q: str, centre: str, alerts: bool, page: int) -> str:
    """The list's query string (search, filters and page kept across pages)."""
    values = {"q": q, "centre": centre, "alerts": "1" if alerts else ""}
    values["page"] = str(page) if page > 1 else ""
    return urlencode({k: v for k, v in values.items() if v})


def with_next_checkup(
    shown: Sequence[ChildRow],
    encounters: Iterable[Mapping[str, Any]],
    rules: RuleSet,
    lang: Lang,
    as_of: dt.date,
) -> list[ChildRow]:
    """The shown rows with their next checkup due (name and target date) from their checkup
    Encounters and the checkup rule table (the same plan as the child's page)."""
    visits: dict[str, list[CheckupRecord]] = {}
    for enc in encounters:
        pid = ref_id(enc.get("subject") or {}, "Patient")
        day = date_of((enc.get("period") or {}).get("start"))
        if pid is None or day is None:
            continue
        visits.setdefault(pid, []).append(CheckupRecord(str(enc["id"]), day, visit_code(enc)))
    names = {v.code: (v.name_zh if lang is Lang.ZH else v.name_en) for v in rules.checkups.visits}
    out = []
    for r in shown:
        if r.birth is None:
            out.append(r)
            continue
        plan = checkup_plan(r.birth, visits.get(r.id, ()), rules.checkups, as_of)
        if plan.next_visit is None:
            out.append(r)
            continue
        label = names.get(plan.next_visit, plan.next_visit)
        out.append(replace(r, next_label=label, next_date=plan.next_due_date))
    return out


#: the elements of the Patients and Flags the list reads (:func:`rows`, :func:`with_alerts`)
PATIENT_ELEMENTS: Final = ("name", "identifier", "gender", "birthDate", "extension")
FLAG_ELEMENTS: Final = ("status", "subject", "code", "period", "extension")


def gather(txn: Transaction, org_id: str) -> tuple[list[Mapping[str, Any]], list[AlertMark]]:
    """The children shared with ``org_id`` (active consents), as partial resources of the
    elements :func:`rows` reads, and the marks (subject, status, severity) of the alert Flags
    the user may see — read field-wise in the database, the search's reach rules kept
    (:mod:`healthbridge.inputs.elements`; parsing ~23,000 whole documents was most of the
    page at 10,000 children)."""
    params = [("organization", f"Organization/{org_id}"), ("status", "active")]
    consents = search_elements(txn, "Consent", params, ("patient",))
    shared = dict.fromkeys(ref_id(c.get("patient") or {}, "Patient") for c in consents)
    ids = [i for i in shared if i is not None]
    children: list[Mapping[str, Any]] = list(read_elements(txn, "Patient", ids, PATIENT_ELEMENTS))
    # R4 defines no ``status`` search parameter on Flag: the inactive ones are left by rows()
    return children, alert_marks(txn)


def flags_of(txn: Transaction, shown: Sequence[str]) -> list[dict[str, Any]]:
    """The Flags of the shown children the user may see (elements of :func:`with_alerts`)."""
    if not shown:
        return []
    subjects = ",".join(f"Patient/{i}" for i in shown)
    return search_elements(txn, "Flag", [("subject", subjects)], FLAG_ELEMENTS)


def shown_records(shown: Sequence[str], flags: Iterable[Mapping[str, Any]]) -> list[str]:
    """What a page of the list shows, as the audit names it: the children of the rows
    (``Patient/id``) and their open alerts (``Flag/id``: the row's alert status)."""
    ids = set(shown)
    refs = [f"Patient/{i}" for i in shown]
    for flag in flags:
        pid = ref_id(flag.get("subject") or {}, "Patient")
        if pid in ids and flag.get("status") == "active":
            refs.append(f"Flag/{flag['id']}")
    return refs


def encounters_of(txn: Transaction, ids: Sequence[str]) -> list[Any]:
    """The Encounters of the given children (one search)."""
    if not ids:
        return []
    return data.resources(txn, "Encounter", [("patient", ",".join(f"Patient/{i}" for i in ids))])
