"""The demo's immunisations and entry checks read the schedule as the clinical rules do: a child
assessed complete at entry had no dose the clinical entry check counts as missing on the entry
day, and an incomplete assessment had one (the demo once used its own "a month past the dose's
age" instead of the table's ``complete_before`` ages)."""

from __future__ import annotations

import datetime as dt

import pytest

from healthbridge.clinical import ages
from healthbridge.clinical.admission import AdmissionState, admission_check
from healthbridge.clinical.ruleset import load_ruleset
from healthbridge.clinical.tables_vaccination import VaccinationTable
from healthbridge.clinical.vaccination import GivenDose, vaccination_plan
from healthbridge.clinical.vocab import Sex as ClinicalSex
from healthbridge.demo import population
from healthbridge.demo.population import Child, District, generate

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def district() -> District:
    return generate(children=400, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def table() -> VaccinationTable:
    return load_ruleset("cn-child-health", "2026.1").vaccination


def _missing_on_entry(child: Child, district: District, table: VaccinationTable) -> tuple[str, ...]:
    """The doses the clinical entry check finds missing on the entry day (doses given by then;
    catch-up doses given later are not counted)."""
    assert child.enrolled_since is not None
    assert child.centre_id is not None
    entry = child.enrolled_since
    mine = district.doses.loc[district.doses["child_id"] == child.id]
    given = [
        GivenDose(f"{r.series}-{r.dose}", r.vaccine, r.date)
        for r in mine.itertuples()
        if r.date <= entry
    ]
    sex = ClinicalSex.MALE if child.sex == 1 else ClinicalSex.FEMALE
    plan = vaccination_plan(child.birth_date, sex, given, table, entry)
    check = admission_check(
        child.id, child.centre_id, entry, AdmissionState.SUBMITTED, plan, table, entry
    )
    return check.missing_doses


def test_entry_assessments_agree_with_the_clinical_entry_check(
    district: District, table: VaccinationTable
) -> None:
    complete = incomplete = 0
    for child in district.children:
        if child.admission_state == AdmissionState.ASSESSED_COMPLETE:
            assert _missing_on_entry(child, district, table) == (), child.id
            complete += 1
        elif child.admission_state in (
            AdmissionState.ASSESSED_INCOMPLETE,
            AdmissionState.CATCHUP_IN_PROGRESS,
        ):
            assert _missing_on_entry(child, district, table) != (), child.id
            incomplete += 1
    assert complete > 100
    assert incomplete > 5


def test_catch_up_doses_are_valid_by_the_clinical_rules(
    district: District, table: VaccinationTable
) -> None:
    """Every dose (catch-up ones included) keeps the minimum ages and intervals the clinical
    plan checks."""
    for child in district.children:
        mine = district.doses.loc[district.doses["child_id"] == child.id]
        given = [GivenDose(f"{r.series}-{r.dose}", r.vaccine, r.date) for r in mine.itertuples()]
        sex = ClinicalSex.MALE if child.sex == 1 else ClinicalSex.FEMALE
        assert vaccination_plan(child.birth_date, sex, given, table, AS_OF).invalid == ()


def test_the_demo_uses_the_clinical_month_arithmetic() -> None:
    assert population.add_months is ages.add_months
