"""Custom FHIR operations (``$name``) at system, type and instance level.

Register with :meth:`OperationRegistry.register`; the router dispatches ``GET``/``POST``
``[base]/$name``, ``[base]/[type]/$name`` and ``[base]/[type]/[id]/$name`` to the handler with
parameters parsed once, the same way for every operation (query string for GET, a
``Parameters`` resource or the resource itself for POST; http://hl7.org/fhir/R4/operations.html).

The registry sits below the API so that the pipeline (:mod:`healthbridge.pipeline.install`)
registers its operations as the API does (:mod:`healthbridge.api.default_operations`); the
generic ``Patient/$everything`` lives here, as the pages use it too (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.responses import Response

from healthbridge.errors import BadRequestError, MethodNotAllowedError, NotFoundError
from healthbridge.fhir.query import MAX_INT
from healthbridge.store.repository import Transaction

Level = Literal["system", "type", "instance"]


@dataclass
class OperationCall:
    """Everything an operation handler gets."""

    name: str
    level: Level
    resource_type: str | None
    resource_id: str | None
    parameters: list[tuple[str, Any]]
    body: dict[str, Any] | None
    txn: Transaction
    base_url: str
    method: str

    def get(self, name: str) -> Any | None:
        """The first value of parameter ``name`` (None if absent)."""
        return next((v for k, v in self.parameters if k == name), None)

    def get_all(self, name: str) -> list[Any]:
        """All values of parameter ``name``."""
        return [v for k, v in self.parameters if k == name]


#: ``handler(call) -> resource JSON (dict) or a ready Response (images, PDFs)``.
OperationHandler = Callable[[OperationCall], "dict[str, Any] | Response"]


@dataclass(frozen=True)
class OperationDefinition:
    """A registered operation."""

    name: str
    handler: OperationHandler
    levels: frozenset[Level]
    resource_types: frozenset[str] | None  # None: any type
    affects_state: bool = False
    description: str = ""
    definition_url: str | None = None


@dataclass
class OperationRegistry:
    """The operations of one application."""

    _ops: dict[str, OperationDefinition] = field(default_factory=dict)

    def register(
        self,
        name: str,
        handler: OperationHandler,
        *,
        levels: set[Level] | frozenset[Level],
        resource_types: set[str] | frozenset[str] | None = None,
        affects_state: bool = False,
        description: str = "",
        definition_url: str | None = None,
    ) -> None:
        """Register ``$name`` (without the ``$``)."""
        name = name.lstrip("$")
        if name in self._ops:
            raise ValueError(f"operation ${name} already registered")
        self._ops[name] = OperationDefinition(
            name,
            handler,
            frozenset(levels),
            frozenset(resource_types) if resource_types is not None else None,
            affects_state,
            description,
            definition_url,
        )

    def all(self) -> list[OperationDefinition]:
        """Registered operations, by name."""
        return [self._ops[k] for k in sorted(self._ops)]

    def find(
        self, name: str, level: Level, resource_type: str | None, method: str
    ) -> OperationDefinition:
        """The operation for a request; :class:`NotFoundError` or :class:`MethodNotAllowedError`."""
        op = self._ops.get(name.lstrip("$"))
        if op is None or level not in op.levels:
            raise NotFoundError(f"Unknown operation {name} at {level} level")
        if op.resource_types is not None and resource_type not in op.resource_types:
            raise NotFoundError(f"Operation {name} is not defined for {resource_type}")
        if op.affects_state and method == "GET":
            raise MethodNotAllowedError(f"Operation {name} changes state; use POST")
        return op


def parameters_from_body(body: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Flatten a ``Parameters`` resource into (name, value) pairs (value[x] or resource)."""
    if body is None:
        return []
    if body.get("resourceType") != "Parameters":
        return [("resource", body)]
    out: list[tuple[str, Any]] = []
    for p in body.get("parameter", []):
        if not isinstance(p, dict) or "name" not in p:
            raise BadRequestError("Invalid Parameters.parameter")
        if "resource" in p:
            out.append((p["name"], p["resource"]))
            continue
        values = [v for k, v in p.items() if k.startswith("value")]
        out.append((p["name"], values[0] if values else p.get("part")))
    return out


def everything(call: OperationCall) -> dict[str, Any]:
    """``Patient/[id]/$everything`` (patient-operation-everything): the patient compartment
    and the resources it refers to, as a searchset Bundle. ``_type`` limits the types."""
    assert call.resource_id is not None
    types_raw = call.get_all("_type")
    types = {t for v in types_raw for t in str(v).split(",") if t} or None
    raw_count, raw_offset = call.get("_count"), call.get("_offset")
    page = None
    if raw_count is not None or raw_offset is not None:
        count = (
            min(_page_int("_count", raw_count), call.txn.max_count)
            if raw_count is not None
            else call.txn.default_count
        )
        offset = _page_int("_offset", raw_offset) if raw_offset is not None else 0
        page = (offset, count)
    items = call.txn.everything(call.resource_id, types=types, page=page)
    entries = [
        {
            "fullUrl": f"{call.base_url}/{s.reference}",
            "resource": s.resource,
            "search": {"mode": "match"},
        }
        for s in items
    ]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(entries)}
    if page is not None:
        offset, count = page
        total = int(call.txn.attributes.pop("everything_total", len(entries)))
        bundle["total"] = total
        kept = [(k, str(v)) for k, v in call.parameters if k in ("_type", "_count")]
        if raw_count is None:
            kept.append(("_count", str(count)))

        def link(at: int) -> str:
            query = urlencode([*kept, ("_offset", str(at))])
            return f"{call.base_url}/Patient/{call.resource_id}/$everything?{query}"

        links = [{"relation": "self", "url": link(offset)}]
        if count > 0 and offset + count < total:
            links.append({"relation": "next", "url": link(offset + count)})
        if offset > 0:
            links.append({"relation": "previous", "url": link(max(0, offset - count))})
        bundle["link"] = links
    bundle["entry"] = entries
    return bundle


def _page_int(name: str, raw: Any) -> int:
    """A paging parameter of ``$everything`` (a non-negative integer; 400 otherwise)."""
    try:
        value = int(str(raw))
    except ValueError:
        raise BadRequestError(f"{name} must be an integer, got {raw!r}") from None
    if not 0 <= value <= MAX_INT:
        raise BadRequestError(f"{name} must be between 0 and {MAX_INT}")
    return value
