"""The repository: owns the engine and the hooks, and opens transactions.

:meth:`Repository.transaction` yields a :class:`~healthbridge.store.transaction.Transaction`
— the handle through which every FHIR interaction runs — and maps database errors to FHIR
ones (409, 400, 503). The store is split along its seams:

* :mod:`~healthbridge.store.ids` — logical ids (:func:`new_id`, :func:`check_id`);
* :mod:`~healthbridge.store.stored` — what interactions return (:class:`StoredResource` …);
* :mod:`~healthbridge.store.transaction` and :mod:`~healthbridge.store.reads` — the
  interactions;
* :mod:`~healthbridge.store.write_behind` and :mod:`~healthbridge.store.inserts` — queued
  inserts, the write-behind thread, the SQL per database;
* :mod:`~healthbridge.store.sqlite` and :mod:`~healthbridge.store.runtime` — the SQLite
  runtime and what the app lifespan and the CLI start (GC policy:
  :mod:`~healthbridge.store.gc_policy`).

The names most callers use stay importable from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from healthbridge.errors import BadRequestError, ConflictError, ServiceUnavailableError
from healthbridge.fhir import facts, r4
from healthbridge.fhir.searchparams import IndexRows, extract
from healthbridge.store.gc_policy import bulk_pause
from healthbridge.store.hooks import RequestContext, StoreHooks, WriteContext
from healthbridge.store.ids import check_id, new_id
from healthbridge.store.sqlite import WRITE_OPTION, runtime_of, writer_lock
from healthbridge.store.stored import (
    RES,
    VER,
    SearchResult,
    StoredResource,
    WriteResult,
    check_issues,
    resource_type_of,
)
from healthbridge.store.transaction import Transaction

#: Kept importable from here while callers move to :mod:`healthbridge.store.gc_policy`.
collector_paused = bulk_pause

__all__ = [
    "RES",
    "VER",
    "Repository",
    "SearchResult",
    "StoredResource",
    "Transaction",
    "WriteResult",
    "check_id",
    "collector_paused",
    "new_id",
]


class Repository:
    """Owns the engine and hooks; opens :class:`Transaction`s."""

    def __init__(
        self,
        engine: Engine,
        *,
        hooks: StoreHooks | None = None,
        base_url: str = "",
        default_count: int = 20,
        max_count: int = 1000,
    ) -> None:
        self.engine = engine
        #: the SQLite runtime of the engine (None for PostgreSQL)
        self._sqlite = runtime_of(engine)
        self.hooks = hooks or StoreHooks()
        self.base_url = base_url
        self.default_count = default_count
        self.max_count = max_count

    def prepare_create(
        self, resource: dict[str, Any], context: RequestContext, *, trusted: bool = False
    ) -> IndexRows:
        """Validate a resource to be created and extract its index rows *before* opening a
        database transaction (CPU work that then does not hold SQLite's write lock). The
        resource must already carry its final references; ``id``/``meta.versionId``/
        ``meta.lastUpdated`` are not indexed, so setting them later changes nothing.
        ``trusted`` as for :meth:`Transaction.create` (server-built resources only)."""
        resource_type_of(resource)
        resource = facts.localised(resource, context.base_url or self.base_url)
        if not trusted:
            r4.validate(resource)
        validators = self.hooks.validators
        if not trusted and self.hooks.input_validators:
            validators = [*validators, *self.hooks.input_validators]
        if validators:
            ctx = WriteContext("create", context, None)
            check_issues([i for v in validators for i in v(resource, ctx)])
        return extract(resource)

    @contextmanager
    def transaction(
        self, context: RequestContext, *, write: bool = True, plain: bool = False
    ) -> Iterator[Transaction]:
        """One database transaction; commits on success, rolls back on any exception.

        Read hooks that audit need to write, so reads run as write transactions when read
        hooks are registered. ``plain`` runs without any hook (a read-only lookup for the
        server itself, e.g. checking a token's identity claims).
        """
        hooks = StoreHooks() if plain else self.hooks
        write = write or bool(hooks.read_hooks)
        try:
            with (
                writer_lock(self.engine) if write else nullcontext(),
                self.engine.connect() as conn,
            ):
                conn = conn.execution_options(**{WRITE_OPTION: write})
                with conn.begin():
                    txn = Transaction(
                        conn,
                        hooks=hooks,
                        context=context,
                        settings_base_url=self.base_url,
                        default_count=self.default_count,
                        max_count=self.max_count,
                    )
                    yield txn
                    if write and hooks.pre_commit_hooks:
                        txn.run_pre_commit()
                    for hook in hooks.commit_hooks:
                        hook(txn)
                    txn.flush()
                if write and self._sqlite is not None:
                    self._sqlite.after_commit(conn, bulk=txn.handed_over)
            # committed, the writer lock and the connection given back
            for callback in txn.committed_callbacks:
                callback()
        except IntegrityError as exc:
            raise ConflictError(f"Concurrent write conflict: {exc.orig}") from exc
        except DataError as exc:
            # A value the database cannot hold, e.g. U+0000 in PostgreSQL text.
            raise BadRequestError(f"Value cannot be stored or searched: {exc.orig}") from exc
        except DBAPIError as exc:
            message = str(exc).lower()
            if "deadlock" in message or "could not serialize" in message:
                raise ConflictError("Concurrent write conflict, retry") from exc
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                # The server went away (restart, network) or SQLite stayed locked past the
                # busy timeout. The transaction did not commit (or, if the connection died
                # during COMMIT, its fate is unknown to us): a clean, retryable 503. Pooled
                # connections are checked with pre-ping, so the next request reconnects.
                raise ServiceUnavailableError(
                    "The database is temporarily unavailable; retry later"
                ) from exc
            raise
