"""The centre's weekly menu with amounts (带量食谱; issue 16 item 4): the week grid's text,
its checks, and the ``hb-weekly-menu`` Composition (docs/fhir_profiles.md).

托儿所幼儿园卫生保健工作规范 (2012), 膳食管理: the centre draws up a menu stating the amount of
each food per child (带量食谱), changed every 1–2 weeks (wording **unconfirmed**, recalled
from the 规范; see the profile's source ``scripts/profilegen/profiles_menu.py``).

Pure: no web or store import. One cell of the grid (a day and a meal) is typed as one dish a
line, ``菜名：食物 克数，食物 克数`` (e.g. ``番茄炒蛋：番茄 40，鸡蛋 30g``) — quick on a phone
or a keyboard, and what a printed 带量食谱 looks like. The parser is hand-written (a few
regular expressions) because no library reads this Chinese menu notation.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any, Final

from fhir_profiles.loader import CANONICAL_BASE

SD: Final = f"{CANONICAL_BASE}/StructureDefinition"
PROFILE: Final = f"{SD}/hb-weekly-menu"
INGREDIENT: Final = f"{SD}/menu-ingredient"
DOCUMENT: Final = f"{CANONICAL_BASE}/CodeSystem/centre-document"
CARE_LOG: Final = f"{CANONICAL_BASE}/CodeSystem/care-log"
#: identifier system of a centre's week menu: value ``<centre id>/<Monday>``
MENU_ID: Final = f"{CANONICAL_BASE}/sid/weekly-menu"
UCUM: Final = "http://unitsofmeasure.org"
MEALS: Final = ("breakfast", "lunch", "snack", "dinner")
DAYS: Final = 5  # Monday to Friday: the days a centre serves meals
MAX_GRAMS: Final = 500  # as the profile's hb-menu-1
MAX_CELL: Final = 1000  # characters of one cell

_DISH = re.compile(r"^\s*([^:：]+?)\s*[:：]\s*(.*)$")
_FOOD = re.compile(r"^(.+?)\s*(\d+(?:\.\d+)?)\s*(?:g|克)?$", re.IGNORECASE)
_SPLIT = re.compile(r"[，,、;；]")


@dataclass(frozen=True, slots=True)
class Food:
    dish: str
    food: str
    grams: float


@dataclass(frozen=True, slots=True)
class CellError:
    """A problem of one cell: the i18n key and its values (the page says it in words)."""

    day: str
    meal: str
    key: str
    values: Mapping[str, str]


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def week_days(start: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(DAYS)]


def cell_name(day: dt.date, meal: str) -> str:
    """The form field of a cell, e.g. ``m-2026-12-07-lunch``."""
    return f"m-{day.isoformat()}-{meal}"


def parse_cell(text: str, day: str, meal: str) -> tuple[list[Food], list[CellError]]:
    """The foods of one cell, or its problems (each line is one dish)."""
    foods: list[Food] = []
    errors: list[CellError] = []
    if len(text) > MAX_CELL:
        return [], [CellError(day, meal, "menu.err_long", {"n": str(MAX_CELL)})]
    for line in (x for x in text.splitlines() if x.strip()):
        dish = _DISH.match(line)
        if dish is None or not dish.group(2).strip():
            errors.append(CellError(day, meal, "menu.err_line", {"line": line.strip()}))
            continue
        name = dish.group(1).strip()
        for part in (p.strip() for p in _SPLIT.split(dish.group(2)) if p.strip()):
            found = _FOOD.match(part)
            if found is None:
                errors.append(CellError(day, meal, "menu.err_amount", {"food": part}))
                continue
            grams = float(found.group(2))
            if not 0 < grams <= MAX_GRAMS:
                errors.append(
                    CellError(day, meal, "menu.err_range",
                              {"food": found.group(1).strip(), "max": str(MAX_GRAMS)})
                )  # fmt: skip
                continue
            foods.append(Food(name, found.group(1).strip(), grams))
    return foods, errors


def parse_grid(
    form: Mapping[str, Any], start: dt.date
) -> tuple[dict[tuple[str, str], list[Food]], dict[str, str], list[CellError]]:
    """Every cell of the week's form: the foods per (day, meal), the text as typed (kept for
    the form when there are errors) and every problem."""
    foods: dict[tuple[str, str], list[Food]] = {}
    typed: dict[str, str] = {}
    errors: list[CellError] = []
    for day in week_days(start):
        for meal in MEALS:
            name = cell_name(day, meal)
            text = str(form.get(name) or "")
            typed[name] = text
            found, problems = parse_cell(text, day.isoformat(), meal)
            errors += problems
            if found:
                foods[(day.isoformat(), meal)] = found
    return foods, typed, errors


def _grams(value: float) -> str:
    return f"{value:g}"


def cell_text(foods: Iterable[Food]) -> str:
    """The cell as typed: one dish a line (the inverse of :func:`parse_cell`)."""
    dishes: dict[str, list[Food]] = {}
    for f in foods:
        dishes.setdefault(f.dish, []).append(f)
    return "\n".join(
        f"{dish}：" + "，".join(f"{f.food} {_grams(f.grams)}" for f in items)
        for dish, items in dishes.items()
    )


def identifier(centre_id: str, start: dt.date) -> str:
    """The token of a centre's week menu (``system|value``) for a search."""
    return f"{MENU_ID}|{centre_id}/{start.isoformat()}"


def composition(
    foods: Mapping[tuple[str, str], list[Food]],
    centre_id: str,
    start: dt.date,
    author: str,
    now: dt.datetime,
    meal_names: Mapping[str, str],
) -> dict[str, Any]:
    """The ``hb-weekly-menu`` Composition of the week (sections in day, meal order)."""
    sections = []
    for day in week_days(start):
        for meal in MEALS:
            items = foods.get((day.isoformat(), meal))
            if not items:
                continue
            html = "<br/>".join(escape(line) for line in cell_text(items).splitlines())
            sections.append(
                {
                    "title": day.isoformat(),
                    "code": {"coding": [{"system": CARE_LOG, "code": meal}],
                             "text": meal_names.get(meal, meal)},
                    "text": {
                        "status": "generated",
                        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>',
                    },
                    "extension": [
                        {
                            "url": INGREDIENT,
                            "extension": [
                                {"url": "dish", "valueString": f.dish},
                                {"url": "food", "valueString": f.food},
                                {"url": "amount", "valueQuantity": {
                                    "value": f.grams, "unit": "g", "system": UCUM, "code": "g"}},
                            ],
                        }
                        for f in items
                    ],
                }
            )  # fmt: skip
    end = start + dt.timedelta(days=6)
    return {
        "resourceType": "Composition",
        "meta": {"profile": [PROFILE]},
        "identifier": {"system": MENU_ID, "value": f"{centre_id}/{start.isoformat()}"},
        "status": "final",
        "type": {"coding": [{"system": DOCUMENT, "code": "weekly-menu"}], "text": "带量食谱"},
        "subject": {"reference": f"Organization/{centre_id}"},
        "date": now.isoformat(),
        "author": [{"reference": author}],
        "title": f"带量食谱 {start.isoformat()} – {end.isoformat()}",
        "event": [{"period": {"start": start.isoformat(), "end": end.isoformat()}}],
        "section": sections,
    }


def foods_of(menu: Mapping[str, Any] | None) -> dict[tuple[str, str], list[Food]]:
    """The foods per (day, meal) of a stored menu (sections without a readable meal left)."""
    out: dict[tuple[str, str], list[Food]] = {}
    for section in (menu or {}).get("section") or ():
        meal = next(
            (str(c.get("code")) for c in (section.get("code") or {}).get("coding") or ()
             if c.get("system") == CARE_LOG),
            None,
        )  # fmt: skip
        day = str(section.get("title") or "")
        if meal is None or not day:
            continue
        for ext in section.get("extension") or ():
            if ext.get("url") != INGREDIENT:
                continue
            parts = {p.get("url"): p for p in ext.get("extension") or ()}
            grams = (parts.get("amount") or {}).get("valueQuantity", {}).get("value")
            dish = (parts.get("dish") or {}).get("valueString")
            food = (parts.get("food") or {}).get("valueString")
            if isinstance(grams, int | float) and dish and food:
                out.setdefault((day, meal), []).append(Food(str(dish), str(food), float(grams)))
    return out


def grid_text(foods: Mapping[tuple[str, str], list[Food]], start: dt.date) -> dict[str, str]:
    """The form's cells from a menu's foods; with ``start`` another week's Monday the days
    are moved to that week ("copy last week")."""
    out: dict[str, str] = {}
    first = min((dt.date.fromisoformat(d) for d, _ in foods), default=start)
    shift = monday(first)
    for (day, meal), items in foods.items():
        on = start + (dt.date.fromisoformat(day) - shift)
        out[cell_name(on, meal)] = cell_text(items)
    return out


def day_menu(
    foods: Mapping[tuple[str, str], list[Food]], day: dt.date
) -> list[tuple[str, list[tuple[str, list[Food]]]]]:
    """One day's menu for the parent: (meal, [(dish, foods)]) in meal order."""
    out = []
    for meal in MEALS:
        items = foods.get((day.isoformat(), meal))
        if not items:
            continue
        dishes: dict[str, list[Food]] = {}
        for f in items:
            dishes.setdefault(f.dish, []).append(f)
        out.append((meal, list(dishes.items())))
    return out
