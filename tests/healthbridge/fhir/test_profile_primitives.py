from __future__ import annotations

from typing import Any

import pytest

from healthbridge.fhir.profile_primitives import primitive_problem


@pytest.mark.parametrize(
    ("tcode", "value"),
    [
        ("date", "2025"),
        ("date", "2025-06"),
        ("date", "2025-06-03"),
        ("dateTime", "2025-06-03T09:30:00+08:00"),
        ("dateTime", "2025-06-03T01:30:00.123Z"),
        ("instant", "2025-06-03T01:30:00Z"),
        ("time", "23:59:60"),
        ("boolean", False),
        ("integer", -3),
        ("positiveInt", 1),
        ("unsignedInt", 0),
        ("decimal", 0.5),
        ("decimal", 7),
        ("code", "kg/m2"),
        ("id", "child-1"),
        ("uri", "http://loinc.org"),
        ("Quantity", "not checked here"),
    ],
)
def test_valid_values(tcode: str, value: Any) -> None:
    assert primitive_problem(tcode, value) is None


@pytest.mark.parametrize(
    ("tcode", "value", "code"),
    [
        ("date", "2025/06/03", "value"),
        ("date", "2025-13-01", "value"),
        ("dateTime", "2025-06-03T09:30", "value"),  # a time needs seconds and a zone
        ("dateTime", "2025-06-03T09:30:00", "value"),
        ("instant", "2025-06-03", "value"),
        ("boolean", "true", "structure"),
        ("integer", True, "structure"),
        ("integer", 1.5, "structure"),
        ("positiveInt", 0, "value"),
        ("unsignedInt", -1, "value"),
        ("decimal", "1.0", "structure"),
        ("code", " kg", "value"),
        ("id", "x" * 65, "value"),
        ("string", 3, "structure"),
    ],
)
def test_invalid_values(tcode: str, value: Any, code: str) -> None:
    problem = primitive_problem(tcode, value)
    assert problem is not None
    assert problem[0] == code
