"""Parse FHIR search parameters (http://hl7.org/fhir/R4/search.html) into a typed query.

Only the store turns a :class:`SearchQuery` into SQL; this module knows the FHIR syntax:
modifiers, prefixes, chaining one level, result parameters. Unknown or unsupported parameters
raise :class:`~healthbridge.errors.UnknownSearchParameterError` (strict handling) or are reported
in :attr:`SearchQuery.ignored` (``Prefer: handling=lenient``), never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from healthbridge.errors import BadRequestError, UnknownSearchParameterError
from healthbridge.fhir.r4 import is_supported
from healthbridge.fhir.searchparams import SearchParam, params_for, supported_params

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
#: Modifiers accepted per parameter type (others are rejected with 400).
MODIFIERS: dict[str, frozenset[str]] = {
    "token": frozenset({"missing", "not"}),
    "string": frozenset({"missing", "exact", "contains"}),
    "date": frozenset({"missing"}),
    "reference": frozenset({"missing"}),  # plus ":[Type]"
    "quantity": frozenset({"missing"}),
    "number": frozenset({"missing"}),
    "uri": frozenset({"missing"}),
}
RESULT_PARAMS = frozenset(
    {
        "_count",
        "_offset",
        "_sort",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_total",
        "_format",
        "_pretty",
    }
)
SUMMARY_MODES = frozenset({"count", "false", "data"})


@dataclass(frozen=True)
class Chain:
    """``ref[:Type].child``: the referenced resource must match ``child``."""

    target_types: tuple[str, ...]
    param_by_type: dict[str, SearchParam]


@dataclass(frozen=True)
class Filter:
    """One search parameter occurrence: its values are ORed; occurrences are ANDed."""

    param: SearchParam
    modifier: str | None
    values: tuple[str, ...]
    chain: Chain | None = None
    target_type: str | None = None  # reference ":Type" modifier


@dataclass(frozen=True)
class Include:
    """``_include=Source:param[:Target]`` or ``_revinclude`` of the same form."""

    source_type: str
    param: SearchParam | None  # None: ``*`` (every reference parameter)
    target_type: str | None


@dataclass
class SearchQuery:
    """A parsed search."""

    resource_type: str
    filters: list[Filter] = field(default_factory=list)
    sort: list[tuple[SearchParam, bool]] = field(default_factory=list)  # (param, descending)
    count: int = 20
    offset: int = 0
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    summary: str = "false"
    elements: tuple[str, ...] = ()
    #: ``_total`` (http://hl7.org/fhir/R4/search.html#total): "none" spares the count query
    #: (a Bundle without ``total``); "estimate" is answered accurately
    total: str = "accurate"
    ignored: list[str] = field(default_factory=list)
    #: the parameters as given, minus paging (used to build links)
    echo: list[tuple[str, str]] = field(default_factory=list)


def split_values(raw: str) -> tuple[str, ...]:
    """Split an OR list on unescaped commas (``\\,`` is a literal comma)."""
    out: list[str] = []
    current = ""
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            current += raw[i + 1]
            i += 2
            continue
        if ch == ",":
            out.append(current)
            current = ""
        else:
            current += ch
        i += 1
    out.append(current)
    return tuple(out)


#: Largest accepted ``_count`` / ``_offset``.
MAX_INT = 2**31 - 1


def _int(name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequestError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise BadRequestError(f"{name} must be >= {minimum}")
    if value > MAX_INT:  # databases' LIMIT/OFFSET are (64-bit) integers: 500 otherwise
        raise BadRequestError(f"{name} must be <= {MAX_INT}")
    return value


def _param(resource_type: str, code: str) -> SearchParam:
    params = params_for(resource_type)
    if code not in params:
        raise UnknownSearchParameterError(f"Unknown search parameter {code!r} for {resource_type}")
    param = params[code]
    if not param.supported:
        raise UnknownSearchParameterError(
            f"Search parameter {code!r} of {resource_type} is not supported: "
            f"{param.unsupported_reason}"
        )
    return param


def _include(raw: str, *, rev: bool, resource_type: str) -> Include:
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not is_supported(parts[0]):
        raise BadRequestError(f"Invalid {'_revinclude' if rev else '_include'} value {raw!r}")
    target = parts[2] if len(parts) == 3 else None
    param = None
    if parts[1] != "*":
        param = _param(parts[0], parts[1])
        if param.type != "reference":
            raise BadRequestError(f"{parts[0]}:{parts[1]} is not a reference parameter")
    if not rev and parts[0] != resource_type:
        raise BadRequestError(f"_include source must be {resource_type}: {raw!r}")
    return Include(parts[0], param, target)


def _filter(resource_type: str, key: str, value: str) -> Filter:
    name, _, modifier = key.partition(":")
    chain_child: str | None = None
    if "." in key:
        head, _, chain_child = key.partition(".")
        name, _, modifier = head.partition(":")
    param = _param(resource_type, name)
    values = split_values(value)
    if chain_child is not None:
        if param.type != "reference":
            raise BadRequestError(f"Cannot chain on non-reference parameter {name!r}")
        if "." in chain_child:
            raise BadRequestError("Only one level of chaining is supported")
        types = (modifier,) if modifier else param.target
        found = {
            t: supported_params(t)[chain_child]
            for t in types
            if is_supported(t) and chain_child in supported_params(t)
        }
        if not found:
            raise UnknownSearchParameterError(f"Cannot chain {key!r}: no target type has it")
        return Filter(param, None, values, Chain(tuple(found), found))
    target_type = None
    if modifier and param.type == "reference" and modifier[:1].isupper():
        if param.target and modifier not in param.target:
            raise BadRequestError(f"{name} cannot refer to {modifier}")
        target_type, modifier = modifier, ""
    if modifier and modifier not in MODIFIERS.get(param.type, frozenset()):
        raise BadRequestError(
            f"Modifier :{modifier} is not supported on {param.type} parameter {name}"
        )
    if modifier == "missing" and value not in ("true", "false"):
        raise BadRequestError(":missing takes true or false")
    if param.type == "date" or param.code == "_lastUpdated":
        for v in values:
            _ = split_prefix(v, param.type)
    return Filter(param, modifier or None, values, None, target_type)


def split_prefix(value: str, ptype: str) -> tuple[str, str]:
    """``("ge", "2020-01")`` from ``"ge2020-01"`` for ordered types; ``"eq"`` by default."""
    if ptype in ("date", "number", "quantity") and value[:2] in DATE_PREFIXES:
        return value[:2], value[2:]
    return "eq", value


def parse_search(
    resource_type: str,
    params: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    lenient: bool = False,
) -> SearchQuery:
    """Parse ``params`` (as repeated key/value pairs) for a search of ``resource_type``."""
    query = SearchQuery(resource_type=resource_type, count=default_count)
    for key, value in params:
        if key not in ("_offset",):
            query.echo.append((key, value))
        if key == "_count":
            query.count = min(_int("_count", value, 0), max_count)
        elif key == "_offset":
            query.offset = _int("_offset", value, 0)
        elif key == "_sort":
            for item in value.split(","):
                desc = item.startswith("-")
                code = item.lstrip("-")
                param = _param(resource_type, code)
                sortable = ("date", "string", "token", "number", "quantity", "uri")
                if param.type not in sortable and code != "_id":
                    raise BadRequestError(f"Cannot sort on {param.type} parameter {code}")
                query.sort.append((param, desc))
        elif key == "_include":
            query.includes.append(_include(value, rev=False, resource_type=resource_type))
        elif key == "_revinclude":
            query.revincludes.append(_include(value, rev=True, resource_type=resource_type))
        elif key == "_summary":
            if value not in SUMMARY_MODES:
                raise BadRequestError(
                    f"_summary={value} is not supported (use count, data or false)"
                )
            query.summary = value
        elif key == "_elements":
            query.elements = tuple(v.strip() for v in value.split(",") if v.strip())
        elif key == "_total":
            if value not in ("none", "estimate", "accurate"):
                raise BadRequestError(f"Invalid _total {value!r}")
            query.total = "none" if value == "none" else "accurate"
        elif key == "_format":
            if value not in ("json", "application/json", "application/fhir+json"):
                raise BadRequestError(f"Unsupported _format {value!r}: only JSON is served")
        elif key == "_pretty":
            pass
        else:
            try:
                query.filters.append(_filter(resource_type, key, value))
            except UnknownSearchParameterError:
                if not lenient:
                    raise
                query.ignored.append(key)
    return query
