"""The visit form's screening fields → hb-screening-result Observations (pure): checks, the
rule inputs they become, and profile conformance."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from healthbridge.fhir.profile_validation import validate_against_profiles
from healthbridge.inputs.screening import screening_results
from healthbridge.web.visit import VisitFormError, parse_visit_form, visit_bundle

BIRTH = dt.date(2022, 10, 1)
TODAY = dt.date(2026, 11, 20)


def _parse(**form: Any) -> Any:
    base = {"visit_date": "2026-11-18", "visit_type": "4y"}
    return parse_visit_form(
        {**base, **form},
        patient_id="c1",
        birth_date=BIRTH,
        practitioner_id="doc-1",
        organization_id="org-mch",
        today=TODAY,
        vaccine_codes=frozenset(),
    )


@pytest.mark.parametrize(
    ("form", "key"),
    [
        ({"hearing": "maybe"}, "screen.err_result"),
        ({"acuity_left": "5.0"}, "visit.err_range"),  # a 5-point (logMAR-style) value
        ({"acuity_left": "abc"}, "visit.err_number"),
        ({"caries": "1.5"}, "visit.err_number"),
        ({"dev_dq": "72"}, "screen.err_no_instrument"),
        ({"dev_instrument": "wst580"}, "screen.err_no_dev_result"),
        ({"dev_instrument": "mchat-items"}, "screen.err_instrument"),
    ],
)
def test_bad_screening_input_is_refused(form: dict[str, str], key: str) -> None:
    with pytest.raises(VisitFormError) as exc:
        _parse(**form)
    assert key in [p.key for p in exc.value.problems]


def test_screenings_alone_are_a_visit_and_become_rule_inputs() -> None:
    visit = _parse(
        hearing="pass", eye="refer", acuity_left="0.5", acuity_right="0.8", caries="2",
        teeth="20", fluoride="yes", dev_instrument="gesell", dev_dq="72", dev_score="55",
    )  # fmt: skip
    bundle = visit_bundle(visit, {}, new_id=iter(str(i) for i in range(50)).__next__)
    observations = [
        {**e["resource"], "id": f"o{i}"}
        for i, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == "Observation"
    ]
    results = {r.screening: r for r in screening_results(observations)}
    assert set(results) == {"hearing", "eye", "oral", "development"}
    assert results["hearing"].refer is False
    assert (results["eye"].refer, results["eye"].acuity_left) == (True, 0.5)
    assert (results["oral"].caries, results["oral"].teeth) == (2, 20)
    assert results["oral"].fluoride_varnish is True
    dev = results["development"]
    assert (dev.instrument, dev.dq, dev.score, dev.refer) == ("gesell", 72.0, 55.0, None)
    for obs in observations:
        resolved = {**obs, "encounter": {"reference": "Encounter/e1"}}
        for profile in obs["meta"]["profile"]:
            issues = [
                i for i in validate_against_profiles(resolved, [profile]) if i.severity == "error"
            ]
            assert issues == [], (profile, issues)
