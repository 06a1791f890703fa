"""Scheduled screenings on the pages: the paediatrician's table of due / overdue screenings
with the latest results, and the parent's "next screening" sentence in plain words.

Statuses come from :func:`~healthbridge.clinical.screening_schedule.screening_plan` (the rule
the alerts use) on the child's Observations, read by the pipeline's extractors (one reading
of each fact: :func:`healthbridge.inputs.screening.screening_results`,
:func:`healthbridge.inputs.extract.haemoglobin`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from healthbridge.clinical.ages import parse_age
from healthbridge.clinical.anaemia import band_for, grade_hb
from healthbridge.clinical.checkups import VisitStatus
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening_schedule import (
    PointState,
    ScreeningResult,
    abnormal_grades,
    next_screenings,
    screening_plan,
)
from healthbridge.inputs import extract as x
from healthbridge.inputs.screening import screening_results

Say = Callable[..., str]


def age_words(label: str, lang: str) -> str:
    """``6m`` → 6月龄 / 6 months; ``4y`` → 4岁 / 4 years; ``0d`` newborn; ``28d`` 1 month."""
    age = parse_age(label)
    zh = lang == "zh"
    if age.years == 0 and age.months == 0:
        if age.days < 28:
            return "新生儿期" if zh else "newborn"
        return "满月" if zh else "1 month"
    if age.months == 0:
        return f"{age.years}岁" if zh else f"{age.years} years"
    months = age.total_months
    return f"{months}月龄" if zh else f"{months} months"


@dataclass(frozen=True, slots=True)
class ScreeningLine:
    """One screening on the paediatrician's page."""

    code: str
    name: str
    #: the point to act on (due or overdue), else the next one, else None (programme over)
    point: PointState | None
    point_text: str
    latest: str  # the latest result in words ("" none)
    abnormal: bool


@dataclass(frozen=True, slots=True)
class ScreeningView:
    lines: tuple[ScreeningLine, ...]
    #: (date, age words, screening names, overdue) of the parent's next screening(s)
    parent_next: tuple[dt.date, str, tuple[str, ...], bool] | None


def _result_words(r: ScreeningResult, say: Say) -> str:
    parts: list[str] = []
    if r.instrument is not None:
        parts.append(say(f"screen.instr_{r.instrument}"))
    if r.dq is not None:
        parts.append(say("screen.dq_value", dq=f"{r.dq:g}"))
    if r.score is not None:
        parts.append(say("screen.score_value", score=f"{r.score:g}"))
    if r.acuity_left is not None or r.acuity_right is not None:
        left = "—" if r.acuity_left is None else f"{r.acuity_left:g}"
        right = "—" if r.acuity_right is None else f"{r.acuity_right:g}"
        parts.append(say("screen.acuity_value", left=left, right=right))
    if r.caries is not None:
        parts.append(say("screen.caries_value", n=r.caries))
    if r.fluoride_varnish:
        parts.append(say("screen.fluoride"))
    if r.refer is not None:
        parts.append(say("screen.result_refer" if r.refer else "screen.result_pass"))
    return f"{r.on.isoformat()} · " + "，".join(parts) if parts else r.on.isoformat()


def screening_view(
    observations: Sequence[dict[str, Any]],
    birth_date: dt.date,
    ruleset: RuleSet,
    lang: str,
    say: Say,
    as_of: dt.date,
) -> ScreeningView:
    """What the pages show about a child's scheduled screenings on ``as_of``."""
    table = ruleset.screening_schedule
    results = [r for r in screening_results(observations) if r.on <= as_of]
    hb = [h for h in x.haemoglobin(observations) if h.on <= as_of]
    plan = screening_plan(birth_date, results, hb, table, as_of)
    latest = {r.screening: r for r in results}
    zh = lang == "zh"
    lines = []
    for s in table.screenings:
        points = [p for p in plan if p.screening == s.code]
        acting = [p for p in points if p.status in (VisitStatus.DUE, VisitStatus.OVERDUE)]
        upcoming = [p for p in points if p.status is VisitStatus.NOT_YET_DUE]
        point = acting[0] if acting else upcoming[0] if upcoming else None
        point_text = (
            say(f"screen.status_{point.status.value}", age=age_words(point.label, lang),
                date=point.target.isoformat())
            if point is not None else ""
        )  # fmt: skip
        words, abnormal = "", False
        if s.code == "haemoglobin" and hb:
            last = hb[-1]
            band = band_for(birth_date, last.on, ruleset.anaemia)
            abnormal = band is not None and grade_hb(last.hb_g_l, band) is not None
            words = f"{last.on.isoformat()} · {last.hb_g_l:g} g/L"
        elif s.code in latest:
            r = latest[s.code]
            words = _result_words(r, say)
            abnormal = bool(abnormal_grades(r, s, birth_date))
        if point is None and not words:
            continue
        lines.append(
            ScreeningLine(
                s.code, s.name_zh if zh else s.name_en, point, point_text, words, abnormal
            )
        )
    nxt = next_screenings(plan)
    parent_next = None
    if nxt:
        names = {s.code: (s.name_zh if zh else s.name_en) for s in table.screenings}
        first = nxt[0]
        same = [p for p in nxt if p.target == first.target]
        parent_next = (
            first.target,
            age_words(first.label, lang),
            tuple(names[p.screening] for p in same),
            any(p.status is VisitStatus.OVERDUE for p in same),
        )
    return ScreeningView(tuple(lines), parent_next)
