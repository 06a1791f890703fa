"""District endpoints behind the real access layer: tokens decide who gets aggregates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_reports_with_real_tokens(client_as: Callable[..., Any]) -> None:
    official = client_as("district-official", user="official-1")
    got = official.request("GET", "/reports/prevalence")
    assert got.status_code == 200, got.text
    parent = client_as("parent", user="p", fhir_user="RelatedPerson/nobody")
    refused = parent.request("GET", "/reports/prevalence")
    assert refused.status_code in (401, 403)
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_reports_without_a_token_are_401(client_as: Callable[..., Any]) -> None:
    anonymous = client_as("system")
    anonymous.headers = {}
    got = anonymous.request("GET", "/reports/coverage")
    assert got.status_code == 401
    assert got.headers["www-authenticate"].startswith("Bearer")
