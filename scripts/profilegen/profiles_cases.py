"""Managed-case profiles (体弱儿/高危儿专案管理): the case (EpisodeOfCare), its follow-up plan
(CarePlan) and the outcome extension recorded at closure (结案)."""

from __future__ import annotations

from .common import CORE, JSON, coding, cs_url, el, inv, ref, required, sd_url
from .spec import CHILD_REF, PATTERN_SLICING, TYPE_SLICING, Invalid, Profile, meta


def case_outcome_extension() -> Profile:
    eid = "case-outcome"
    coding_type = [{"code": "Coding"}]
    description = "The outcome (转归) of a closed managed case: cured, improved, referred, lost."
    return Profile(
        id=eid,
        type="Extension",
        base=CORE + "Extension",
        title="Managed-case outcome",
        description=description,
        kind="complex-type",
        context=[{"type": "element", "expression": "EpisodeOfCare"}],
        elements=[
            el("Extension", short="Managed-case outcome", definition=description),
            el("Extension.extension", max="0"),
            el("Extension.url", fixedUri=sd_url(eid)),
            el("Extension.value[x]", min=1, type=coding_type, slicing=TYPE_SLICING),
            el(
                "Extension.value[x]:valueCoding",
                sliceName="valueCoding",
                min=1,
                type=coding_type,
                binding=required("case-outcome"),
            ),
            el("Extension.value[x]:valueCoding.system", min=1, fixedUri=cs_url("case-outcome")),
            el("Extension.value[x]:valueCoding.code", min=1),
        ],
    )


def managed_case() -> Profile:
    pid = "hb-managed-case"
    c1 = inv(
        "hb-case-1",
        "A closed (finished) case records its end date and outcome (结案).",
        (
            "status = 'finished' implies (period.end.exists() and "
            f"extension.where(url = '{sd_url('case-outcome')}').exists())"
        ),
    )
    condition = cs_url("managed-case-condition")
    elements: list[JSON] = [
        el(
            "EpisodeOfCare",
            short="Managed case (专案管理)",
            definition=(
                "A frail or high-risk child managed as a case for one condition, followed up "
                "at the intervals of the managed-cases rule table until closed (结案)."
            ),
            constraint=[c1],
        ),
        el(
            "EpisodeOfCare.extension",
            slicing={
                "discriminator": [{"type": "value", "path": "url"}],
                "ordered": False,
                "rules": "open",
            },
        ),
        el(
            "EpisodeOfCare.extension:outcome",
            sliceName="outcome",
            max="1",
            type=[{"code": "Extension", "profile": [sd_url("case-outcome")]}],
        ),
        el("EpisodeOfCare.type", min=1, slicing=PATTERN_SLICING),
        el("EpisodeOfCare.type.coding", min=1),
        el("EpisodeOfCare.type.coding.system", min=1, fixedUri=condition),
        el("EpisodeOfCare.type.coding.code", min=1),
        el("EpisodeOfCare.patient", type=ref("hb-child")),
        el("EpisodeOfCare.managingOrganization", min=1, type=ref("hb-organization")),
        el("EpisodeOfCare.period", min=1),
        el("EpisodeOfCare.period.start", min=1),
    ]
    valid: JSON = {
        "resourceType": "EpisodeOfCare",
        "id": "case-1",
        "meta": meta(pid),
        "status": "active",
        "type": [{"coding": [coding(condition, "anaemia", "Iron-deficiency anaemia")]}],
        "patient": CHILD_REF,
        "managingOrganization": {"reference": "Organization/mch-1"},
        "period": {"start": "2026-05-13"},
        "careManager": {"reference": "Practitioner/doctor-1"},
    }
    invalid = [
        Invalid("no-type", [("del", ["type"], None)], [("EpisodeOfCare.type", "required")]),
        Invalid(
            "closed-without-outcome",
            [("set", ["status"], "finished"), ("set", ["period", "end"], "2026-08-13")],
            [("EpisodeOfCare", "invariant")],
        ),
    ]
    return Profile(
        pid,
        "EpisodeOfCare",
        CORE + "EpisodeOfCare",
        "Managed case",
        "A managed case (体弱儿/高危儿专案管理) of a child: condition, period, outcome.",
        elements,
        valid=valid,
        invalid=invalid,
    )


def case_plan() -> Profile:
    pid = "hb-case-plan"
    elements: list[JSON] = [
        el(
            "CarePlan",
            short="Managed-case follow-up plan",
            definition=(
                "The follow-up plan of a managed case: the interval of the managed-cases rule "
                "table (activity.detail.scheduledTiming) and the closure criteria "
                "(description); supportingInfo names the EpisodeOfCare."
            ),
        ),
        el("CarePlan.intent", fixedCode="plan"),
        el("CarePlan.description", min=1),
        el("CarePlan.subject", type=ref("hb-child")),
        el("CarePlan.period.start", min=1),
        el("CarePlan.supportingInfo", min=1, type=ref("hb-managed-case")),
        el("CarePlan.activity", min=1),
    ]
    valid: JSON = {
        "resourceType": "CarePlan",
        "id": "case-plan-1",
        "meta": meta(pid),
        "status": "active",
        "intent": "plan",
        "title": "营养性缺铁性贫血 专案管理",
        "description": "足疗程补铁后血红蛋白恢复正常。",
        "subject": CHILD_REF,
        "period": {"start": "2026-05-13"},
        "supportingInfo": [{"reference": "EpisodeOfCare/case-1"}],
        "activity": [
            {
                "detail": {
                    "status": "scheduled",
                    "description": "随访 every 30 days",
                    "scheduledTiming": {
                        "event": ["2026-06-10"],
                        "repeat": {"frequency": 1, "period": 30, "periodUnit": "d"},
                    },
                }
            }
        ],
    }
    invalid = [
        Invalid(
            "no-episode",
            [("del", ["supportingInfo"], None)],
            [("CarePlan.supportingInfo", "required")],
        ),
        Invalid("proposal", [("set", ["intent"], "proposal")], [("CarePlan.intent", "value")]),
    ]
    return Profile(
        pid,
        "CarePlan",
        CORE + "CarePlan",
        "Managed-case plan",
        "The follow-up plan of a managed case (专案管理计划).",
        elements,
        valid=valid,
        invalid=invalid,
    )
