"""Differentials of our StructureDefinitions, with one valid and several invalid examples each.

Each invalid example is the valid one with a few edits and lists the issues the Python validator
must report (FHIRPath location and OperationOutcome issue type). ``base_r4`` marks examples that
break base R4 itself, which the independent Medplum validator must also reject.
"""

from __future__ import annotations

from .profiles_care import (
    alert_flag,
    consent,
    immunization,
    referral,
    review_task,
    warning_signs_response,
)
from .profiles_cases import case_outcome_extension, case_plan, managed_case
from .profiles_daylog import care_log
from .profiles_extensions import extensions
from .profiles_menu import menu_ingredient, weekly_menu
from .profiles_observations import growth_score, haemoglobin, measurements, tb_skin_test
from .profiles_people import child, encounter, guardian, organization
from .profiles_screening import screening_result
from .spec import Invalid, Op, Profile

__all__ = ["Invalid", "Op", "Profile", "all_profiles"]


def all_profiles() -> list[Profile]:
    """Every StructureDefinition we publish, extensions first."""
    return [
        *extensions(),
        child(),
        guardian(),
        organization(),
        encounter(),
        *measurements(),
        haemoglobin(),
        tb_skin_test(),
        screening_result(),
        growth_score(),
        immunization(),
        alert_flag(),
        review_task(),
        referral(),
        consent(),
        warning_signs_response(),
        case_outcome_extension(),
        managed_case(),
        case_plan(),
        care_log(),
        menu_ingredient(),
        weekly_menu(),
    ]
