"""FHIR R4 resource models: the one import site of ``fhir.resources``.

``fhir.resources`` ships no R4 (4.0.1) package since version 7; its ``R4B`` (4.3.0) models are
used instead. R4B is wire-compatible with R4 for the resource types we accept except where
noted in :data:`R4_R4B_DIFFERENCES`; ``tests/healthbridge/fhir/test_r4.py`` validates every
official R4 example of each supported type with these models and checks the round trip.

The stored record is the JSON as received (after validation), not the model's re-serialisation,
so R4-only details the R4B models would drop never get lost.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import ValidationError

from healthbridge.errors import Issue, UnprocessableError

#: Resource types the server stores and serves (ARCHITECTURE.md, issue 3).
SUPPORTED_TYPES: tuple[str, ...] = (
    "AuditEvent",
    "Bundle",
    "CapabilityStatement",
    "Condition",
    "Consent",
    "Encounter",
    "Flag",
    "Immunization",
    "Location",
    "Observation",
    "OperationOutcome",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "ServiceRequest",
    "Task",
)

#: Known R4 → R4B differences for our types and how they are handled (see docs/fhir_server.md).
#: Keys are resource types; values describe the difference. The examples test proves that
#: every official R4 example of each type still validates.
R4_R4B_DIFFERENCES: dict[str, str] = {
    "CapabilityStatement": (
        "R4B adds CapabilityStatement.implementation.url semantics and the 'instantiates' "
        "wording; no R4 element was removed, so R4 documents validate unchanged."
    ),
    "Questionnaire": (
        "R4B widens some value sets (item.type, answerConstraint is R5 only); R4 content "
        "validates unchanged."
    ),
}


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


_SUPPORTED = frozenset(SUPPORTED_TYPES)


def is_supported(resource_type: str) -> bool:
    """Whether ``resource_type`` is one of :data:`SUPPORTED_TYPES`."""
    return resource_type in _SUPPORTED


def _issues_from(error: ValidationError, resource_type: str) -> list[Issue]:
    issues: list[Issue] = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        path = f"{resource_type}.{loc}" if loc else resource_type
        issues.append(Issue("error", "structure", f"{path}: {err.get('msg', 'invalid')}", (path,)))
    return issues or [Issue("error", "structure", str(error))]


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate ``resource`` against the base R4 (R4B model) definition.

    Returns the same JSON object (not a re-serialisation). Raises
    :class:`~healthbridge.errors.UnprocessableError` listing every structural issue.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not is_supported(resource_type):
        raise UnprocessableError(f"Unsupported or missing resourceType: {resource_type!r}")
    try:
        _model(resource_type).model_validate(resource)
    except ValidationError as exc:
        issues = _issues_from(exc, resource_type)
        raise UnprocessableError(issues[0].diagnostics, issues=issues) from exc
    except (ValueError, TypeError) as exc:  # fhir_core raises plain errors for some shapes
        raise UnprocessableError(f"{resource_type}: {exc}") from exc
    return resource


def round_trip(resource: dict[str, Any]) -> dict[str, Any]:
    """Parse ``resource`` with the model and serialise it back (used by compatibility tests)."""
    model = _model(str(resource["resourceType"])).model_validate(resource)
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out
