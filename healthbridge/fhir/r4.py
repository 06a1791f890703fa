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

from healthbridge.errors import Issue, MethodNotAllowedError, UnprocessableError

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
    """Load the models of every supported type now (they load on first use otherwise): a
    server calls this at start-up, before freezing the collector's generations."""
    for resource_type in SUPPORTED_TYPES:
        _model(resource_type)


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
    """Validate ``resource`` against the base R4 (R4B model) definition.

    Returns the same JSON object (not a re-serialisation). Raises
    :class:`~healthbridge.errors.UnprocessableError` listing every structural issue.

    The verdict is the model's (:func:`validate_model`), reached faster for resources shaped
    like one validated before — see :class:`_ShapePlan`: a transaction Bundle of 1,000 growth
    Observations holds a handful of shapes, and the model's own per-element Python
    validators cost ~0.2 ms per resource.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not is_supported(resource_type):
        raise UnprocessableError(f"Unsupported or missing resourceType: {resource_type!r}")
    leaves: list[Any] = []
    try:
        key = shape(resource, leaves)
    except RecursionError:
        validate_model(resource)
        return resource
    if len(leaves) > MAX_SHAPE_LEAVES:  # large resources are rare: not worth keeping
        validate_model(resource)
        return resource
    plan = _PLANS.get(key)
    if plan is None:
        model = validate_model(resource)  # raises when invalid: invalid shapes are not kept
        if len(_PLANS) >= _MAX_SHAPES:
            _PLANS.clear()
        _PLANS[key] = _ShapePlan.build(resource, model)
        return resource
    if not plan.accepts(leaves):
        validate_model(resource)  # the model's verdict and issues
    return resource


#: Shapes remembered (the cache is emptied when it grows past this). With at most
#: :data:`MAX_SHAPE_LEAVES` primitives a shape is at most some tens of kB, which bounds the
#: memory a client sending ever new structures can make the server hold.
_MAX_SHAPES = 1024
#: Resources with more primitives than this are validated by the model every time.
MAX_SHAPE_LEAVES = 500
#: Distinct valid values remembered per element (then that element's memo is emptied).
_MAX_VALUES = 20_000
#: Longer strings are checked every time instead of being remembered.
_MAX_VALUE_LENGTH = 256


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


class _Group:
    """The primitive value(s) of one model field in one shape: a run of ``leaves``."""

    __slots__ = ("adapter", "many", "memo", "start", "stop")

    def __init__(self, adapter: Any, memo: dict[Any, bool], start: int, stop: int, many: bool):
        self.adapter = adapter
        self.memo = memo
        self.start = start
        self.stop = stop
        self.many = many


class _ShapePlan:
    """How to check a resource of a known shape without the model.

    Why this equals the model's verdict: with ``extra="forbid"`` and fhir_core's validators,
    whether a JSON object validates depends on (a) its keys, nesting, array lengths, JSON
    types, nulls and ``resourceType`` values — what :func:`shape` keeps; fhir_core's model
    validators (nulls in complex lists, required primitives with their ``_x`` extensions,
    one ``value[x]`` of a choice, the primitive-extension rule, the resource type check) look
    only at these — and (b) each primitive element's value checked on its own by the field's
    type (its FHIR primitive type: pattern, length, number form). The first resource of a
    shape goes through the model; its validated instance tells which field each primitive
    belongs to, and the field's type becomes a ``TypeAdapter`` (pydantic's own validator of
    that annotation). A later resource of the same shape is valid iff each run of primitives
    passes its field's adapter; any failure goes back to the model for its verdict and issues.
    ``tests/healthbridge/fhir/test_r4.py`` checks the equivalence on every official R4 example
    and on random corruptions of them. Shapes the walk cannot map exactly (an element named
    both by its alias and its field name, keys outside the model) always use the model.
    """

    __slots__ = ("groups",)

    def __init__(self, groups: tuple[_Group, ...] | None) -> None:
        self.groups = groups

    @classmethod
    def build(cls, resource: dict[str, Any], model: Any) -> _ShapePlan:
        groups: list[_Group] = []
        try:
            _map_object(resource, model, groups, [0])
        except _UnmappedError:
            return cls(None)
        return cls(tuple(groups))

    def accepts(self, leaves: list[Any]) -> bool:
        groups = self.groups
        if groups is None:
            return False
        for g in groups:
            if g.many:
                value: Any = leaves[g.start : g.stop]
                key: Any = tuple((type(v), v) for v in value)
                short = all(type(v) is not str or len(v) <= _MAX_VALUE_LENGTH for v in value)
            else:
                value = leaves[g.start]
                key = (type(value), value)
                short = type(value) is not str or len(value) <= _MAX_VALUE_LENGTH
            memo = g.memo
            if key in memo:
                continue
            try:
                g.adapter.validate_python(value)
            except (ValidationError, ValueError, TypeError, AttributeError):
                return False
            if short:
                if len(memo) >= _MAX_VALUES:
                    memo.clear()
                memo[key] = True
        return True


class _UnmappedError(Exception):
    """The shape cannot be mapped to model fields exactly (the model always decides)."""


@cache
def _fields(model_class: type) -> dict[str, str]:
    """Element name (alias) or field name → field name, as pydantic accepts them
    (``populate_by_name``)."""
    out: dict[str, str] = {}
    for name, info in model_class.model_fields.items():  # type: ignore[attr-defined]
        out[name] = name
        if info.alias:
            out[info.alias] = name
    return out


_ADAPTERS: dict[tuple[type, str], tuple[Any, dict[Any, bool]]] = {}


def _adapter(model_class: type, name: str) -> tuple[Any, dict[Any, bool]]:
    found = _ADAPTERS.get((model_class, name))
    if found is None:
        from pydantic import TypeAdapter

        info = model_class.model_fields[name]  # type: ignore[attr-defined]
        found = (TypeAdapter(info.rebuild_annotation()), {})
        _ADAPTERS[(model_class, name)] = found
    return found


def _map_object(data: dict[str, Any], model: Any, groups: list[_Group], pos: list[int]) -> None:
    """Walk ``data`` in :func:`shape`'s order beside its validated ``model`` instance."""
    from pydantic import BaseModel

    if not isinstance(model, BaseModel):
        raise _UnmappedError
    cls_ = type(model)
    names = _fields(cls_)
    used: set[str] = set()
    for key, value in data.items():
        if key == "resourceType" and type(value) is str:
            continue
        name = names.get(key)
        if name is None or name in used:
            raise _UnmappedError
        used.add(name)
        sub = getattr(model, name, None)
        if type(value) is dict:
            _map_object(value, sub, groups, pos)
        elif type(value) is list:
            if all(type(v) is dict for v in value):
                if not isinstance(sub, list) or len(sub) != len(value):
                    raise _UnmappedError
                for item, item_model in zip(value, sub, strict=True):
                    _map_object(item, item_model, groups, pos)
            elif any(type(v) in (dict, list) for v in value):
                raise _UnmappedError
            else:
                adapter, memo = _adapter(cls_, name)
                groups.append(_Group(adapter, memo, pos[0], pos[0] + len(value), True))
                pos[0] += len(value)
        else:
            adapter, memo = _adapter(cls_, name)
            groups.append(_Group(adapter, memo, pos[0], pos[0] + 1, False))
            pos[0] += 1


_PLANS: dict[Any, _ShapePlan] = {}


def round_trip(resource: dict[str, Any]) -> dict[str, Any]:
    """Parse ``resource`` with the model and serialise it back (used by compatibility tests)."""
    model = _model(str(resource["resourceType"])).model_validate(resource)
    out: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out
