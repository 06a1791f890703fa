"""A transaction: every FHIR interaction inside one database transaction.

:meth:`Repository.transaction <healthbridge.store.repository.Repository.transaction>` yields
a :class:`Transaction`, the handle through which every interaction runs (and which write
interceptors receive): access control, reads, searches and writes. Its inserts are queued
(:class:`~healthbridge.store.write_behind.QueuedWrites`) and written in batches.

Interactions follow http://hl7.org/fhir/R4/http.html: read, vread, create (server-assigned id),
update (create-on-update allowed), delete, history, search, and their conditional forms.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, text

from healthbridge.errors import (
    BadRequestError,
    GoneError,
    NotFoundError,
    PreconditionFailedError,
    UnprocessableError,
)
from healthbridge.fhir import facts, r4
from healthbridge.fhir.query import SearchQuery, parse_search
from healthbridge.fhir.searchparams import IndexRows, distinct_rows, extract
from healthbridge.fhir.values import format_instant, index_instant, instant_now
from healthbridge.store import access_tables, reads, rule_inputs
from healthbridge.store.hooks import (
    MAX_HOOK_DEPTH,
    ReadEvent,
    RequestContext,
    StoreHooks,
    WriteAction,
    WriteContext,
    WriteEvent,
)
from healthbridge.store.ids import check_id, new_id
from healthbridge.store.inserts import INDEX_LAYOUT, RESOURCE_COLUMNS, VERSION_COLUMNS, encode
from healthbridge.store.replace import replace_current
from healthbridge.store.stored import (
    MAX_VERSION,
    RES,
    VER,
    SearchResult,
    StoredResource,
    WriteResult,
    check_issues,
    check_type,
    from_row,
    resource_type_of,
    stamps,
    versions,
)
from healthbridge.store.write_behind import QueuedWrites


class Transaction(QueuedWrites):
    """All interactions inside one database transaction (see module docstring)."""

    def __init__(
        self,
        conn: Connection,
        *,
        hooks: StoreHooks,
        context: RequestContext,
        settings_base_url: str = "",
        default_count: int = 20,
        max_count: int = 1000,
    ) -> None:
        super().__init__(conn)
        self.hooks = hooks
        self.context = context
        self.base_url = context.base_url or settings_base_url
        self.default_count = default_count
        self.max_count = max_count
        #: current rows read ahead by :meth:`prefetch_current` (None: no such resource), kept
        #: for reads, taken by an update and dropped as soon as anything writes that resource
        self._prefetched: dict[tuple[str, str], Any] = {}
        self._depth = 0
        self._elevated = 0
        #: per-transaction state of hooks (e.g. the accesses an audit hook collects)
        self.attributes: dict[str, Any] = {}
        #: called once the transaction has committed (:meth:`after_commit`)
        self.committed_callbacks: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ access control
    @property
    def server_work(self) -> bool:
        """True inside write interceptors and :meth:`as_server` blocks: work the server does
        on its own authority (derived data, audit records), not the caller's access."""
        return self._depth > 0 or self._elevated > 0

    @property
    def elevated(self) -> bool:
        """True inside :meth:`as_server` blocks."""
        return self._elevated > 0

    @property
    def restricted(self) -> bool:
        """Whether the caller's access control applies to the current call."""
        return self.context.access is not None and not self.server_work

    @contextmanager
    def as_server(self) -> Iterator[Transaction]:
        """Run a block with the server's authority (no reach filter, no write checks)."""
        self._elevated += 1
        try:
            yield self
        finally:
            self._elevated -= 1

    def _check(self, interaction: str, resource_type: str | None) -> None:
        if self.restricted:
            assert self.context.access is not None
            self.context.access.check(interaction, resource_type)

    def visible_clause(self, type_col: Any, id_col: Any) -> ColumnElement[bool] | None:
        """The caller's visibility condition on (type, id) columns (None: everything)."""
        if not self.restricted:
            return None
        assert self.context.access is not None
        return self.context.access.visible(type_col, id_col)

    def is_visible(self, resource_type: str, resource_id: str) -> bool:
        """Whether the caller may see ``resource_type/resource_id`` (existing or not)."""
        clause = self.visible_clause(RES.c.res_type, RES.c.res_id)
        if clause is None:
            return True
        self.flush()
        found = self.conn.execute(
            select(RES.c.res_id).where(
                RES.c.res_type == resource_type, RES.c.res_id == resource_id, clause
            )
        ).first()
        return found is not None

    def _hide(self, resource_type: str, resource_id: str, suffix: str = "") -> None:
        """404 — exactly as for a resource that does not exist — when out of reach."""
        if not self.is_visible(resource_type, resource_id):
            raise NotFoundError(f"{resource_type}/{resource_id}{suffix} not found")

    def compartment_of(self, resource_type: str, resource_id: str) -> frozenset[str]:
        """The patients whose compartment the current version belongs to."""
        self.flush()
        comp = access_tables.COMPARTMENT
        rows = self.conn.execute(
            select(comp.c.patient_id).where(
                comp.c.res_type == resource_type, comp.c.res_id == resource_id
            )
        ).all()
        return frozenset(r.patient_id for r in rows)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction has committed (never if it rolls back):
        e.g. waking a worker that must see what the transaction wrote — woken before the
        commit, a worker on PostgreSQL finds nothing yet and sleeps until its next poll."""
        self.committed_callbacks.append(callback)

    def run_pre_commit(self) -> None:
        """Run the pre-commit hooks until none reports more work (bounded)."""
        # Deferred derived-data work is the server's own, like write interceptors: the
        # caller's write was authorised already, and their reach must not hide or refuse it.
        with self.as_server():
            for _round in range(MAX_HOOK_DEPTH):
                if not any([hook(self) for hook in self.hooks.pre_commit_hooks]):
                    return
        raise UnprocessableError("Pre-commit hooks did not settle")

    # ------------------------------------------------------------------ reads
    def prefetch_current(self, keys: Sequence[tuple[str, str]], *, lock: bool = True) -> None:
        """Read the current rows of ``(type, id)`` pairs ahead, one query per type and 500
        ids, for the updates about to run (a transaction Bundle's PUT entries); each update
        then takes its row from here instead of a query of its own. On PostgreSQL the rows are
        locked as the updates' own reads would lock them (``FOR UPDATE``). A write to any of
        these resources in the meantime drops its row, so nothing stale is ever used. The
        queued inserts are flushed first only when one of these resources has queued rows
        (:meth:`~healthbridge.store.write_behind.QueuedWrites.flush_for`)."""
        self.flush_for(keys)
        by_type: dict[str, set[str]] = {}
        for rtype, rid in keys:
            by_type.setdefault(rtype, set()).add(rid)
        for rtype, ids in by_type.items():
            ordered = sorted(ids)
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                stmt = select(RES).where(RES.c.res_type == rtype, RES.c.res_id.in_(chunk))
                if lock:
                    stmt = stmt.with_for_update()
                found = {row.res_id: row for row in self.conn.execute(stmt)}
                for rid in chunk:
                    self._prefetched[(rtype, rid)] = found.get(rid)

    def _current(self, resource_type: str, resource_id: str, *, lock: bool = False) -> Any:
        if self._prefetched:
            key = (resource_type, resource_id)
            if key in self._prefetched:
                # a read leaves the row for the next read (an interceptor reading one Patient
                # per alert); an update takes it (its write drops it anyway)
                return self._prefetched.pop(key) if lock else self._prefetched[key]
        if lock:  # an update's or a deletion's own row: only its own queued rows matter
            self.flush_for([(resource_type, resource_id)])
        else:
            self.flush()
        stmt = select(RES).where(RES.c.res_type == resource_type, RES.c.res_id == resource_id)
        if lock:  # PostgreSQL: serialise concurrent writers of one resource (If-Match safety)
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).first()

    def _read_hook(self, interaction: Any, rtype: str | None, items: list[StoredResource]) -> None:
        if self.hooks.read_hooks and items:
            event = ReadEvent(interaction, rtype, tuple(items), self.context)
            for hook in self.hooks.read_hooks:
                hook(self, event)

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        """The current version; :class:`NotFoundError` / :class:`GoneError` (deleted)."""
        check_type(resource_type)
        self._check("read", resource_type)
        row = self._current(resource_type, resource_id)
        if row is None:
            raise NotFoundError(f"{resource_type}/{resource_id} not found")
        if self.restricted:
            self._hide(resource_type, resource_id)
        if row.deleted:
            raise GoneError(f"{resource_type}/{resource_id} was deleted")
        stored = from_row(row)
        self._read_hook("read", resource_type, [stored])
        return stored

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        """A specific version."""
        check_type(resource_type)
        if not 0 < version_id <= MAX_VERSION:  # beyond the column's integer range
            raise NotFoundError(f"{resource_type}/{resource_id}/_history/{version_id} not found")
        self._check("vread", resource_type)
        if self.restricted:
            self._hide(resource_type, resource_id, f"/_history/{version_id}")
        self.flush()
        row = self.conn.execute(
            versions().where(
                VER.c.res_type == resource_type,
                VER.c.res_id == resource_id,
                VER.c.version_id == version_id,
            )
        ).first()
        if row is None:
            raise NotFoundError(f"{resource_type}/{resource_id}/_history/{version_id} not found")
        if row.deleted:
            raise GoneError(f"{resource_type}/{resource_id} version {version_id} is a deletion")
        stored = from_row(row, method=row.method)
        self._read_hook("vread", resource_type, [stored])
        return stored

    def history(
        self,
        resource_type: str | None = None,
        resource_id: str | None = None,
        *,
        since: str | None = None,
        count: int | None = None,
        offset: int = 0,
    ) -> tuple[list[StoredResource], int]:
        """Versions newest first (instance, type or system level) and the total count."""
        return reads.history(
            self, resource_type, resource_id, since=since, count=count, offset=offset
        )

    def search_params(
        self, resource_type: str, params: Sequence[tuple[str, str]], *, lenient: bool = False
    ) -> SearchResult:
        """Parse and run a search given as key/value pairs."""
        return reads.search_params(self, resource_type, params, lenient=lenient)

    def search(self, query: SearchQuery) -> SearchResult:
        """Run a parsed search (only what the caller may see: totals and pages included)."""
        return reads.search(self, query)

    def everything(
        self,
        patient_id: str,
        *,
        types: set[str] | None = None,
        page: tuple[int, int] | None = None,
    ) -> list[StoredResource]:
        """``Patient/[id]/$everything`` (see :func:`healthbridge.store.reads.everything`)."""
        return reads.everything(self, patient_id, types=types, page=page)

    # ------------------------------------------------------------------ writes
    def _validate(
        self, resource: dict[str, Any], action: WriteAction, prev: Any, *, trusted: bool = False
    ) -> None:
        if not trusted:
            r4.validate(resource)
        validators = self.hooks.validators
        if not trusted and self.hooks.input_validators:
            validators = [*validators, *self.hooks.input_validators]
        if not validators:
            return
        ctx = WriteContext(action, self.context, from_row(prev) if prev is not None else None)
        check_issues([i for v in validators for i in v(resource, ctx)])

    def _write(
        self,
        resource: dict[str, Any],
        *,
        resource_id: str,
        prev: Any,
        action: WriteAction,
        method: str,
        prepared: IndexRows | None = None,
        trusted: bool = False,
    ) -> StoredResource:
        rtype = str(resource["resourceType"])
        # absolute references to this server are stored relative (healthbridge.fhir.facts)
        resource = facts.localised(resource, self.base_url)
        if self._prefetched:
            self._prefetched.pop((rtype, resource_id), None)
        restricted = self.restricted
        if restricted and prev is not None and not self.is_visible(rtype, resource_id):
            raise NotFoundError(f"{rtype}/{resource_id} not found")
        version = (prev.version_id + 1) if prev is not None else 1
        now = instant_now()
        stamp, index_stamp = stamps(now)
        resource["id"] = resource_id
        raw_meta = resource.get("meta")
        if raw_meta is not None and not isinstance(raw_meta, dict):
            raise UnprocessableError("Resource.meta must be a JSON object")
        meta = dict(raw_meta or {})
        meta["versionId"] = str(version)
        meta["lastUpdated"] = stamp
        resource["meta"] = meta
        if prepared is None:
            self._validate(resource, action, prev, trusted=trusted)
        index_rows = prepared or extract(resource)
        comp_rows, link_rows = access_tables.rows_for(rtype, resource_id, resource, index_rows)
        if restricted:
            assert self.context.access is not None
            patients = frozenset(r["patient_id"] for r in comp_rows)
            if prev is not None and not prev.deleted:
                patients |= self.compartment_of(rtype, resource_id)
            self.context.access.check_write(
                self,
                action,
                rtype,
                resource,
                patients,
                create_on_update=method == "PUT" and (prev is None or bool(prev.deleted)),
            )
            if link_rows:
                link_rows = self.context.access.filter_links(self, rtype, resource_id, link_rows)
        content = encode(resource)
        values = (rtype, resource_id, version, index_stamp, False, content)
        if prev is None:
            self._queue_values("resource", RESOURCE_COLUMNS, [values])
        else:
            self._replace_current(
                prev, dict(zip(RESOURCE_COLUMNS, values, strict=True)), compartment=True
            )
        self._unflushed.add((rtype, resource_id))  # its rows below are queued
        # the current JSON is stored once, in ``resource`` (models.ResourceVersionRow)
        self._queue_values("resource_version", VERSION_COLUMNS, [(*values[:-1], None, method)])
        self._index(rtype, resource_id, index_rows)
        self._queue("compartment", comp_rows)
        self._queue("patient_link", link_rows)
        self._queue(rule_inputs.TABLE, rule_inputs.rows(rtype, resource_id, resource, content))
        stored = StoredResource(
            rtype, resource_id, version, meta["lastUpdated"], False, resource, method
        )
        self._intercept(action, stored, prev)
        return stored

    def _replace_current(self, prev: Any, row: dict[str, Any], *, compartment: bool) -> None:
        if self.defer_replacement((prev, row, compartment)):
            return  # run at the next flush (QueuedWrites.deferred_replacements)
        # touches this resource's rows only: its own queued rows are inserted first
        self.flush_for([(prev.res_type, prev.res_id)])
        replace_current(self.conn, prev, row, compartment=compartment)

    def _index(self, rtype: str, resource_id: str, index_rows: IndexRows) -> None:
        canonical = index_rows.canonical
        for kind, (table, columns) in INDEX_LAYOUT.items():
            rows = distinct_rows(getattr(index_rows, kind))  # a repeat answers no search
            if rows:
                keys = columns[2:]
                if canonical or all(tuple(r) == keys for r in rows):
                    self._queue_values(
                        table, columns, [(rtype, resource_id, *r.values()) for r in rows]
                    )
                else:  # laid out otherwise: grouped by key order
                    self._queue(
                        table, [{"res_type": rtype, "res_id": resource_id, **r} for r in rows]
                    )

    def _intercept(self, action: WriteAction, stored: StoredResource, prev: Any) -> None:
        if not self.hooks.interceptors:
            return
        if self._depth >= MAX_HOOK_DEPTH:
            raise UnprocessableError("Write interceptors recursed too deeply")
        event = WriteEvent(
            action, stored, from_row(prev) if prev is not None else None, self.context, self._depth
        )
        self._depth += 1
        try:
            for interceptor in self.hooks.interceptors:
                interceptor(self, event)
        finally:
            self._depth -= 1

    def _conditional_match(self, resource_type: str, criteria: str) -> list[StoredResource]:
        """The (at most two) resources matching conditional ``criteria``.

        Callers are conditional creates and updates, which write when nothing matches. Two
        concurrent callers with the same criteria must not both see "no match" and both
        create (http.html#ccreate: the server "SHALL" not create duplicates). SQLite write
        transactions are already serialised by ``BEGIN IMMEDIATE``; on PostgreSQL (READ
        COMMITTED) a transaction-scoped advisory lock keyed by type and criteria serialises
        them, and the search below then sees the other transaction's committed row.
        """
        from urllib.parse import parse_qsl

        pairs = parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)
        if not pairs:
            raise BadRequestError(f"Empty conditional criteria {criteria!r}")
        self._lock_criteria(resource_type, pairs)
        query = parse_search(resource_type, pairs, default_count=2, max_count=2)
        query.count, query.offset, query.includes, query.revincludes = 2, 0, [], []
        return self.search(query).matches

    def _lock_criteria(self, resource_type: str, pairs: Sequence[tuple[str, str]]) -> None:
        if self.conn.dialect.name != "postgresql":
            return
        key = json.dumps([resource_type, sorted(pairs)], ensure_ascii=False)
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        lock_id = int.from_bytes(digest, "big", signed=True)
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})

    def create(
        self,
        resource: dict[str, Any],
        *,
        if_none_exist: str | None = None,
        assigned_id: str | None = None,
        prepared: IndexRows | None = None,
        trusted: bool = False,
    ) -> WriteResult:
        """Create with a server-assigned id; with ``if_none_exist`` a conditional create.

        ``assigned_id`` is for Bundle processing, which pre-assigns ids to ``urn:uuid:``
        entries so references between entries can be rewritten before anything is written.
        ``prepared`` comes from :meth:`Repository.prepare_create` (validation and index
        extraction already done, outside the database transaction).

        ``trusted`` is for resources the server builds itself from typed code (never for
        client input): the base-R4 door (:func:`healthbridge.fhir.r4.validate`) and the input
        validators (profile conformance) are skipped — the tests check their output with the
        same validator and the profiles they claim — while business validators, index extraction,
        access checks, interceptors, audit and history run as for any write.
        """
        rtype = resource_type_of(resource)
        self._check("create", rtype)
        if if_none_exist:
            found = self._conditional_match(rtype, if_none_exist)
            if len(found) > 1:
                raise PreconditionFailedError(f"Conditional create matched several {rtype}")
            if found:
                return WriteResult(found[0], created=False, changed=False)
        resource = dict(resource)
        stored = self._write(
            resource,
            resource_id=assigned_id or new_id(),
            prev=None,
            action="create",
            method="POST",
            prepared=prepared,
            trusted=trusted,
        )
        return WriteResult(stored, created=True)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        *,
        if_match: int | None = None,
        trusted: bool = False,
    ) -> WriteResult:
        """Update (or create-on-update) ``resource_type/resource_id``; ``if_match`` is the
        expected current version (412 when stale); ``trusted`` as for :meth:`create`."""
        check_type(resource_type)
        self._check("update", resource_type)
        check_id(resource_id)
        if resource_type_of(resource) != resource_type:
            raise BadRequestError("resourceType does not match the URL")
        if resource.get("id") != resource_id:
            raise BadRequestError(f"Resource id {resource.get('id')!r} does not match URL id")
        prev = self._current(resource_type, resource_id, lock=True)
        if if_match is not None and (prev is None or prev.deleted or prev.version_id != if_match):
            current = "none" if prev is None else str(prev.version_id)
            raise PreconditionFailedError(
                f"If-Match version {if_match} does not match current version {current}"
            )
        stored = self._write(
            dict(resource),
            resource_id=resource_id,
            prev=prev,
            action="update" if prev is not None and not prev.deleted else "create",
            method="PUT",
            trusted=trusted,
        )
        return WriteResult(stored, created=prev is None or bool(prev.deleted))

    def conditional_update(
        self, resource_type: str, criteria: str, resource: dict[str, Any]
    ) -> WriteResult:
        """``PUT [type]?criteria`` (http.html#cond-update)."""
        found = self._conditional_match(resource_type, criteria)
        if len(found) > 1:
            raise PreconditionFailedError(f"Conditional update matched several {resource_type}")
        if found:
            target = found[0].id
            if resource.get("id") not in (None, target):
                raise BadRequestError("Resource id does not match the matched resource")
        else:
            target = str(resource.get("id") or new_id())
        return self.update(resource_type, target, {**resource, "id": target})

    def delete(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """Delete (a new, deleted version); None if already deleted. 404 if never existed."""
        check_type(resource_type)
        self._check("delete", resource_type)
        prev = self._current(resource_type, resource_id, lock=True)
        if self._prefetched:
            self._prefetched.pop((resource_type, resource_id), None)
        if prev is None:
            raise NotFoundError(f"{resource_type}/{resource_id} not found")
        if self.restricted:
            self._hide(resource_type, resource_id)
            assert self.context.access is not None
            previous = from_row(prev) if not prev.deleted else None
            self.context.access.check_write(
                self,
                "delete",
                resource_type,
                previous.resource if previous is not None else None,
                self.compartment_of(resource_type, resource_id),
                create_on_update=False,
            )
        if prev.deleted:
            return None
        now = instant_now()
        row = {
            "res_type": resource_type,
            "res_id": resource_id,
            "version_id": prev.version_id + 1,
            "last_updated": index_instant(now),
            "deleted": True,
            "content": "{}",
        }
        self._replace_current(prev, row, compartment=False)
        self._unflushed.add((resource_type, resource_id))
        self._queue("resource_version", [{**row, "content": None, "method": "DELETE"}])
        stored = StoredResource(
            resource_type,
            resource_id,
            prev.version_id + 1,
            format_instant(now),
            True,
            None,
            "DELETE",
        )
        self._intercept("delete", stored, prev)
        return stored
