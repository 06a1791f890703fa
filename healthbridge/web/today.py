"""A child's day as a timeline for the parent's phone ("today"): checks and care log.

The timeline is built from *sources*: each is a function from the child's resources of the
day (Observations today; more types as they are added) to :class:`Event` s. The morning check
temperature and the care log are the sources on main; attendance (arrival, pick-up) is one
more source appended to :data:`SOURCES` when it exists — nothing else changes.

The parent page polls ``GET /app/parent/today/{child}`` (``static/today.js``) for the same
events as JSON, so the day updates without a reload (the CSP allows same-origin scripts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.web.care import MEALS, care_item, value_code
from healthbridge.web.i18n import Translator
from healthbridge.web.visit import CST

Resource = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the day: when, what (a heading) and the detail, in the reader's language."""

    at: dt.datetime
    kind: str  # css/test hook: temperature, breakfast, lunch, …, nap, outdoor, arrival, …
    label: str
    detail: str
    alert: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.astimezone(CST).strftime("%H:%M"),
            "kind": self.kind,
            "label": self.label,
            "detail": self.detail,
            "alert": self.alert,
        }


Source = Callable[[Sequence[Resource], Translator, float], list[Event]]


def _when(resource: Resource) -> dt.datetime | None:
    raw = resource.get("effectiveDateTime") or resource.get("effectivePeriod", {}).get("start")
    if not raw:
        return None
    try:
        when = dt.datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=CST)


def _has_code(resource: Resource, system: str, code: str) -> bool:
    return any(
        c.get("system") == system and c.get("code") == code
        for c in resource.get("code", {}).get("coding", [])
    )


def temperatures(items: Sequence[Resource], tr: Translator, fever_c: float) -> list[Event]:
    """The morning/afternoon check temperatures with their time; a fever is marked."""
    out = []
    for o in items:
        if not _has_code(o, t.LOINC, t.LOINC_BODY_TEMPERATURE):
            continue
        when, value = _when(o), o.get("valueQuantity", {}).get("value")
        if when is None or value is None:
            continue
        fever = float(value) >= fever_c
        detail = f"{float(value):.1f} °C" + (f" · {tr('today.fever')}" if fever else "")
        out.append(Event(when, "temperature", tr("today.temperature"), detail, fever))
    return out


def care_log(items: Sequence[Resource], tr: Translator, fever_c: float) -> list[Event]:
    """Meals, nap, toileting, outdoor time and mood from the ``hb-care-log`` Observations."""
    del fever_c
    out = []
    for o in items:
        item, when = care_item(o), _when(o)
        if item is None or when is None:
            continue
        code = value_code(o)
        if item in MEALS:
            detail = tr(f"care.amount.{code}") if code else ""
        elif item == "nap":
            period = o.get("effectivePeriod", {})
            detail = f"{str(period.get('start', ''))[11:16]}–{str(period.get('end', ''))[11:16]}"
        elif item == "toileting":
            detail = tr(f"care.toilet.{code}") if code else ""
        elif item == "outdoor":
            minutes = o.get("valueQuantity", {}).get("value", "")
            detail = tr("care.minutes", n=minutes)
        else:
            note = " ".join(str(n.get("text", "")) for n in o.get("note", []))
            detail = " · ".join(x for x in (tr(f"care.mood.{code}") if code else "", note) if x)
        out.append(Event(when, item, tr(f"care.item.{item}"), detail))
    return out


#: The timeline's sources, in order; attendance appends its own.
SOURCES: Final[list[Source]] = [temperatures, care_log]


def day_events(
    items: Iterable[Resource], day: dt.date, tr: Translator, fever_c: float
) -> list[Event]:
    """The events of ``day`` (Beijing calendar) from every source, in time order."""
    same_day = [o for o in items if (w := _when(o)) is not None and w.astimezone(CST).date() == day]
    events = [e for source in SOURCES for e in source(same_day, tr, fever_c)]
    return sorted(events, key=lambda e: (e.at, e.kind))
