"""FHIR R4 on the server: the supported types, the door (:func:`validate`, the base-R4
validator of :mod:`healthbridge.fhir.base_validation`) and the one import site of
``fhir.resources``, kept as a reference model for tests (:func:`validate_model`,
:func:`round_trip`).

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

from healthbridge.errors import Issue, MethodNotAllowedError, UnprocessableError

#: Resource types the server stores and serves (ARCHITECTURE.md, issue 3).
SUPPORTED_TYPES: tuple[str, ...] = (
    "AuditEvent",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "Communication",
    "Composition",  # a centre's weekly menu (带量食谱; hb-weekly-menu)
    "Condition",
    "Consent",
    "Encounter",
    "EpisodeOfCare",
    "Flag",
    "Immunization",
    "ImmunizationRecommendation",
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
    "Subscription",
    "Task",
)

#: Supported types a client cannot create or update (read/search only): OperationOutcome and
#: CapabilityStatement describe the server's own answers, and a Bundle is a message to the
#: server (POST it to the base as a batch/transaction), not a record (HAPI and Medplum refuse
#: them likewise). Stored ones can still be read and deleted.
NOT_WRITABLE_TYPES: frozenset[str] = frozenset(
    {"Bundle", "CapabilityStatement", "OperationOutcome"}
)


def is_writable(resource_type: str) -> bool:
    """Whether clients may create/update resources of ``resource_type``."""
    return is_supported(resource_type) and resource_type not in NOT_WRITABLE_TYPES


def check_writable(resource_type: str) -> None:
    """405 for a client's create/update of a type in :data:`NOT_WRITABLE_TYPES` (the API and
    Bundle entries call this; the server's own writes are not client input)."""
    if resource_type in NOT_WRITABLE_TYPES:
        hint = (
            " (POST a batch or transaction Bundle to the base URL instead)"
            if resource_type == "Bundle"
            else ""
        )
        raise MethodNotAllowedError(
            f"{resource_type} resources cannot be created or updated through the API{hint}"
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


def warm_up() -> None:
    """Compile the validator's rules of every supported type now (they compile on first use
    otherwise): a server calls this at start-up, before freezing the collector's
    generations."""
    from healthbridge.fhir.base_validation import warm_up as compile_rules

    compile_rules()


def validate_model(resource: dict[str, Any]) -> Any:
    """Validate ``resource`` with the ``fhir.resources`` model itself and return the model
    instance: the reference :func:`validate` agrees with. Raises
    :class:`~healthbridge.errors.UnprocessableError` listing every structural issue."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not is_supported(resource_type):
        raise UnprocessableError(f"Unsupported or missing resourceType: {resource_type!r}")
    try:
        return _model(resource_type).model_validate(resource)
    except ValidationError as exc:
        issues = _issues_from(exc, resource_type)
        raise UnprocessableError(issues[0].diagnostics, issues=issues) from exc
    except (ValueError, TypeError) as exc:  # fhir_core raises plain errors for some shapes
        raise UnprocessableError(f"{resource_type}: {exc}") from exc
    except AttributeError as exc:
        # fhir_core's ``url`` validator calls str methods on a value that failed the string
        # check (e.g. ``Attachment.url: 1``)
        raise UnprocessableError(
            f"{resource_type}: a url element holds a value that is not a JSON string ({exc})"
        ) from exc


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate ``resource`` against the base R4 (4.0.1) definitions: the server's door.

    Returns the same JSON object (not a re-serialisation). Raises
    :class:`~healthbridge.errors.UnprocessableError` listing every issue with its FHIRPath
    location (:func:`healthbridge.fhir.base_validation.validate_base`, driven by the official
    StructureDefinitions, ValueSets and CodeSystems). The ``fhir.resources`` model
    (:func:`validate_model`) is no longer the door: it skips required bindings, ele-1 and
    ext-1, and it is R4B.
    """
    from healthbridge.fhir.base_validation import validate_base

    resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(resource_type, str) or not is_supported(resource_type):
        raise UnprocessableError(f"Unsupported or missing resourceType: {resource_type!r}")
    found = validate_base(resource)
    if found:
        issues = [
            Issue(v.severity, v.code, f"{v.expression}: {v.diagnostics}", (v.expression,))
            for v in found
        ]
        raise UnprocessableError(issues[0].diagnostics, issues=issues)
    return resource


#: Resources with more primitives than this are not worth a per-shape cache (the search-index
#: extraction's shape memo, :mod:`healthbridge.fhir.searchparams`).
MAX_SHAPE_LEAVES = 500


def shape(value: Any, leaves: list[Any]) -> Any:
    """The *shape* of a JSON value: its structure (object keys in order, array lengths,
    ``resourceType`` values) with every other primitive replaced by its JSON type; those
    primitives are appended to ``leaves`` in document order."""
    if type(value) is dict:
        parts: list[Any] = ["d"]
        for k, v in value.items():
            if k == "resourceType" and type(v) is str:
                parts.append((k, ("=", v)))
            else:
                parts.append((k, shape(v, leaves)))
        return tuple(parts)
    if type(value) is list:
        return ("l", *[shape(v, leaves) for v in value])
    leaves.append(value)
    return type(value)


def round_trip(resource: dict[str, Any]) -> dict[str, Any]:
    """Parse ``resource`` with the model and serialise it back (used by compatibility tests)."""
    model = _model(str(resource["resourceType"])).model_validate(resource)
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out
