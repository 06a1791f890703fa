"""The centre's missing admission doses at once equal each child's plan's
(clinical/admission_batch.py)."""

from __future__ import annotations

import pytest

from healthbridge.clinical.admission import AdmissionState, admission_check
from healthbridge.clinical.admission_batch import missing_doses
from healthbridge.clinical.records import child_records
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district
from healthbridge.clinical.vaccination import ChildFacts, vaccination_plan


@pytest.mark.parametrize("which", ["rs", "rs2021"])
def test_missing_doses_equal_the_per_child_plans(
    which: str, request: pytest.FixtureRequest
) -> None:
    ruleset: RuleSet = request.getfixturevalue(which)
    table = ruleset.vaccination
    spec = SyntheticSpec(children=200, measurements_per_child=2, seed=5)
    records = list(child_records(synthetic_district(spec, ruleset), with_growth=False))
    children = [
        (r.child_id, r.birth_date, r.sex.value, r.maternal_hbsag, r.birth_weight_g) for r in records
    ]
    given = {r.child_id: list(r.doses) for r in records}
    found = missing_doses(children, given, table, spec.as_of)
    assert found is not None
    expected = {}
    for r in records:
        facts = ChildFacts(r.maternal_hbsag, r.birth_weight_g)
        plan = vaccination_plan(r.birth_date, r.sex, r.doses, table, spec.as_of, facts)
        check = admission_check(r.child_id, "c", spec.as_of, AdmissionState.SUBMITTED, plan,
                                table, spec.as_of)  # fmt: skip
        expected[r.child_id] = check.missing_doses
    assert found == expected
    assert sum(1 for m in found.values() if m) > 10  # many children have doses missing
    assert sum(1 for m in found.values() if not m) > 0


def test_repeated_ids_are_left_to_the_per_child_plans(rs: RuleSet) -> None:
    day = SyntheticSpec(children=1).as_of
    twice = [("a", day, "male", None, None), ("a", day, "male", None, None)]
    assert missing_doses(twice, {}, rs.vaccination, day) is None
