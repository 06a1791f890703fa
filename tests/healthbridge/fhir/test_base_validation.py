"""The base-R4 validator (:mod:`healthbridge.fhir.base_validation`): each kind of rule, on the
issue's examples and on small hand-made resources."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from healthbridge.fhir import fhirpath
from healthbridge.fhir.base_validation import (
    checked_invariants,
    definitions,
    unchecked_invariants,
    validate_base,
)


def observation(**extra: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-01",
        "valueQuantity": {
            "value": 10.2,
            "unit": "kg",
            "system": "http://unitsofmeasure.org",
            "code": "kg",
        },
    }
    obs.update(extra)
    return {k: v for k, v in obs.items() if v is not None}


def patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "gender": "female", "birthDate": "2024-01-05", **extra}


def found(resource: dict[str, Any]) -> dict[str, str]:
    """expression → issue code of every issue."""
    return {i.expression: i.code for i in validate_base(resource)}


def test_valid_resources_have_no_issues() -> None:
    assert validate_base(observation()) == []
    assert validate_base(patient(name=[{"family": "王", "given": ["小明"]}])) == []


@pytest.mark.parametrize(
    ("resource", "expression", "code"),
    [
        (observation(status="not-a-status"), "Observation.status", "code-invalid"),
        (observation(code={}), "Observation.code", "invariant"),
        (patient(gender="robot"), "Patient.gender", "code-invalid"),
        (patient(name=[{}]), "Patient.name[0]", "invariant"),
        (
            observation(extension=[{"url": "http://example.org/x"}]),
            "Observation.extension[0]",
            "invariant",
        ),
        (observation(category=[]), "Observation.category", "invariant"),
    ],
)
def test_the_issues_examples_are_rejected_with_their_location(
    resource: dict[str, Any], expression: str, code: str
) -> None:
    assert found(resource).get(expression) == code, validate_base(resource)


def test_every_issue_is_listed() -> None:
    bad = observation(status="bogus", category=[], subject={"reference": "Practitioner/x"})
    assert set(found(bad)) == {
        "Observation.status",
        "Observation.category",
        "Observation.subject.reference",
    }


def test_cardinality_types_and_unknown_elements() -> None:
    assert found(observation(code=None)) == {"Observation.code": "required"}
    assert found(observation(status=["final"]))["Observation.status"] == "structure"
    assert found(patient(name={"family": "王"}))["Patient.name"] == "structure"
    assert found(patient(nickname="x")) == {"Patient.nickname": "structure"}
    assert found(patient(active="yes")) == {"Patient.active": "structure"}
    assert found(patient(multipleBirthInteger=0, multipleBirthBoolean=True)) == {
        "Patient.multipleBirth": "structure"
    }
    assert found(observation(valueString=None, valueCodeableConcept={"text": "x"})) == {
        "Observation.value": "structure"
    }


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-01-05", True),
        ("2024", True),
        ("2024-02-30", False),
        ("2024-13-01", False),
        ("20240105", False),
        ("", False),
        (20240105, False),
    ],
)
def test_primitive_formats_follow_the_spec_regexes(value: Any, ok: bool) -> None:
    assert (validate_base(patient(birthDate=value)) == []) is ok


def test_empty_values_and_nulls_break_ele_1() -> None:
    assert found(patient(name=[{"family": "  "}])) == {"Patient.name[0].family": "invariant"}
    assert found(patient(active=None, telecom=[None]))["Patient.telecom[0]"] == "structure"
    assert found({"resourceType": "Patient"}) == {"Patient": "invariant"}


def test_primitive_extensions_are_elements() -> None:
    ext = {"extension": [{"url": "http://example.org/x", "valueString": "a"}]}
    assert validate_base(patient(_birthDate=ext)) == []
    assert found(patient(_birthDate={"extension": [{"url": "u"}]})) == {
        "Patient._birthDate.extension[0]": "invariant"
    }
    assert found(patient(_gender="x")) == {"Patient._gender": "structure"}


def test_extensions_need_a_value_or_extensions_not_both_and_a_url() -> None:
    both = {"url": "http://e/x", "valueString": "a", "extension": [{"url": "y", "valueCode": "b"}]}
    assert found(patient(extension=[both])) == {"Patient.extension[0]": "invariant"}
    assert found(patient(extension=[{"valueString": "a"}])) == {
        "Patient.extension[0].url": "required"
    }
    wrong_type = {"url": "http://e/x", "valueBogus": 1}
    assert "Patient.extension[0].valueBogus" in found(patient(extension=[wrong_type]))


def test_reference_targets_and_required_bindings_in_data_types() -> None:
    assert found(observation(subject={"reference": "Practitioner/p"})) == {
        "Observation.subject.reference": "invalid"
    }
    for ref in ("https://x.org/fhir/Patient/1", "Patient/1/_history/2", "#c", "urn:uuid:1"):
        assert validate_base(observation(subject={"reference": ref})) == [], ref
    bad_comparator = {"value": 1, "comparator": "≈"}
    assert found(observation(valueQuantity=bad_comparator)) == {
        "Observation.valueQuantity.comparator": "code-invalid"
    }
    bad_coding = {"coding": [{"system": "http://hl7.org/fhir/administrative-gender", "code": "x"}]}
    assert validate_base(patient(maritalStatus=bad_coding)) == []  # extensible: not checked
    link = [{"other": {"reference": "Patient/2"}, "type": "bogus"}]
    assert found(patient(link=link)) == {"Patient.link[0].type": "code-invalid"}


def test_contained_resources_and_invariants() -> None:
    contained = [{"resourceType": "Patient", "id": "c", "gender": "robot"}]
    assert found(observation(contained=contained)) == {
        "Observation.contained[0].gender": "code-invalid"
    }
    both = observation(dataAbsentReason={"text": "lost"})  # obs-6: not with a value
    assert found(both) == {"Observation": "invariant"}
    nested = observation(contained=[{**patient(), "id": "c", "contained": [patient()]}])
    assert "Observation" in found(nested)  # dom-2: no nested contained resources


def test_unsupported_top_level_type_is_an_issue() -> None:
    assert found({"resourceType": "Medication", "id": "m"}) == {"resourceType": "not-supported"}


def test_invariant_lists_split_every_error_invariant() -> None:
    checked, unchecked = checked_invariants(), unchecked_invariants()
    assert "obs-6" in checked["Observation"]
    assert "obs-7" in unchecked["Observation"]  # uses %resource and intersect()
    for type_name in definitions()["supportedTypes"]:
        both = set(checked.get(type_name, [])) & set(unchecked.get(type_name, []))
        assert not both, type_name


def test_fhirpath_additions_used_by_invariants() -> None:
    obs = observation()
    assert (
        fhirpath.compile_expression("status = 'final' implies value.exists()")
        .evaluate(obs)[0]
        .value
    )
    assert (
        not fhirpath.compile_expression("status = 'final' implies focus.exists()")
        .evaluate(obs)[0]
        .value
    )
    assert fhirpath.compile_expression("code.coding.count() = 1").evaluate(obs)[0].value
    assert fhirpath.compile_expression("code.coding.all(system.exists())").evaluate(obs)[0].value
    assert (
        fhirpath.compile_expression("code.coding.exists(code = '29463-7')").evaluate(obs)[0].value
    )
    assert fhirpath.compile_expression("status.hasValue()").evaluate(obs)[0].value
    assert fhirpath.compile_expression("value is Quantity").evaluate(obs)[0].value
    flagged = copy.deepcopy(obs)
    flagged["valueBoolean"] = flagged.pop("valueQuantity") and True
    assert fhirpath.compile_expression("value is Boolean").evaluate(flagged)[0].value
