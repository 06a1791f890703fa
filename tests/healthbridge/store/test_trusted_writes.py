"""Trusted writes (resources the server builds itself): what they skip and what they keep.

A trusted create skips the base R4 model validation and the *input* validators (profile
conformance) but keeps business validators, index extraction, history, interceptors; and it
stores exactly what the validated path stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import select

from healthbridge.errors import Issue, UnprocessableError
from healthbridge.fhir.searchparams import INDEXED_TYPES
from healthbridge.store import search as sql
from healthbridge.store.hooks import SYSTEM_CONTEXT, StoreHooks, WriteContext, WriteEvent
from healthbridge.store.repository import Repository, Transaction
from tests import factories as f


def _index_rows(repo: Repository, rid: str) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with repo.engine.connect() as conn:
        for kind in INDEXED_TYPES:
            table = sql.index_table(kind)
            cols = [c for c in table.c if not c.primary_key and c.name != "res_id"]
            rows = conn.execute(select(*cols).where(table.c.res_id == rid)).all()
            out[kind] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _hooks(seen: list[str]) -> StoreHooks:
    hooks = StoreHooks()

    def input_check(resource: dict[str, Any], ctx: WriteContext) -> Iterable[Issue]:
        del ctx
        seen.append("input")
        if resource.get("status") == "preliminary":
            yield Issue("error", "structure", "input validator refuses preliminary")

    def business(resource: dict[str, Any], ctx: WriteContext) -> Iterable[Issue]:
        del ctx
        seen.append("business")
        if resource.get("valueQuantity", {}).get("value") == 44.4:
            yield Issue("error", "business-rule", "business validator refuses 44.4")

    def interceptor(txn: Transaction, event: WriteEvent) -> None:
        del txn
        seen.append(f"intercepted {event.stored.resource_type}")

    hooks.add_input_validator(input_check)
    hooks.add_validator(business)
    hooks.add_interceptor(interceptor)
    return hooks


def test_trusted_create_stores_what_the_validated_path_stores(settings: Any) -> None:
    from healthbridge.store.db import make_engine

    engine = make_engine(settings.resolved_database_url())
    seen: list[str] = []
    repo = Repository(engine, hooks=_hooks(seen))
    try:
        with repo.transaction(SYSTEM_CONTEXT) as txn:
            patient = txn.create(f.child()).stored
        obs = f.observation(f"Patient/{patient.id}")
        seen.clear()
        with repo.transaction(SYSTEM_CONTEXT) as txn:
            checked = txn.create(dict(obs), assigned_id="checked").stored
        assert seen == ["business", "input", "intercepted Observation"]
        seen.clear()
        with repo.transaction(SYSTEM_CONTEXT) as txn:
            trusted = txn.create(dict(obs), assigned_id="trusted", trusted=True).stored
        assert seen == ["business", "intercepted Observation"]  # no input validator
        seen.clear()
        rows = repo.prepare_create(dict(obs), SYSTEM_CONTEXT, trusted=True)
        with repo.transaction(SYSTEM_CONTEXT) as txn:
            prepared = txn.create(
                dict(obs), assigned_id="prepared", prepared=rows, trusted=True
            ).stored
        assert seen == ["business", "intercepted Observation"]

        def strip(stored: Any) -> dict[str, Any]:
            assert stored.resource is not None
            meta = {k: v for k, v in stored.resource["meta"].items() if k != "lastUpdated"}
            return {**stored.resource, "id": None, "meta": meta}

        assert strip(checked) == strip(trusted) == strip(prepared)
        assert (
            _index_rows(repo, "checked")
            == _index_rows(repo, "trusted")
            == _index_rows(repo, "prepared")
        )
        with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
            _, total = txn.history("Observation", "trusted")
        assert total == 1
    finally:
        engine.dispose()


def test_trusted_writes_still_run_business_validators(settings: Any) -> None:
    from healthbridge.store.db import make_engine

    engine = make_engine(settings.resolved_database_url())
    repo = Repository(engine, hooks=_hooks([]))
    try:
        obs = f.observation("Patient/p1", value=44.4)
        with (
            pytest.raises(UnprocessableError, match="business validator"),
            repo.transaction(SYSTEM_CONTEXT) as txn,
        ):
            txn.create(obs, trusted=True)
        with pytest.raises(UnprocessableError, match="business validator"):
            repo.prepare_create(obs, SYSTEM_CONTEXT, trusted=True)
        # the input validator and the R4 model check run on untrusted writes only
        preliminary = f.observation("Patient/p1", status="preliminary")
        with repo.transaction(SYSTEM_CONTEXT) as txn:
            txn.create(preliminary, trusted=True)
        with (
            pytest.raises(UnprocessableError, match="input validator"),
            repo.transaction(SYSTEM_CONTEXT) as txn,
        ):
            txn.create(preliminary)
        bad = {**f.observation("Patient/p1"), "status": 3}
        with pytest.raises(UnprocessableError), repo.transaction(SYSTEM_CONTEXT) as txn:
            txn.update("Observation", "o1", {**bad, "id": "o1"})
        with pytest.raises(UnprocessableError):
            repo.prepare_create(bad, SYSTEM_CONTEXT)
    finally:
        engine.dispose()


def test_server_ids_are_time_ordered_uuids() -> None:
    import time
    import uuid

    from healthbridge.store.repository import check_id, new_id

    first = [new_id() for _ in range(200)]
    time.sleep(0.002)
    later = [new_id() for _ in range(200)]
    assert len(set(first + later)) == 400
    for value in first + later:
        check_id(value)
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert str(parsed) == value
    assert max(first) < min(later)  # a later millisecond sorts after
    now_ms = time.time_ns() // 1_000_000
    assert abs(int(later[0].replace("-", "")[:12], 16) - now_ms) < 60_000
