"""The centre's weekly menu with amounts (带量食谱) as a Composition of the centre.

Source: 托儿所幼儿园卫生保健工作规范 (卫妇社发〔2012〕35号), 膳食管理: the centre draws up a
menu with the amount of each food per child (带量食谱) from the children's dietary plan,
changed every 1–2 weeks, with varied foods. The wording and the 1–2-week interval are
recalled from the 规范 and **unconfirmed** (docs/fhir_profiles.md); DOMAIN.md §3.7 confirms
only that the health manager "guides the diet" and that diet records are kept 3 years.
"""

from __future__ import annotations

from .common import CORE, JSON, UCUM, coding, cs_url, el, inv, quantity, ref, required, sd_url
from .spec import TYPE_SLICING, Invalid, Profile, meta

MENU_INGREDIENT = "menu-ingredient"
CARE = cs_url("care-log")
DOCUMENT = cs_url("centre-document")
#: the most of one food per child and meal a menu may state (a plausibility bound, not a
#: nutrition rule: 500 g is above any single food of a 0–3-year-old's meal)
MAX_GRAMS = 500


def menu_ingredient() -> Profile:
    """One food of a dish with its amount per child (grams)."""
    description = (
        "One food of a dish of the weekly menu with the amount per child in grams "
        "(带量食谱: 菜名, 食物, 每人用量)."
    )
    qty = [{"code": "Quantity"}]
    parts: list[JSON] = []
    for name, kind, short in (
        ("dish", [{"code": "string"}], "The dish (菜名), e.g. 番茄炒蛋"),
        ("food", [{"code": "string"}], "The food (食物), e.g. 鸡蛋"),
        ("amount", qty, "Amount per child, grams (每人用量)"),
    ):
        parts += [
            el(f"Extension.extension:{name}", sliceName=name, min=1, max="1", short=short),
            el(f"Extension.extension:{name}.extension", max="0"),
            el(f"Extension.extension:{name}.url", fixedUri=name),
        ]
        if name != "amount":
            parts.append(el(f"Extension.extension:{name}.value[x]", min=1, type=kind))
    value = "Extension.extension:amount.value[x]"
    parts += [  # as birth-weight: the choice sliced to its one Quantity type
        el(value, min=1, type=qty, slicing=TYPE_SLICING),
        el(f"{value}:valueQuantity", sliceName="valueQuantity", min=1, type=qty),
        el(f"{value}:valueQuantity.value", min=1),
        el(f"{value}:valueQuantity.system", min=1, fixedUri=UCUM),
        el(f"{value}:valueQuantity.code", min=1, fixedCode="g"),
    ]
    return Profile(
        id=MENU_INGREDIENT,
        type="Extension",
        base=CORE + "Extension",
        title="Weekly menu ingredient",
        description=description,
        kind="complex-type",
        context=[{"type": "element", "expression": "Composition.section"}],
        elements=[
            el("Extension", short="Food of a dish with its amount", definition=description),
            el(
                "Extension.extension",
                min=3,
                slicing={
                    "discriminator": [{"type": "value", "path": "url"}],
                    "ordered": False,
                    "rules": "closed",
                },
            ),
            *parts,
            el("Extension.url", fixedUri=sd_url(MENU_INGREDIENT)),
            el("Extension.value[x]", max="0"),
        ],
    )


def _food(dish: str, food: str, grams: float) -> JSON:
    return {
        "url": sd_url(MENU_INGREDIENT),
        "extension": [
            {"url": "dish", "valueString": dish},
            {"url": "food", "valueString": food},
            {"url": "amount", "valueQuantity": quantity(grams, "g")},
        ],
    }


def weekly_menu() -> Profile:
    """A centre's menu of one week: one section per day and meal."""
    pid = "hb-weekly-menu"
    m1 = inv(
        "hb-menu-1",
        f"Each food's amount per child is more than 0 and at most {MAX_GRAMS} g.",
        (
            f"section.extension.where(url = '{sd_url(MENU_INGREDIENT)}').extension"
            ".where(url = 'amount').value.ofType(Quantity)"
            f".all(value > 0 and value <= {MAX_GRAMS})"
        ),
    )
    elements = [
        el(
            "Composition",
            short="Weekly menu with amounts (带量食谱)",
            definition=(
                "A childcare centre's menu of one week: for each day and meal the dishes and "
                "the amount of each food per child in grams (托儿所幼儿园卫生保健工作规范 2012, "
                "膳食管理). One per centre and week; shown to the guardians of the centre's "
                "children."
            ),
            constraint=[m1],
        ),
        el("Composition.type.coding", min=1, max="1"),
        el("Composition.type.coding.system", min=1, fixedUri=DOCUMENT),
        el("Composition.type.coding.code", min=1, fixedCode="weekly-menu"),
        el("Composition.subject", min=1, type=ref("hb-organization")),
        el("Composition.event", min=1, max="1"),
        el("Composition.event.period", min=1, short="The week (Monday to Sunday)"),
        el("Composition.event.period.start", min=1),
        el("Composition.event.period.end", min=1),
        el("Composition.section", min=1),
        el(
            "Composition.section.title",
            min=1,
            short="The day (YYYY-MM-DD)",
        ),
        el("Composition.section.code", min=1),
        el("Composition.section.code.coding", min=1, max="1", binding=required("care-log")),
        el("Composition.section.code.coding.system", min=1, fixedUri=CARE),
        el(
            "Composition.section.extension",
            slicing={
                "discriminator": [{"type": "value", "path": "url"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "Composition.section.extension:ingredient",
            sliceName="ingredient",
            min=1,
            type=[{"code": "Extension", "profile": [sd_url(MENU_INGREDIENT)]}],
        ),
        # the slice's discriminator value stated as well (validators that do not open the
        # extension's profile match the slice by it)
        el("Composition.section.extension:ingredient.url", fixedUri=sd_url(MENU_INGREDIENT)),
    ]
    text = '<div xmlns="http://www.w3.org/1999/xhtml">番茄炒蛋：番茄 40 g，鸡蛋 30 g</div>'
    valid: JSON = {
        "resourceType": "Composition",
        "id": "weekly-menu-example",
        "meta": meta(pid),
        "status": "final",
        "type": {"coding": [coding(DOCUMENT, "weekly-menu", "Weekly menu with amounts")]},
        "subject": {"reference": "Organization/centre-1"},
        "date": "2026-12-04T16:00:00+08:00",
        "author": [{"reference": "PractitionerRole/health-manager-1"}],
        "title": "带量食谱 2026-12-07 – 2026-12-13",
        "event": [{"period": {"start": "2026-12-07", "end": "2026-12-13"}}],
        "section": [
            {
                "title": "2026-12-07",
                "code": {"coding": [coding(CARE, "lunch", "Lunch")]},
                "text": {"status": "generated", "div": text},
                "extension": [_food("番茄炒蛋", "番茄", 40), _food("番茄炒蛋", "鸡蛋", 30)],
            }
        ],
    }
    amount = ["section", 0, "extension", 0, "extension", 2, "valueQuantity"]
    invalid = [
        Invalid(
            "zero-grams",
            [("set", [*amount, "value"], 0)],
            [("Composition", "invariant")],
        ),
        Invalid(
            "amount-in-kg",
            [("set", [*amount, "code"], "kg")],
            [("Composition.section[0].extension[0].extension[2].valueQuantity.code", "value")],
        ),
        Invalid(
            "no-week",
            [("del", ["event"], None)],
            [("Composition.event", "required")],
        ),
        Invalid(
            "meal-unknown",
            [("set", ["section", 0, "code", "coding", 0, "code"], "feast")],
            [("Composition.section[0].code.coding[0]", "code-invalid")],
        ),
    ]
    return Profile(
        pid,
        "Composition",
        CORE + "Composition",
        "Weekly menu with amounts",
        "A childcare centre's menu of one week, each dish with the amount of each food per child.",
        elements,
        valid=valid,
        invalid=invalid,
    )
