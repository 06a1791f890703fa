"""The worklist as a phone page: grouped by child, counted, paged (issue 16 item 7).

Pure shaping of :func:`healthbridge.web.data.worklist`'s items (the pipeline's
``$worklist`` order: severity, then due date) — the page keeps that order for the groups
(a child's group sits where its most urgent alert is) and inside each group.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final
from urllib.parse import urlencode

from healthbridge.clinical.vaccination import NEEDS_TEST_SUFFIX
from healthbridge.web.data import WorkItem

PAGE_SIZE: Final = 10  # children (groups) per page
SEVERITIES: Final = ("high", "moderate", "low")


@dataclass(slots=True)
class Group:
    """One child's open alerts (``key`` = the child id, or ``centre`` for centre alerts)."""

    key: str
    items: list[WorkItem] = field(default_factory=list)

    @property
    def top(self) -> str:
        return next((s for s in SEVERITIES if any(i.severity == s for i in self.items)), "low")


@dataclass(frozen=True, slots=True)
class WorklistView:
    groups: list[Group]
    page: int
    pages: int
    total: int
    by_severity: dict[str, int]
    by_kind: dict[str, int]
    children: int


#: alert kinds whose ``items`` name a checkup visit or a vaccine dose (the others hold
#: technical codes such as z-score columns, not shown)
NAMED_KINDS: Final = frozenset(
    {"checkup-due", "checkup-overdue", "checkup-missed", "vaccine-due", "vaccine-overdue",
     "admission-vaccination-incomplete"}
)  # fmt: skip


def named_items(item: WorkItem) -> list[str]:
    """What a checkup / vaccine alert is about, from its review Task's ``items`` input (e.g.
    ``DTP-3``, a checkup visit code); empty for other kinds."""
    if item.kind not in NAMED_KINDS:
        return []
    for part in item.task.get("input") or ():
        if (part.get("type") or {}).get("text") == "items" and "valueString" in part:
            return [s for s in str(part["valueString"]).split() if s]
    return []


def shown_records(view: WorklistView) -> list[str]:
    """What a page of the worklist shows, as the audit names it: each shown review Task,
    its alert Flag and its child."""
    refs: dict[str, None] = {}
    for group in view.groups:
        for item in group.items:
            for res in (item.task, item.flag, item.patient):
                if res is not None:
                    refs[f"{res['resourceType']}/{res['id']}"] = None
    return list(refs)


def due(item: WorkItem) -> str:
    """The review's due date (``Task.restriction.period.end``, YYYY-MM-DD; "" if none)."""
    return str(((item.task.get("restriction") or {}).get("period") or {}).get("end", ""))[:10]


def shape(
    items: Sequence[WorkItem], kind: str, page: int, due_by: date | None = None
) -> WorklistView:
    """Counts over every open alert; groups of the chosen kind (with ``due_by``: only the
    checkups and vaccines due by that day — the "due this week" view); one page of groups."""
    by_kind = dict(Counter(i.kind for i in items))
    chosen = [i for i in items if not kind or i.kind == kind]
    if due_by is not None:
        chosen = [i for i in chosen if i.kind in NAMED_KINDS and "" < due(i) <= due_by.isoformat()]
    by_severity = {s: sum(1 for i in chosen if i.severity == s) for s in SEVERITIES}
    groups: dict[str, Group] = {}
    for item in chosen:
        key = str(item.patient["id"]) if item.patient else "centre"
        groups.setdefault(key, Group(key)).items.append(item)
    ordered = list(groups.values())
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    page = min(max(1, page), pages)
    start = (page - 1) * PAGE_SIZE
    return WorklistView(
        ordered[start : start + PAGE_SIZE],
        page,
        pages,
        len(chosen),
        by_severity,
        dict(sorted(by_kind.items())),
        sum(1 for g in ordered if g.key != "centre"),
    )


def query(kind: str, page: int, view: str = "", **more: str) -> str:
    """The worklist's query string (filter, view and page kept across actions)."""
    values = {"kind": kind, "view": view, "page": str(page) if page > 1 else "", **more}
    return urlencode({k: v for k, v in values.items() if v})


def item_label(
    code: str, vaccines: Mapping[str, str], visits: Mapping[str, str], test_first: str = ""
) -> str:
    """A checkup visit or vaccine dose in words: ``DTP-3`` → "百白破疫苗 (3)" (with the
    names given), a visit code → its name; a dose that needs a negative TB skin test first
    (``BCG-1:tst``, :data:`~healthbridge.clinical.vaccination.NEEDS_TEST_SUFFIX`) → the dose and
    ``test_first``; unknown codes as they are."""
    if code.endswith(NEEDS_TEST_SUFFIX):
        dose = item_label(code.removesuffix(NEEDS_TEST_SUFFIX), vaccines, visits)
        return f"{dose} · {test_first}" if test_first else dose
    if code in visits:
        return visits[code]
    vaccine, _, dose = code.rpartition("-")
    if vaccine in vaccines and dose.isdigit():
        return f"{vaccines[vaccine]} ({dose})"
    return code
