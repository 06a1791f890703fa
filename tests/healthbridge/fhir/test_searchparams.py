"""Search parameter definitions, the FHIRPath subset and extraction against real data."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthbridge.fhir.fhirpath import FhirPathSyntaxError, compile_expression
from healthbridge.fhir.fhirpath_simple import compile_simple
from healthbridge.fhir.index_rows import _reference_rows
from healthbridge.fhir.index_rows import distinct_rows as _distinct_rows
from healthbridge.fhir.r4 import SUPPORTED_TYPES
from healthbridge.fhir.searchparams import (
    SearchParam,
    extract,
    extract_interpreted,
    extract_walked,
    params_for,
    supported_params,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.usefixtures("examples_dir")
def test_generated_file_is_up_to_date() -> None:
    target = ROOT / "healthbridge/fhir/data/search-parameters.json"
    before = target.read_bytes()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_search_parameters.py")],
        check=True,
        capture_output=True,
    )
    assert target.read_bytes() == before, "regenerate with scripts/build_search_parameters.py"


@pytest.mark.parametrize("rtype", SUPPORTED_TYPES)
def test_every_expression_compiles_or_is_marked_unsupported(rtype: str) -> None:
    params = params_for(rtype)
    assert "_id" in params
    assert "_lastUpdated" in params
    for code, param in params.items():
        if param.supported:
            if code not in ("_id", "_lastUpdated"):
                assert param.compiled is not None
        else:
            # only composite/special parameters or ones without an expression are unsupported
            assert param.type in ("composite", "special") or not param.expression, code


@pytest.mark.parametrize("rtype", SUPPORTED_TYPES)
def test_every_supported_expression_evaluates_on_the_official_examples(
    rtype: str, examples_dir: Path
) -> None:
    examples = [json.loads(p.read_text()) for p in sorted(examples_dir.glob(f"{rtype}-*.json"))]
    examples = [e for e in examples if e.get("resourceType") == rtype]
    assert examples, rtype
    hits: dict[str, int] = {}
    for example in examples:
        for code, param in supported_params(rtype).items():
            if param.compiled is not None:
                hits[code] = hits.get(code, 0) + len(param.compiled.evaluate(example))
        extract(example)  # never raises on real data
    # the type's own parameters do find values in the examples
    own = {c: n for c, n in hits.items() if not c.startswith("_")}
    if rtype != "OperationOutcome":  # it has no parameters of its own
        assert sum(own.values()) > 0, hits


def test_fhirpath_subset_semantics() -> None:
    obs = {
        "resourceType": "Observation",
        "subject": {"reference": "Patient/1"},
        "focus": [{"reference": "Group/2"}],
        "valueQuantity": {"value": 3},
        "effectivePeriod": {"start": "2020"},
        "component": [{"valueCodeableConcept": {"text": "x"}}, {"valueQuantity": {"value": 1}}],
    }

    def ev(expression: str) -> list[Any]:
        return [n.value for n in compile_expression(expression).evaluate(obs)]

    assert ev("Observation.subject.where(resolve() is Patient)") == [{"reference": "Patient/1"}]
    assert ev("Observation.focus.where(resolve() is Patient)") == []
    assert ev("(Observation.value as Quantity)") == [{"value": 3}]
    assert ev("Observation.value.as(Period)") == []
    assert ev("(Observation.effective as Period) | (Observation.effective as dateTime)") == [
        {"start": "2020"}
    ]
    assert ev("(Observation.component.value as CodeableConcept).text") == ["x"]
    assert ev("Observation.component.value.ofType(Quantity)") == [{"value": 1}]
    assert ev("Observation.component[1].value") == [{"value": 1}]
    assert ev("Observation.subject.exists() and Observation.code.exists()") == [False]
    assert ev("Observation.status.empty()") == [True]
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "1"}],
    }
    assert [
        n.value["value"]
        for n in compile_expression("Patient.telecom.where(system='phone')").evaluate(patient)
    ] == ["1"]
    assert (
        compile_expression("Patient.deceased.exists() and Patient.deceased != false")
        .evaluate(patient)[0]
        .value
        is False
    )
    with pytest.raises(FhirPathSyntaxError):
        compile_expression("Patient.name.select(given)")
    with pytest.raises(FhirPathSyntaxError):
        compile_expression("Patient.name +")


def test_extract_observation_rows() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-01-10T10:00:00+08:00",
        "valueQuantity": {"value": 9.5, "system": "http://unitsofmeasure.org", "code": "kg"},
    }
    rows = extract(obs)
    assert {"param": "code", "system": "http://loinc.org", "code": "29463-7"} in rows.token
    assert rows.reference == [
        {"param": "subject", "target_type": "Patient", "target_id": "p1", "url": "Patient/p1"}
    ]  # ``patient`` is searched through these (no rows of its own)
    assert {
        "param": "date",
        "low": "2025-01-10T02:00:00.000000",
        "high": "2025-01-10T02:00:00.999999",
    } in rows.date
    assert {
        "param": "value-quantity",
        "value": 9.5,
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    } in rows.quantity


def test_union_parameters_are_found_in_the_definitions_and_get_no_rows() -> None:
    """Observation's four ``combo-*`` parameters are unions of two others each (R4 search
    parameter expressions), the only ones of any supported type; they get no index rows."""
    unions = {
        (rtype, code): p.union_of
        for rtype in SUPPORTED_TYPES
        for code, p in params_for(rtype).items()
        if p.union_of and p.restricted_to is None
    }
    assert unions == {
        ("Observation", "combo-code"): ("code", "component-code"),
        ("Observation", "combo-value-quantity"): ("component-value-quantity", "value-quantity"),
        ("Observation", "combo-value-concept"): ("component-value-concept", "value-concept"),
        ("Observation", "combo-data-absent-reason"): (
            "component-data-absent-reason",
            "data-absent-reason",
        ),
    }
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "code": "mm[Hg]"},
            }
        ],
    }
    for rows in (extract(obs), extract_interpreted(obs)):
        params = {r["param"] for r in [*rows.token, *rows.quantity]}
        assert {"code", "component-code", "component-value-quantity"} <= params
        assert not {p for p in params if p.startswith("combo-")}


def _restricted() -> dict[tuple[str, str], SearchParam]:
    return {
        (rtype, code): p
        for rtype in SUPPORTED_TYPES
        for code, p in params_for(rtype).items()
        if p.restricted_to is not None
    }


def test_restricted_reference_parameters_are_found_in_the_definitions_and_get_no_rows() -> None:
    """``X.where(resolve() is T)`` parameters are the rows of the parameters of ``X`` whose
    target is a ``T``: 13 of R4's 14 (EpisodeOfCare's ``care-manager`` has no parameter of
    its own ``careManager``); they get no index rows."""
    found = {k: (p.union_of, p.restricted_to) for k, p in _restricted().items()}
    assert len(found) == 13
    assert found[("Observation", "patient")] == (("subject",), "Patient")
    assert found[("Task", "patient")] == (("subject",), "Patient")  # Task.for
    assert found[("AuditEvent", "patient")] == (("agent", "entity"), "Patient")
    assert found[("Encounter", "practitioner")] == (("participant",), "Practitioner")
    assert ("EpisodeOfCare", "care-manager") not in found
    assert all(p.type == "reference" and not p.indexed for p in _restricted().values())
    flag = {
        "resourceType": "Flag",
        "status": "active",
        "code": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
    }
    for rows in (extract(flag), extract_interpreted(flag)):
        assert {r["param"] for r in rows.reference} == {"subject"}


@pytest.mark.parametrize("key", sorted(_restricted()), ids="-".join)
def test_restricted_parameters_match_their_expression_on_the_official_examples(
    key: tuple[str, str], examples_dir: Path
) -> None:
    """The rows a search on a restricted parameter reads (its parts' rows whose
    ``target_type`` is the named type) are the rows its own FHIRPath expression gives, for
    every official R4 example of the type — FHIRPath's ``resolve() is T`` and the index's
    ``target_type`` read a reference's type alike — plus hand-made edge cases (absolute,
    versioned, contained, logical and conditional references)."""
    rtype, code = key
    param = params_for(rtype)[code]
    assert param.compiled is not None
    examples = [json.loads(p.read_text()) for p in sorted(examples_dir.glob(f"{rtype}-*.json"))]
    examples = [e for e in examples if e.get("resourceType") == rtype]
    (part, *_) = param.union_of
    path = params_for(rtype)[part].expression or ""
    element = path.split(".")[1]  # subject, for, target, participant, agent ...
    named = param.restricted_to
    edge = [
        f"{named}/x1",
        f"https://other.example/fhir/{named}/x9",
        f"{named}/x1/_history/2",
        "Practitioner/d1/_history/2" if named == "Patient" else "Patient/p1/_history/2",
        "#contained",
        "urn:uuid:7f7ec2b1-0000-4000-8000-000000000001",
        "Patient?identifier=urn:x|1",
        "Group/g1",
    ]
    # where the Reference sits under the element (Encounter.participant.individual …)
    placed: dict[str, Callable[[dict[str, Any]], Any]] = {
        "participant": lambda ref: [{"individual": ref}],
        "agent": lambda ref: [{"who": ref}],
        "target": lambda ref: [ref],
    }
    place = placed.get(element, lambda ref: ref)
    for ref in edge:
        examples.append({"resourceType": rtype, element: place({"reference": ref})})
    examples.append({"resourceType": rtype, element: {"identifier": {"value": "v"}}})
    checked = 0
    for example in examples:
        own: list[dict[str, Any]] = []
        for node in param.compiled.evaluate(example):
            _reference_rows(code, node, own)
        read = [
            {**r, "param": code}
            for r in extract(example).reference
            if r["param"] in param.union_of and r["target_type"] == param.restricted_to
        ]
        assert _distinct_rows(read) == _distinct_rows(own), example.get("id")
        checked += bool(own)
    assert checked >= 3, key  # the edge cases alone name three of the type


@pytest.mark.parametrize("rtype", SUPPORTED_TYPES)
def test_compiled_extraction_equals_the_interpreter_on_the_official_examples(
    rtype: str, examples_dir: Path
) -> None:
    examples = [json.loads(p.read_text()) for p in sorted(examples_dir.glob(f"{rtype}-*.json"))]
    examples = [e for e in examples if e.get("resourceType") == rtype]
    assert examples, rtype
    for example in examples:
        expected = extract_interpreted(example)
        assert extract_walked(example) == expected, example.get("id")
        assert extract(example) == expected, example.get("id")
        assert extract(json.loads(json.dumps(example))) == expected, example.get("id")  # kept


@pytest.mark.parametrize(
    "resource",
    [
        # choice elements of several types, a reference to a non-Patient subject
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
            "subject": {"reference": "Group/g1"},
            "valueCodeableConcept": {"coding": [{"code": "x"}], "text": "Some Text"},
            "effectivePeriod": {"start": "2024-01-01", "end": "2024-02"},
            "component": [
                {"code": {"coding": [{"code": "c1"}]}, "valueQuantity": {"value": 1, "unit": "kg"}},
                {"code": {"text": "no coding"}, "valueString": "plain"},
            ],
        },
        # a Patient subject by absolute URL and by versioned reference
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "t"},
            "subject": {"reference": "http://example.org/fhir/Patient/p1/_history/2"},
            "valueQuantity": {"value": 3.5, "system": "http://unitsofmeasure.org", "code": "kg"},
            "effectiveDateTime": "2024-03-04T10:00:00+08:00",
            "meta": {"profile": ["http://example.org/p"], "tag": [{"code": "t1"}]},
        },
        # an element named like a choice prefix that is not one
        {
            "resourceType": "Patient",
            "name": [{"family": "王", "given": ["小明"]}],
            "birthDate": "2024-01-01",
            "deceasedBoolean": False,
            "managingOrganization": {"reference": "Organization/o1"},
        },
    ],
)
def test_compiled_extraction_equals_the_interpreter_on_edge_cases(
    resource: dict[str, Any],
) -> None:
    rows = extract(resource)
    assert rows == extract_interpreted(resource)
    assert any(rows.token)  # the case does produce rows to compare


def test_simple_paths_are_recognised_and_others_fall_back() -> None:
    assert compile_simple("Observation.subject.where(resolve() is Patient)") is not None
    assert compile_simple("(Observation.value as Quantity) | Observation.component.code")
    assert compile_simple("(Observation.value as CodeableConcept).text") is not None
    assert compile_simple("Patient.name.first()") is None
    assert compile_simple("Patient.deceased.exists() and Patient.deceased != false") is None


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "resourceType" for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


@pytest.fixture(scope="module")
def official_examples(examples_dir: Path) -> list[dict[str, Any]]:
    out = []
    for rtype in SUPPORTED_TYPES:
        for path in sorted(examples_dir.glob(f"{rtype}-*.json")):
            if path.stat().st_size < 200_000:
                data = json.loads(path.read_text())
                if data.get("resourceType") == rtype:
                    out.append(data)
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_extraction_from_kept_locations_follows_the_values(
    official_examples: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Same structure, other values (references to other types, other dates, codes): the
    locations kept from the first resource of the structure give the interpreter's rows."""
    import copy

    example = data.draw(st.sampled_from(official_examples))
    extract(example)  # its structure's locations are kept from here on
    changed = copy.deepcopy(example)
    for path in data.draw(st.lists(st.sampled_from(_leaves(example) or [()]), max_size=4)):
        if not path:
            continue
        node: Any = changed
        for step in path[:-1]:
            node = node[step]
        old = node[path[-1]]
        if isinstance(old, str):
            node[path[-1]] = data.draw(
                st.sampled_from(
                    ["Patient/p9", "Group/g1", "urn:uuid:x", "2024-02-29", "2024", "x", ""]
                )
            )
        elif isinstance(old, bool):
            node[path[-1]] = not old
        elif isinstance(old, int | float):
            node[path[-1]] = data.draw(st.integers(-5, 5))
    assert extract(changed) == extract_interpreted(changed)
