"""SMART v2 scope parsing and checks."""

from __future__ import annotations

import pytest

from healthbridge.access.errors import InvalidScopeError
from healthbridge.access.scopes import Context, Permission, granted, parse_scope, parse_scopes


def test_v2_scope() -> None:
    scope = parse_scope("patient/Observation.rs")
    assert scope.context is Context.PATIENT
    assert scope.resource_type == "Observation"
    assert scope.permissions == {Permission.READ, Permission.SEARCH}


@pytest.mark.parametrize(("v1", "letters"), [("read", "rs"), ("write", "cud"), ("*", "cruds")])
def test_v1_suffixes(v1: str, letters: str) -> None:
    scope = parse_scope(f"user/Patient.{v1}")
    assert scope.permissions == {Permission(ch) for ch in letters}


@pytest.mark.parametrize(
    "bad",
    [
        "patient/Observation.sr",
        "patient/Observation.rr",
        "clinic/Patient.r",
        "patient/observation.r",
        "patient/Observation.x",
        "patient/Observation.rs?category=lab",
        "patient/Observation.",
    ],
)
def test_malformed_scopes_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidScopeError):
        parse_scope(bad)


def test_non_clinical_scopes_are_skipped_and_wildcards_cover_all_types() -> None:
    scopes = parse_scopes("openid fhirUser launch/patient user/*.rs offline_access")
    assert len(scopes) == 1
    assert granted(scopes, "Immunization", Permission.READ)
    assert granted(scopes, "Immunization", Permission.SEARCH)
    assert not granted(scopes, "Immunization", Permission.UPDATE)


def test_list_form() -> None:
    scopes = parse_scopes(["system/Patient.cruds", "system/Observation.r"])
    assert granted(scopes, "Patient", Permission.DELETE)
    assert not granted(scopes, "Observation", Permission.SEARCH)
