"""The NHC developmental warning-signs checklist as one Questionnaire."""

from __future__ import annotations

from .codes import CHECKUP_VISITS, warning_signs
from .common import (
    JSON,
    TRANSLATION_EXT,
    cs_url,
    q_url,
)
from .terminology import resource_header


def _translated(en: str) -> JSON:
    return {
        "extension": [
            {
                "url": TRANSLATION_EXT,
                "extension": [
                    {"url": "lang", "valueCode": "en"},
                    {"url": "content", "valueString": en},
                ],
            }
        ]
    }


WARNING_SIGNS_QUESTIONNAIRE_ID = "warning-signs"
AGE_POINTS = ("3m", "6m", "8m", "12m", "18m", "24m", "30m", "36m", "4y", "5y", "6y")


def warning_signs_questionnaire() -> JSON:
    """One Questionnaire: pick the age point, then that age's 4 items show (``enableWhen``).

    Any item answered ``true`` (the child shows the warning sign), or regression, makes the
    screen positive (DOMAIN.md §4.3); the scoring itself is a clinical rule, not here.
    """
    out = resource_header(
        "Questionnaire",
        WARNING_SIGNS_QUESTIONNAIRE_ID,
        q_url(WARNING_SIGNS_QUESTIONNAIRE_ID),
        "WarningSignsChecklist",
        "儿童心理行为发育问题预警征象筛查表",
        (
            "NHC developmental warning-signs checklist for children aged 3 months "
            "to 6 years: 4 items per age point; answer true when the child shows "
            "the sign. Item texts zh-CN with English translations (ours)."
        ),
    )
    out["language"] = "zh-CN"
    out["subjectType"] = ["Patient"]
    out["code"] = [
        {
            "system": cs_url("warning-sign"),
            "code": "regression",
            "display": "Regression of language or social skills at any age",
        }
    ]
    visits = {c: (en, zh) for c, en, zh in CHECKUP_VISITS}
    age_item: JSON = {
        "linkId": "age-point",
        "text": "筛查月龄/年龄",
        "_text": _translated("Age point screened"),
        "type": "choice",
        "required": True,
        "answerOption": [
            {"valueCoding": {"system": cs_url("checkup-visit"), "code": a, "display": visits[a][0]}}
            for a in AGE_POINTS
        ],
    }
    items: list[JSON] = [age_item]
    signs = warning_signs()
    for age in AGE_POINTS:
        group_items = [
            {
                "linkId": s.code,
                "code": [{"system": cs_url("warning-sign"), "code": s.code}],
                "text": s.zh,
                "_text": _translated(s.en),
                "type": "boolean",
                "required": True,
            }
            for s in signs
            if s.age_code == age
        ]
        items.append(
            {
                "linkId": f"group-{age}",
                "text": f"{visits[age][1]}预警征象",
                "_text": _translated(f"Warning signs, {visits[age][0]}"),
                "type": "group",
                "enableWhen": [
                    {
                        "question": "age-point",
                        "operator": "=",
                        "answerCoding": {"system": cs_url("checkup-visit"), "code": age},
                    }
                ],
                "item": group_items,
            }
        )
    items.append(
        {
            "linkId": "regression",
            "code": [{"system": cs_url("warning-sign"), "code": "regression"}],
            "text": "是否出现语言或社交技能倒退",
            "_text": _translated("Any regression of language or social skills"),
            "type": "boolean",
            "required": True,
        }
    )
    out["item"] = items
    return out
