"""The schedule rules vectorised over a whole district (batch path of ``evaluate_district``).

The per-child functions (:func:`~healthbridge.clinical.vaccination.vaccination_plan`,
:func:`~healthbridge.clinical.checkups.checkup_plan`, the admission check, anaemia, warning
signs, daily checks) stay the definition of each rule and the incremental path; this module
computes the same findings for every child at once, with numpy arrays of day numbers
(:func:`~healthbridge.clinical.ages.day_number`) instead of one Python loop per child:

* vaccination: the dose-filling state machine of ``vaccination_plan`` runs per series and per
  product-option group, one step per "j-th dose of the series" and per dose number, each step
  over every child at once (minimum age, minimum and extra intervals, give-until, the 28-day
  live-vaccine rule through a sorted array of live dose dates); statuses and catch-up dates
  follow as array expressions;
* checkups: visit windows per child as arrays, typed checkups matched first, untyped ones
  matched in date order to the earliest open window;
* admission check: the latest enrolment per child and the missing doses from the vaccination
  states;
* anaemia, warning signs, daily checks: the children who can have a finding are selected with
  array operations (latest Hb anaemic, latest screening positive, a febrile or symptomatic
  check today) and only those run the per-child function.

Every threshold, age and severity comes from the rule tables, as in the per-child functions.
``tests/healthbridge/clinical/test_schedule_batch.py`` proves the findings equal the per-child
path's, on seeded and Hypothesis-generated districts.

This module runs them all (:func:`schedule_frame`); the rules live in
:mod:`~healthbridge.clinical.schedule_vaccination` (vaccination) and
:mod:`~healthbridge.clinical.schedule_care` (admission, checkups, anaemia, screening, daily
checks), the shared arrays in :mod:`~healthbridge.clinical.schedule_arrays`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from healthbridge.clinical.records import DistrictData
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.schedule_arrays import FindingRows, children_arrays
from healthbridge.clinical.schedule_care import (
    admission_frame,
    anaemia_frame,
    checkup_frame,
    daily_check_frame,
    incomplete_statuses,
    screening_frame,
    syndromic_checks,
)
from healthbridge.clinical.schedule_vaccination import (
    child_fact_arrays,
    vaccination_frame,
    vaccination_states,
)
from healthbridge.clinical.vaccination import DoseStatus

__all__ = ["schedule_frame", "syndromic_checks"]


def schedule_frame(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame | None:
    """Child-level schedule findings (everything but growth) of every child in ``data``, or
    ``None`` when the children frame repeats a child id (use the per-child path)."""
    ch = children_arrays(data.children)
    if ch is None:
        return None
    rows = FindingRows()
    checkup_frame(ch, data.checkups, ruleset.checkups, as_of, rows)
    keep = (DoseStatus.DUE, DoseStatus.OVERDUE, *incomplete_statuses(ruleset.vaccination))
    facts = child_fact_arrays(ch, data.children, data.tb_tests, ruleset.vaccination, as_of)
    states = vaccination_states(ch, data.doses, ruleset.vaccination, as_of, keep, facts)
    vaccination_frame(ch, states, ruleset.vaccination, rows)
    admission_frame(ch, data.enrolments, states, ruleset.vaccination, as_of, rows)
    daily_check_frame(ch, data.daily_checks, ruleset.daily_check, as_of, rows)
    anaemia_frame(ch, data.haemoglobin, ruleset.anaemia, as_of, rows)
    screening_frame(ch, data.screenings, ruleset.screening, as_of, rows)
    return rows.frame()
