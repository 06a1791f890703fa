"""Python checks for the invariants (``hb-*`` constraints) declared in our profiles.

Each invariant's FHIRPath text lives in its StructureDefinition (and is evaluated as written
by the independent Medplum validator); here each one is re-implemented as a small Python
function with the same FHIRPath semantics, including "empty is not true": e.g. for
``period.end.exists() implies period.start <= period.end`` a missing start fails. A test
checks that the text below equals the text in the StructureDefinitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_profiles.loader import CANONICAL_BASE

SID_CHILD = f"{CANONICAL_BASE}/sid/child-id"
SID_ORG = f"{CANONICAL_BASE}/sid/org-code"
GROWTH_INDICATOR = f"{CANONICAL_BASE}/CodeSystem/growth-indicator"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CARE_LOG = f"{CANONICAL_BASE}/CodeSystem/care-log"
MEAL_AMOUNT = f"{CANONICAL_BASE}/CodeSystem/meal-amount"
MEALS = ("breakfast", "lunch", "snack", "dinner")
UCUM = "http://unitsofmeasure.org"

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Invariant:
    """One of our invariants: its key, FHIRPath text and Python check (True = satisfied)."""

    key: str
    expression: str
    check: Check


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _has_identifier(resource: Any, system: str) -> bool:
    return any(
        isinstance(i, dict) and i.get("system") == system for i in _list(resource.get("identifier"))
    )


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text if "T" in text else text + "T00:00:00")
    except ValueError:
        return None


def _encounter_period(resource: Any) -> bool:
    period = resource.get("period")
    if not isinstance(period, dict) or "end" not in period:
        return True
    start, end = _instant(period.get("start")), _instant(period.get("end"))
    if start is None or end is None:
        return False
    if (start.tzinfo is None) != (end.tzinfo is None):
        return False  # not comparable: FHIRPath gives empty
    return start <= end


def _indicator_codes(resource: Any) -> list[str]:
    code = resource.get("code")
    codings = _list(code.get("coding")) if isinstance(code, dict) else []
    return [
        c.get("code", "")
        for c in codings
        if isinstance(c, dict) and c.get("system") == GROWTH_INDICATOR
    ]


def _z_score_unit(resource: Any) -> bool:
    if not any(c.endswith("-z") for c in _indicator_codes(resource)):
        return True
    quantity = resource.get("valueQuantity")
    return isinstance(quantity, dict) and quantity.get("code") == "{Z-score}"


def _percentile_range(resource: Any) -> bool:
    if not any(c.endswith("-p") for c in _indicator_codes(resource)):
        return True
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, dict) or quantity.get("code") != "%":
        return False
    value = quantity.get("value")
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100


def _completed_task_output(resource: Any) -> bool:
    return resource.get("status") != "completed" or bool(_list(resource.get("output")))


def _lot_number(resource: Any) -> bool:
    return resource.get("status") != "completed" or "lotNumber" in resource


CASE_OUTCOME_URL = f"{CANONICAL_BASE}/StructureDefinition/case-outcome"


def _closed_case(resource: Any) -> bool:
    """hb-case-1: a finished managed case has an end date and an outcome."""
    if resource.get("status") != "finished":
        return True
    period = resource.get("period")
    ended = isinstance(period, dict) and bool(period.get("end"))
    outcome = any(
        isinstance(e, dict) and e.get("url") == CASE_OUTCOME_URL
        for e in _list(resource.get("extension"))
    )
    return ended and outcome


def _recipient(resource: Any) -> bool:
    provision = resource.get("provision")
    actors = _list(provision.get("actor")) if isinstance(provision, dict) else []
    for actor in actors:
        role = actor.get("role") if isinstance(actor, dict) else None
        for c in _list(role.get("coding")) if isinstance(role, dict) else []:
            if (
                isinstance(c, dict)
                and c.get("system") == PARTICIPATION_TYPE
                and c.get("code") == "IRCP"
            ):
                return True
    return False


def _descendant_items(items: Any) -> Iterator[dict[str, Any]]:
    for item in _list(items):
        if isinstance(item, dict):
            yield item
            yield from _descendant_items(item.get("item"))
            for answer in _list(item.get("answer")):
                if isinstance(answer, dict):
                    yield from _descendant_items(answer.get("item"))


def _boolean_answers(resource: Any) -> bool:
    for item in _descendant_items(resource.get("item")):
        if item.get("linkId") == "age-point":
            continue
        for answer in _list(item.get("answer")):
            values = (
                [k for k in answer if k.startswith("value")] if isinstance(answer, dict) else []
            )
            if values != ["valueBoolean"] or not isinstance(answer["valueBoolean"], bool):
                return False
    return True


def _age_point(resource: Any) -> bool:
    return any(
        isinstance(item, dict)
        and item.get("linkId") == "age-point"
        and bool(_list(item.get("answer")))
        for item in _list(resource.get("item"))
    )


def _care_items(resource: Any) -> set[str]:
    code = resource.get("code")
    codings = _list(code.get("coding")) if isinstance(code, dict) else []
    return {
        str(c.get("code")) for c in codings if isinstance(c, dict) and c.get("system") == CARE_LOG
    }


def _meal_amount(resource: Any) -> bool:
    if not _care_items(resource) & set(MEALS):
        return True
    concept = resource.get("valueCodeableConcept")
    codings = _list(concept.get("coding")) if isinstance(concept, dict) else []
    return any(isinstance(c, dict) and c.get("system") == MEAL_AMOUNT for c in codings)


def _nap_period(resource: Any) -> bool:
    if "nap" not in _care_items(resource):
        return True
    period = resource.get("effectivePeriod")
    return isinstance(period, dict) and "start" in period and "end" in period


def _outdoor_minutes(resource: Any) -> bool:
    if "outdoor" not in _care_items(resource):
        return True
    quantity = resource.get("valueQuantity")
    return isinstance(quantity, dict) and (quantity.get("system"), quantity.get("code")) == (
        UCUM,
        "min",
    )


MENU_INGREDIENT_URL = f"{CANONICAL_BASE}/StructureDefinition/menu-ingredient"
MENU_MAX_GRAMS = 500


def _menu_amounts(resource: Any) -> bool:
    """hb-menu-1: every food amount of the weekly menu is > 0 and <= 500 g (a missing value
    fails, as FHIRPath's ``all()`` of an empty comparison is not true)."""
    for section in _list(resource.get("section")):
        for ext in _list(section.get("extension") if isinstance(section, dict) else None):
            if not isinstance(ext, dict) or ext.get("url") != MENU_INGREDIENT_URL:
                continue
            for part in _list(ext.get("extension")):
                if not isinstance(part, dict) or part.get("url") != "amount":
                    continue
                quantity = part.get("valueQuantity")
                if not isinstance(quantity, dict):
                    continue
                value = quantity.get("value")
                if not isinstance(value, int | float) or not 0 < value <= MENU_MAX_GRAMS:
                    return False
    return True


_PERCENTILE_RULE = (
    f"code.coding.where(system='{GROWTH_INDICATOR}' and "
    f"code.endsWith('-p')).exists() implies (value.ofType(Quantity).code = "
    f"'%' and value.ofType(Quantity).value >= 0 and "
    f"value.ofType(Quantity).value <= 100)"
)
_MEAL_TEST = " or ".join(f"code = '{m}'" for m in MEALS)

INVARIANTS: dict[str, Invariant] = {
    inv.key: inv
    for inv in (
        Invariant(
            "hb-child-1",
            f"identifier.where(system='{SID_CHILD}').exists()",
            lambda r: _has_identifier(r, SID_CHILD),
        ),
        Invariant(
            "hb-org-1",
            f"identifier.where(system='{SID_ORG}').exists()",
            lambda r: _has_identifier(r, SID_ORG),
        ),
        Invariant(
            "hb-enc-1", "period.end.exists() implies period.start <= period.end", _encounter_period
        ),
        Invariant(
            "hb-gs-1",
            (
                f"code.coding.where(system='{GROWTH_INDICATOR}' and "
                f"code.endsWith('-z')).exists() implies value.ofType(Quantity).code = "
                f"'{{Z-score}}'"
            ),
            _z_score_unit,
        ),
        Invariant("hb-gs-2", _PERCENTILE_RULE, _percentile_range),
        # the same rule on Observation.component: the percentile of a z-score
        Invariant("hb-gs-3", _PERCENTILE_RULE, _percentile_range),
        Invariant("hb-imm-1", "status = 'completed' implies lotNumber.exists()", _lot_number),
        Invariant(
            "hb-case-1",
            (
                "status = 'finished' implies (period.end.exists() and "
                f"extension.where(url = '{CASE_OUTCOME_URL}').exists())"
            ),
            _closed_case,
        ),
        Invariant(
            "hb-task-1", "status = 'completed' implies output.exists()", _completed_task_output
        ),
        Invariant(
            "hb-consent-1",
            (
                f"provision.actor.where(role.coding.where(system='{PARTICIPATION_TYPE}' "
                f"and code='IRCP').exists()).exists()"
            ),
            _recipient,
        ),
        Invariant(
            "hb-wsr-1",
            "item.descendants().where(linkId != 'age-point').answer.all(value is boolean)",
            _boolean_answers,
        ),
        Invariant("hb-wsr-2", "item.where(linkId = 'age-point').answer.exists()", _age_point),
        Invariant(
            "hb-care-1",
            (
                f"code.coding.where(system = '{CARE_LOG}' and ({_MEAL_TEST})).exists() implies "
                f"value.ofType(CodeableConcept).coding.where(system = '{MEAL_AMOUNT}').exists()"
            ),
            _meal_amount,
        ),
        Invariant(
            "hb-care-2",
            (
                f"code.coding.where(system = '{CARE_LOG}' and code = 'nap').exists() implies "
                "(effective.ofType(Period).start.exists() and "
                "effective.ofType(Period).end.exists())"
            ),
            _nap_period,
        ),
        Invariant(
            "hb-care-3",
            (
                f"code.coding.where(system = '{CARE_LOG}' and code = 'outdoor').exists() implies "
                f"(value.ofType(Quantity).system = '{UCUM}' and "
                "value.ofType(Quantity).code = 'min')"
            ),
            _outdoor_minutes,
        ),
        Invariant(
            "hb-menu-1",
            (
                f"section.extension.where(url = '{MENU_INGREDIENT_URL}').extension"
                ".where(url = 'amount').value.ofType(Quantity)"
                f".all(value > 0 and value <= {MENU_MAX_GRAMS})"
            ),
            _menu_amounts,
        ),
    )
}
