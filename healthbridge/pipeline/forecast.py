"""The vaccination forecast published as a FHIR ``ImmunizationRecommendation``.

The forecast is the clinical rules' own plan (:func:`healthbridge.clinical.vaccination
.vaccination_plan`, read here, never re-implemented): every scheduled dose not yet given
becomes one ``recommendation`` (http://hl7.org/fhir/R4/immunizationrecommendation.html):

* ``vaccineCode`` the NIP vaccine code (``CodeSystem/nip-vaccine``) with its name;
* ``forecastStatus`` (http://terminology.hl7.org/CodeSystem/immunization-recommendation-status)
  ``overdue`` for an overdue dose, ``due`` for a dose due now or later (the date criteria say
  when; R4 has no "not yet due" status);
* ``dateCriterion`` with LOINC 30981-5 "Earliest date to give", 30980-7 "Date vaccine due"
  and 59778-1 "Date when overdue for immunization" (the LOINC codes FHIR's
  immunization-recommendation-date-criterion value set lists);
* ``series`` ("NIP <edition>") and ``doseNumberPositiveInt``; ``supportingImmunization`` the
  doses given in the series.

ONE resource per child, id ``forecast-{child id}``, rewritten by the clinical pipeline when the
child's record changes (only when its content changed), and by ``healthbridge evaluate`` for
every child (:mod:`healthbridge.pipeline.forecast_batch`: the calendar and the rule table
change forecasts too), so other systems read the current forecast with
``GET ImmunizationRecommendation?patient=Patient/{id}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Final

from healthbridge import terminology as t
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vaccination import DoseStatus, GivenDose, vaccination_plan
from healthbridge.clinical.vocab import Sex
from healthbridge.errors import GoneError, NotFoundError
from healthbridge.store.repository import Transaction

STATUS_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
EARLIEST: Final = ("30981-5", "Earliest date to give")
DUE: Final = ("30980-7", "Date vaccine due")
OVERDUE: Final = ("59778-1", "Date when overdue for immunization")


def forecast_id(child_id: str) -> str:
    return f"forecast-{child_id}"


def day_start(day: dt.date) -> str:
    """``day`` as the forecast's dateTimes give it: its start in China Standard Time."""
    return f"{day.isoformat()}T00:00:00+08:00"


def recommendation(
    child_id: str, birth_date: dt.date, sex: Sex, given: Iterable[GivenDose],
    rules: RuleSet, as_of: dt.date,
) -> dict[str, Any]:  # fmt: skip
    """The child's forecast on ``as_of`` as an ImmunizationRecommendation (module docstring)."""
    doses = list(given)
    plan = vaccination_plan(birth_date, sex, doses, rules.vaccination, as_of)
    items = []
    # the given doses of each series, in plan order (looked up per dose below, not rescanned)
    given_in: dict[str, list[str]] = {}
    for d in plan.doses:
        if d.given is not None:
            given_in.setdefault(d.series, []).append(f"Immunization/{d.given.immunization_id}")
    for dose in plan.doses:
        if dose.status in (DoseStatus.GIVEN, DoseStatus.NOT_APPLICABLE):
            continue
        info = rules.vaccination.vaccine(dose.vaccine)
        criteria = [(EARLIEST, dose.earliest), (DUE, dose.scheduled), (OVERDUE, dose.overdue_from)]
        supporting = [{"reference": ref} for ref in given_in.get(dose.series, ())]
        item: dict[str, Any] = {
            "vaccineCode": [
                {
                    "coding": [
                        {"system": t.CS_NIP_VACCINE, "code": dose.vaccine, "display": info.name_en}
                    ],
                    "text": info.name_zh,
                }
            ],
            "forecastStatus": {
                "coding": [
                    {
                        "system": STATUS_SYSTEM,
                        "code": "overdue" if dose.status is DoseStatus.OVERDUE else "due",
                    }
                ]
            },
            "dateCriterion": [
                {
                    "code": {"coding": [{"system": t.LOINC, "code": code, "display": name}]},
                    "value": day_start(day),
                }
                for (code, name), day in criteria
                if day is not None
            ],
            "series": f"NIP {plan.edition}",
            "doseNumberPositiveInt": dose.number,
        }
        if supporting:
            item["supportingImmunization"] = supporting
        items.append(item)
    out: dict[str, Any] = {
        "resourceType": "ImmunizationRecommendation",
        "id": forecast_id(child_id),
        "patient": {"reference": f"Patient/{child_id}"},
        "date": day_start(as_of),
        "recommendation": items,
    }
    if not items:  # R4 requires one recommendation: all doses given → "complete"
        out["recommendation"] = [
            {
                "vaccineCode": [{"text": "NIP"}],
                "forecastStatus": {"coding": [{"system": STATUS_SYSTEM, "code": "complete"}]},
                "series": f"NIP {plan.edition}",
            }
        ]
    return out


def given_doses(immunizations: Iterable[dict[str, Any]]) -> list[GivenDose]:
    """The completed NIP doses as the vaccination rules read them (:func:`~.extract.doses`:
    one reading for the rules, the write path's forecast and the batch's)."""
    from healthbridge.inputs.extract import doses

    return doses(immunizations)


def publish(txn: Transaction, resource: dict[str, Any]) -> bool:
    """Write the forecast when its content changed (server work: the pipeline's pre-commit
    hook); True when written."""
    try:
        old = txn.read("ImmunizationRecommendation", str(resource["id"])).resource
    except (NotFoundError, GoneError):
        old = None
    if old is not None:

        def content(r: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in r.items() if k not in ("meta", "date")}

        if content(old) == content(resource):
            return False
    txn.update("ImmunizationRecommendation", str(resource["id"]), resource, trusted=True)
    return True
