from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_profiles import loader
from healthbridge.fhir.profile_invariants import INVARIANTS
from healthbridge.fhir.profile_validation import (
    ValidationIssue,
    validate_against_profiles,
    validate_operation_outcome,
)

BASE = loader.CANONICAL_BASE
VALID = loader.example_names("valid")
INVALID = loader.example_names("invalid")


@pytest.mark.parametrize("name", VALID)
def test_valid_example_has_no_issues(name: str) -> None:
    assert validate_against_profiles(loader.example("valid", name)) == []


@pytest.mark.parametrize("name", INVALID)
def test_invalid_example_reports_exactly_the_expected_issues(name: str) -> None:
    expectation = loader.invalid_expectation(name)
    issues = validate_against_profiles(loader.example("invalid", name))
    assert {(i.expression, i.code) for i in issues} == set(expectation.issues)
    assert all(i.severity == "error" and i.diagnostics for i in issues)


def test_explicit_profile_overrides_meta_profile() -> None:
    weight = loader.example("valid", "hb-body-weight.json")
    del weight["meta"]
    assert validate_against_profiles(weight) == []  # claims nothing
    issues = validate_against_profiles(weight, [f"{BASE}/StructureDefinition/hb-body-height"])
    assert ("Observation.code.coding", "required") in {(i.expression, i.code) for i in issues}
    assert ("Observation.valueQuantity.code", "value") in {(i.expression, i.code) for i in issues}


def test_unknown_and_mismatched_profiles_are_issues() -> None:
    child = loader.example("valid", "hb-child.json")
    child["meta"]["profile"].append(f"{BASE}/StructureDefinition/hb-nothing")
    child["meta"]["profile"].append(
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
    )
    assert [(i.code, i.expression) for i in validate_against_profiles(child)] == [
        ("not-found", "Patient.meta.profile")
    ]
    issues = validate_against_profiles(child, ["http://example.org/StructureDefinition/x"])
    assert [i.code for i in issues] == ["not-found"]
    issues = validate_against_profiles(child, [f"{BASE}/StructureDefinition/hb-guardian"])
    assert [(i.code, i.expression) for i in issues] == [("invalid", "Patient")]
    assert validate_against_profiles(child, [f"{BASE}/StructureDefinition/hb-child|0.1.0"]) == []


def test_missing_resource_type() -> None:
    (issue,) = validate_against_profiles({"id": "x"})
    assert (issue.code, issue.expression) == ("required", "resourceType")


@pytest.mark.parametrize("name", VALID)
def test_removing_a_required_top_level_element_is_reported_there(name: str) -> None:
    resource = loader.example("valid", name)
    url = resource["meta"]["profile"][0]
    sd = loader.structure_definition(url)
    rtype = sd["type"]
    required = [
        e["path"].split(".")[1]
        for e in sd["snapshot"]["element"]
        if e["path"].count(".") == 1 and e.get("min", 0) >= 1 and "sliceName" not in e
    ]
    assert required
    for field in required:
        key = next(
            (
                k
                for k in resource
                if k == field or (field.endswith("[x]") and k.startswith(field[:-3]))
            ),
            None,
        )
        if key is None:
            continue
        broken = copy.deepcopy(resource)
        del broken[key]
        expected = f"{rtype}.{field.removesuffix('[x]')}"
        found = {(i.expression, i.code) for i in validate_against_profiles(broken)}
        assert (expected, "required") in found, (name, field, found)


def test_invariant_texts_match_the_structure_definitions() -> None:
    declared: dict[str, str] = {}
    for url in loader.urls("StructureDefinition"):
        for e in loader.structure_definition(url)["differential"]["element"]:
            for c in e.get("constraint", []):
                declared[c["key"]] = c["expression"]
    assert declared.keys() == INVARIANTS.keys()
    for key, expression in declared.items():
        assert INVARIANTS[key].expression == expression, key


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2026-06-05T09:00:00+08:00", "2026-06-05T09:40:00+08:00", True),
        ("2026-06-05T09:00:00+08:00", "2026-06-05T01:30:00Z", True),  # 09:30 +08:00
        ("2026-06-05T09:00:00+08:00", "2026-06-05T00:30:00Z", False),  # 08:30 +08:00
        ("2026-06-05", "2026-06-04", False),
        (None, "2026-06-05", False),  # FHIRPath: empty comparison is not true
        ("2026-06-05", None, True),
    ],
)
def test_encounter_period_invariant(start: str | None, end: str | None, ok: bool) -> None:
    period = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    assert INVARIANTS["hb-enc-1"].check({"period": period}) is ok


def test_operation_outcome_lists_every_issue_with_its_location() -> None:
    issues = validate_against_profiles(
        loader.example("invalid", "hb-growth-score--unknown-reference.json")
    )
    outcome = validate_operation_outcome(issues)
    assert outcome["resourceType"] == "OperationOutcome"
    assert [(i["code"], i["expression"]) for i in outcome["issue"]] == [
        ("code-invalid", ["Observation.method"])
    ]
    ok = validate_operation_outcome([])
    assert ok["issue"][0]["severity"] == "information"
    issue = ValidationIssue("error", "value", "bad", "X.y")
    assert validate_operation_outcome([issue, issue])["issue"][1]["expression"] == ["X.y"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(VALID), data=st.data(), replacement=json_values)
def test_arbitrary_corruption_never_crashes(
    name: str, data: st.DataObject, replacement: Any
) -> None:
    resource = loader.example("valid", name)
    key = data.draw(st.sampled_from(sorted(k for k in resource if k != "resourceType")))
    resource[key] = replacement
    issues = validate_against_profiles(resource)
    assert all(isinstance(i, ValidationIssue) and i.expression for i in issues)
    if replacement is None or replacement == []:
        return
    # a changed top-level value is either still acceptable or reported at or below that element
    rtype = resource["resourceType"]
    assert all(i.expression.startswith(rtype) for i in issues)
