"""Profiles of a centre's day: the daily care log Observation (保育日志)."""

from __future__ import annotations

from .codes import MEAL_ITEMS
from .common import CORE, JSON, UCUM, coding, coding_slice, cs_url, el, inv, quantity, ref
from .spec import CHILD_REF, Invalid, Profile, meta

CARE = cs_url("care-log")


def care_log() -> Profile:
    """One item of a child's day as an Observation in the child's compartment (so the
    store's reach rules share it with the guardians and the centre, and with hospitals
    under the guardian's consent, like every other Observation)."""
    pid = "hb-care-log"
    meals = " or ".join(f"code = '{m}'" for m in MEAL_ITEMS)
    c1 = inv(
        "hb-care-1",
        "A meal records the amount eaten (meal-amount).",
        (
            f"code.coding.where(system = '{CARE}' and ({meals})).exists() implies "
            f"value.ofType(CodeableConcept).coding.where(system = '{cs_url('meal-amount')}')"
            ".exists()"
        ),
    )
    c2 = inv(
        "hb-care-2",
        "A nap records when it started and ended (effectivePeriod).",
        (
            f"code.coding.where(system = '{CARE}' and code = 'nap').exists() implies "
            "(effective.ofType(Period).start.exists() and effective.ofType(Period).end.exists())"
        ),
    )
    c3 = inv(
        "hb-care-3",
        "Outdoor time is a duration in minutes.",
        (
            f"code.coding.where(system = '{CARE}' and code = 'outdoor').exists() implies "
            f"(value.ofType(Quantity).system = '{UCUM}' and value.ofType(Quantity).code = 'min')"
        ),
    )
    elements = [
        el(
            "Observation",
            short="Daily care log item",
            definition=(
                "One item of a child's day at the centre (保育日志): a meal and how much was "
                "eaten, a nap from-to, toileting, outdoor minutes, mood and notes."
            ),
            constraint=[c1, c2, c3],
        ),
        *coding_slice("Observation.code.coding", "item", "care-log", CARE),
        el("Observation.subject", min=1, type=ref("hb-child")),
        el("Observation.effective[x]", min=1, type=[{"code": "dateTime"}, {"code": "Period"}]),
        el(
            "Observation.value[x]",
            type=[{"code": "CodeableConcept"}, {"code": "Quantity"}, {"code": "string"}],
        ),
    ]
    valid: JSON = {
        "resourceType": "Observation",
        "id": "care-log-example",
        "meta": meta(pid),
        "status": "final",
        "code": {"coding": [coding(CARE, "lunch", "Lunch (amount eaten)")], "text": "午餐"},
        "subject": CHILD_REF,
        "effectiveDateTime": "2026-11-20T11:30:00+08:00",
        "performer": [{"reference": "Practitioner/teacher-1"}],
        "valueCodeableConcept": {"coding": [coding(cs_url("meal-amount"), "most", "Ate most")]},
        "note": [{"text": "不爱吃胡萝卜"}],
    }
    invalid = [
        Invalid(
            "unknown-item",
            [("set", ["code", "coding", 0, "code"], "homework")],
            [("Observation.code.coding[0]", "code-invalid")],
        ),
        Invalid(
            "meal-as-text",
            [("del", ["valueCodeableConcept"], None), ("set", ["valueString"], "ate well")],
            [("Observation", "invariant")],
        ),
        Invalid(
            "nap-without-end",
            [
                ("set", ["code", "coding", 0], coding(CARE, "nap")),
                ("del", ["valueCodeableConcept"], None),
                ("del", ["effectiveDateTime"], None),
                ("set", ["effectivePeriod"], {"start": "2026-11-20T12:30:00+08:00"}),
            ],
            [("Observation", "invariant")],
        ),
        Invalid(
            "outdoor-in-hours",
            [
                ("set", ["code", "coding", 0], coding(CARE, "outdoor")),
                ("del", ["valueCodeableConcept"], None),
                ("set", ["valueQuantity"], quantity(1.5, "h")),
            ],
            [("Observation", "invariant")],
        ),
        Invalid(
            "no-subject",
            [("del", ["subject"], None)],
            [("Observation.subject", "required")],
        ),
    ]
    return Profile(
        pid,
        "Observation",
        CORE + "Observation",
        "Daily care log item",
        "One item of a child's day at the centre: meal, nap, toileting, outdoor time, mood.",
        elements,
        valid=valid,
        invalid=invalid,
    )
