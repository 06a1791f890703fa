"""What a parent reads about the alerts: ONE message per problem, with who will contact them
and by when (pure).

The clinical pipeline raises one alert ``Flag`` per finding, so one thin child can carry
消瘦, 低体重 and 体重增长不良 at once — three alerts saying "the doctor will contact you".
Parents read them as one problem: alerts are grouped by ``PROBLEM_OF`` (a presentation
grouping of the alert kinds, not a clinical rule), the message lists the findings by name,
explains the most severe one with the rule table's parent text, and says who follows it up:
the owner of the alert's review ``Task`` (the centre's health manager, hb-review-task) by the
Task's due date (``restriction.period.end``); without an open Task, the next checkup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from healthbridge.charts.labels import Lang

#: Alert kind → problem (a presentation grouping; see the module docstring).
PROBLEM_OF: Final[dict[str, str]] = {
    "underweight": "nutrition",
    "stunting": "nutrition",
    "wasting": "nutrition",
    "growth-faltering": "nutrition",
    "flat-growth": "nutrition",
    "overweight": "weight",
    "obesity": "weight",
    "rapid-weight-gain": "weight",
    "microcephaly": "head",
    "macrocephaly": "head",
    "implausible-measurement": "measurement",
    "measurement-overdue": "measurement",
    "anaemia": "anaemia",
    "warning-sign-positive": "development",
    "checkup-due": "checkup",
    "checkup-overdue": "checkup",
    "checkup-missed": "checkup",
    "vaccine-due": "vaccine",
    "vaccine-overdue": "vaccine",
    "admission-vaccination-incomplete": "vaccine",
    "fever": "illness",
    "symptom": "illness",
    "outbreak-cluster": "illness",
    "case-follow-up-overdue": "follow-up",
    "high-risk-not-managed": "follow-up",
    "screening-due": "screening",
    "screening-overdue": "screening",
    "screening-abnormal": "screening",
}
TITLES: Final[dict[str, tuple[str, str]]] = {
    "nutrition": ("体重和生长", "Weight and growth"),
    "weight": ("体重偏重", "Weight above the healthy range"),
    "head": ("头围", "Head size"),
    "measurement": ("测量", "Measurements"),
    "anaemia": ("贫血", "Anaemia"),
    "development": ("发育", "Development"),
    "checkup": ("健康检查", "Checkups"),
    "vaccine": ("预防接种", "Vaccinations"),
    "illness": ("身体不适", "Feeling unwell"),
    "follow-up": ("专案随访", "Follow-up visits"),
    "screening": ("筛查", "Screenings"),
    "other": ("其他", "Other"),
}
_SEVERITY_RANK: Final = {"high": 0, "moderate": 1, "low": 2}


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    title: str
    findings: tuple[str, ...]  # the alerts' names, most severe first
    message: str  # the most severe alert's parent text
    severity: str | None
    contact: str  # who will contact the parent and by when


def review_due(tasks: Iterable[Mapping[str, Any]]) -> dict[str, dt.date | None]:
    """Flag id → the due date of its open review Task (``Task.focus`` = the Flag)."""
    out: dict[str, dt.date | None] = {}
    for task in tasks:
        if task.get("status") in ("completed", "cancelled", "rejected", "entered-in-error"):
            continue
        focus = str(task.get("focus", {}).get("reference", ""))
        if not focus.startswith("Flag/"):
            continue
        end = task.get("restriction", {}).get("period", {}).get("end")
        due = dt.date.fromisoformat(end[:10]) if isinstance(end, str) and len(end) >= 10 else None
        out[focus.removeprefix("Flag/")] = due
    return out


def _contact(
    lang: Lang, due: Sequence[dt.date | None], reviewed: bool, centre: str | None,
    next_checkup: dt.date | None, as_of: dt.date | None = None,
) -> str:  # fmt: skip
    # a review date already past is the staff's overdue work, not a promise to the parent:
    # the parent then reads "soon" (the centre's worklist shows the review as overdue)
    dated = sorted(d for d in due if d is not None and (as_of is None or d >= as_of))
    if reviewed:
        who_zh = f"{centre}的保健医生" if centre else "托育机构的保健医生"
        who_en = f"the health manager of {centre}" if centre else "the centre's health manager"
        if dated:
            when = dated[0].isoformat()
            if lang is Lang.ZH:
                return f"{who_zh}会在 {when} 前联系您。"
            return f"{who_en[0].upper()}{who_en[1:]} will contact you by {when}."
        return (
            f"{who_zh}会尽快联系您。"
            if lang is Lang.ZH
            else f"{who_en.capitalize()} will contact you soon."
        )
    if next_checkup is not None:
        when = next_checkup.isoformat()
        if lang is Lang.ZH:
            return f"医生会在下次体检（{when}）时和您一起看。"
        return f"The doctor will go through it with you at the next checkup ({when})."
    return (
        "如有疑问请咨询儿童保健医生。"
        if lang is Lang.ZH
        else "Ask your child-health doctor about it."
    )


def problems(
    alerts: Iterable[Any], tasks: Iterable[Mapping[str, Any]], lang: Lang, *,
    centre: str | None = None, next_checkup: dt.date | None = None, as_of: dt.date | None = None,
) -> tuple[Problem, ...]:  # fmt: skip
    """One :class:`Problem` per group of alerts, most severe first (``centre``: the name of the
    child's centre, for who will call; ``as_of``: today, so no contact date already past is
    promised)."""
    due = review_due(tasks)
    groups: dict[str, list[Any]] = {}
    for alert in alerts:
        groups.setdefault(PROBLEM_OF.get(alert.kind, "other"), []).append(alert)
    out = []
    for key, items in groups.items():
        items.sort(key=lambda a: _SEVERITY_RANK.get(a.severity or "low", 3))
        reviewed = [a for a in items if a.flag_id in due]
        title = TITLES.get(key, TITLES["other"])
        out.append(
            Problem(
                key, title[0] if lang is Lang.ZH else title[1],
                tuple(dict.fromkeys(a.display for a in items)), items[0].parent,
                items[0].severity,
                _contact(lang, [due[a.flag_id] for a in reviewed], bool(reviewed), centre,
                         next_checkup, as_of),
            )
        )  # fmt: skip
    return tuple(sorted(out, key=lambda p: _SEVERITY_RANK.get(p.severity or "low", 3)))
