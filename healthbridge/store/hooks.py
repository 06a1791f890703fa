"""Extension points of the store: request context, write validators, write interceptors and
read hooks.

* **Write validators** run on every create/update (also inside Bundles) after the server has set
  ``id``/``meta`` and before anything is stored. Each returns the issues it finds; any issue of
  severity ``error``/``fatal`` from any validator fails the write with 422 listing them all.
  *Input* validators (conformance of the resource's shape, e.g. to the profiles it claims) are
  skipped, like the base-R4 door, for *trusted* writes: resources the server builds itself
  from typed code whose output the tests check with the base-R4 validator and the profiles
  (``Transaction.create(..., trusted=True)``); business validators run on every write.
* **Write interceptors** run after a resource version is written, inside the same database
  transaction, with the :class:`~healthbridge.store.repository.Transaction` handle: they can
  read, search, create, update and delete other resources there. If one raises, the whole
  transaction (the request or Bundle) rolls back. Writes made by an interceptor trigger the
  interceptors again with ``depth + 1`` (bounded by :data:`MAX_HOOK_DEPTH`).
* **Pre-commit hooks** run once when a transaction is about to commit (after every entry of a
  Bundle), with the same handle; work deferred by interceptors (e.g. re-evaluating a child
  once per transaction instead of once per written resource) runs there. Their writes trigger
  interceptors as usual; the hooks are called again while any of them reports more work.
* **Read hooks** see every resource returned by read, vread, search and history, in the same
  transaction as the read (the access layer filters or audits there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from healthbridge.errors import Issue

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from healthbridge.store.repository import StoredResource, Transaction

#: Interceptor recursion limit (a hook writing resources that trigger hooks...).
MAX_HOOK_DEPTH = 8

WriteAction = Literal["create", "update", "delete"]


class AccessControl(Protocol):
    """The access layer's decisions for one caller (:mod:`healthbridge.access.control`).

    The store consults it on every interaction made for the caller (not for server work:
    write interceptors and writes made under :meth:`Transaction.as_server`). A context
    without one (``access=None``) is unrestricted: internal work, migrations, benchmarks.
    """

    def check(self, interaction: str, resource_type: str | None) -> None:
        """Raise (403) when the caller's role or scopes do not allow ``interaction``."""

    def visible(self, type_col: Any, id_col: Any) -> ColumnElement[bool] | None:
        """SQL condition on a (type, id) pair of columns: the resources the caller may see
        (None: everything)."""

    def check_write(
        self,
        txn: Transaction,
        action: WriteAction,
        resource_type: str,
        resource: dict[str, Any] | None,
        patients: frozenset[str],
        *,
        create_on_update: bool,
    ) -> None:
        """Raise when the caller may not write ``resource`` (whose compartment holds
        ``patients``): 403 for a role/scope refusal, 404 for a child out of reach."""

    def filter_links(
        self, txn: Transaction, resource_type: str, resource_id: str, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The ``patient_link`` rows a write by the caller may state (called after
        :meth:`check_write`, before the old rows are replaced): e.g. a referral written by
        someone not entitled to refer the child opens nothing."""


@dataclass(frozen=True)
class RequestContext:
    """Who is calling and how; passed from the API down to every repository call.

    The access layer (later) fills ``principal``/``roles`` from the bearer token; read hooks and
    interceptors use it to filter and to write AuditEvents.
    """

    principal: str | None = None
    roles: frozenset[str] = frozenset()
    client_address: str | None = None
    request_id: str | None = None
    #: the FHIR base URL the caller used (absolute references to it are local)
    base_url: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: the caller's access control (None: unrestricted)
    access: AccessControl | None = None


#: The context of internal, non-request work (migrations, demo loading, benchmarks).
SYSTEM_CONTEXT = RequestContext(principal="system", roles=frozenset({"system"}))


@dataclass(frozen=True)
class WriteContext:
    """What a validator knows about the write it checks."""

    action: WriteAction
    request: RequestContext
    previous: StoredResource | None


@dataclass(frozen=True)
class WriteEvent:
    """A version that was just written (``stored.resource`` is None for a delete)."""

    action: WriteAction
    stored: StoredResource
    previous: StoredResource | None
    request: RequestContext
    depth: int


@dataclass(frozen=True)
class ReadEvent:
    """Resources about to be returned by a read interaction."""

    interaction: Literal["read", "vread", "search", "history", "operation"]
    resource_type: str | None
    resources: Sequence[StoredResource]
    request: RequestContext


#: ``validator(resource, context) -> issues`` (empty when valid).
WriteValidator = Callable[[dict[str, Any], WriteContext], Iterable[Issue]]
#: ``interceptor(txn, event)``; raise to roll everything back.
WriteInterceptor = Callable[["Transaction", WriteEvent], None]
#: ``hook(txn, event)``; raise (e.g. ForbiddenError) to refuse the read.
ReadHook = Callable[["Transaction", ReadEvent], None]
#: ``hook(txn)`` just before a transaction commits (e.g. to write the request's AuditEvent).
CommitHook = Callable[["Transaction"], None]
#: ``hook(txn) -> did_work``; raise to roll everything back.
PreCommitHook = Callable[["Transaction"], bool]


@dataclass
class StoreHooks:
    """The registered extension callables of one application instance."""

    validators: list[WriteValidator] = field(default_factory=list)
    #: validators of the input's shape, skipped for trusted writes (see module docstring)
    input_validators: list[WriteValidator] = field(default_factory=list)
    interceptors: list[WriteInterceptor] = field(default_factory=list)
    read_hooks: list[ReadHook] = field(default_factory=list)
    commit_hooks: list[CommitHook] = field(default_factory=list)
    pre_commit_hooks: list[PreCommitHook] = field(default_factory=list)

    def add_validator(self, validator: WriteValidator) -> None:
        """Register a write validator."""
        self.validators.append(validator)

    def add_input_validator(self, validator: WriteValidator) -> None:
        """Register a validator of the input's shape (e.g. profile conformance): it runs on
        every write except trusted writes of resources the server built itself."""
        self.input_validators.append(validator)

    def add_interceptor(self, interceptor: WriteInterceptor) -> None:
        """Register a write interceptor (derived-data hook)."""
        self.interceptors.append(interceptor)

    def add_pre_commit_hook(self, hook: PreCommitHook) -> None:
        """Register a hook run before each write transaction commits (deferred work)."""
        self.pre_commit_hooks.append(hook)

    def add_read_hook(self, hook: ReadHook) -> None:
        """Register a read hook (access filtering / audit)."""
        self.read_hooks.append(hook)

    def add_commit_hook(self, hook: CommitHook) -> None:
        """Register a hook run before each transaction commits."""
        self.commit_hooks.append(hook)
