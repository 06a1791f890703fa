"""``r4.validate`` (shape plans) gives the model's verdict (``r4.validate_model``).

The first resource of a shape goes through the model; later ones of that shape are checked
element by element with the fields' own pydantic validators. These tests change primitive
values of official R4 examples and of a growth Observation — keeping the shape, so the plan
decides, and changing it, so the model decides — and require the same verdict every time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthbridge.errors import UnprocessableError
from healthbridge.fhir import r4
from healthbridge.fhir.r4 import SUPPORTED_TYPES
from tests import factories as f

#: Strings of other FHIR primitive types, invalid ones and edge cases.
STRINGS = (
    "",
    " ",
    "final",
    " final",
    "final ",
    "a  b",
    "x\ty",
    "2025-03-01",
    "2025-13-01",
    "2025-03-01T10:00:00Z",
    "2025-03-01T10:00:00",
    "2025",
    "http://loinc.org",
    "urn:uuid:0c2f7b3e-0d4e-4c7c-9d7e-3f2c8f2b8a11",
    "Patient/1",
    "id with spaces",
    "a" * 65,
    "1.5",
    "-0",
    "true",
    "宝宝",
    "\u0000",
)
NUMBERS: tuple[Any, ...] = (0, 1, -1, 2**40, 1.5, -0.0, 1e300, True, False)
MAX_EXAMPLE_BYTES = 200_000


def verdict(resource: dict[str, Any], *, fast: bool) -> bool:
    try:
        if fast:
            r4.validate(resource)
        else:
            r4.validate_model(resource)
    except UnprocessableError:
        return False
    return True


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k != "resourceType":
                yield from _leaf_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaf_paths(v, (*path, i))
    else:
        yield path


def _replace(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def _same_kind(old: Any) -> tuple[Any, ...]:
    if isinstance(old, str):
        return STRINGS
    if isinstance(old, bool):
        return (True, False)
    if isinstance(old, int | float):
        return tuple(n for n in NUMBERS if not isinstance(n, bool))
    return ("x", 1, None)


def test_growth_observation_every_element_every_value() -> None:
    """Each primitive of a growth Observation replaced by values of its JSON type (the plan
    decides) and of other types (the model decides)."""
    base = f.observation("Patient/p1")
    base["identifier"] = [{"system": "http://example.org/sid", "value": "v1"}]
    base["performer"] = [{"reference": "Practitioner/1", "display": "李医生"}]
    base["_status"] = {"extension": [{"url": "http://example.org/x", "valueBoolean": True}]}
    assert verdict(base, fast=True)
    assert verdict(base, fast=False)
    checked = 0
    for path in _leaf_paths(base):
        old: Any = base
        for step in path:
            old = old[step]
        for value in (*_same_kind(old), None, [], {}, ["x"], 3, "x"):
            changed = _replace(base, path, value)
            # the fast verdict twice: once as the first of its shape, once from the plan
            expected = verdict(changed, fast=False)
            assert verdict(changed, fast=True) == expected, (path, value)
            assert verdict(changed, fast=True) == expected, (path, value)
            checked += 1
    assert checked > 300


def _examples(examples_dir: Path) -> list[dict[str, Any]]:
    out = []
    for rtype in SUPPORTED_TYPES:
        for path in sorted(examples_dir.glob(f"{rtype}-*.json")):
            if path.stat().st_size > MAX_EXAMPLE_BYTES:
                continue
            data = json.loads(path.read_text())
            if data.get("resourceType") == rtype:
                out.append(data)
    return out


def test_official_examples_same_verdict_first_and_from_the_plan(examples_dir: Path) -> None:
    examples = _examples(examples_dir)
    assert len(examples) > 100
    for data in examples:
        expected = verdict(data, fast=False)
        assert verdict(data, fast=True) == expected
        assert verdict(copy.deepcopy(data), fast=True) == expected


@pytest.fixture(scope="module")
def official(examples_dir: Path) -> list[dict[str, Any]]:
    return _examples(examples_dir)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupted_official_examples_same_verdict(
    official: list[dict[str, Any]], data: st.DataObject
) -> None:
    example = data.draw(st.sampled_from(official))
    paths = list(_leaf_paths(example))
    if not paths:
        return
    path = data.draw(st.sampled_from(paths))
    old: Any = example
    for step in path:
        old = old[step]
    value = data.draw(
        st.one_of(
            st.sampled_from(_same_kind(old)),
            st.text(max_size=12),
            st.integers(),
            st.floats(allow_nan=False),
            st.none(),
        )
    )
    verdict(example, fast=True)  # the example's own shape is known from here on
    changed = _replace(example, path, value)
    expected = verdict(changed, fast=False)
    assert verdict(changed, fast=True) == expected
    assert verdict(changed, fast=True) == expected


@pytest.mark.parametrize("url", [1, 1.5, [1], {"a": 1}, True])
def test_non_string_url_element_is_unprocessable_not_a_crash(url: Any) -> None:
    """``Attachment.url`` is of type url; fhir_core's url validator raised AttributeError on a
    number (a 500 over HTTP, and the nondeterministic failure of the property test above)."""
    patient = {"resourceType": "Patient", "photo": [{"contentType": "image/png", "url": url}]}
    for _ in range(2):  # first of its shape (the model), then from the plan
        with pytest.raises(UnprocessableError):
            r4.validate(copy.deepcopy(patient))
    with pytest.raises(UnprocessableError):
        r4.validate_model(patient)
    patient["photo"][0]["url"] = "https://example.org/p.png"
    r4.validate(patient)


def test_invalid_resources_report_the_models_issues() -> None:
    good = f.observation("Patient/p1")
    r4.validate(good)
    bad = {**good, "status": "final "}
    with pytest.raises(UnprocessableError) as fast:
        r4.validate(bad)
    with pytest.raises(UnprocessableError) as model:
        r4.validate_model(bad)
    assert fast.value.issues == model.value.issues
