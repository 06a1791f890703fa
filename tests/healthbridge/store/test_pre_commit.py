"""Pre-commit hooks: deferred interceptor work runs once per transaction, in it."""

from __future__ import annotations

import pytest

from healthbridge.config import Settings
from healthbridge.errors import UnprocessableError
from healthbridge.store.db import make_engine
from healthbridge.store.hooks import SYSTEM_CONTEXT, StoreHooks, WriteEvent
from healthbridge.store.repository import Repository, Transaction
from tests import factories as f


def test_pre_commit_runs_once_after_all_writes_and_can_write(settings: Settings) -> None:
    calls: list[int] = []

    def note(txn: Transaction, event: WriteEvent) -> None:
        if event.stored.resource_type == "Observation":
            txn.attributes.setdefault("n", 0)
            txn.attributes["n"] += 1

    def summarise(txn: Transaction) -> bool:
        n = txn.attributes.pop("n", 0)
        if not n:
            return False
        calls.append(n)
        txn.create(f.flag("Patient/p1", kind=f"seen-{n}"))
        return True

    hooks = StoreHooks()
    hooks.add_interceptor(note)
    hooks.add_pre_commit_hook(summarise)
    engine = make_engine(settings.resolved_database_url())
    repo = Repository(engine, hooks=hooks)
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        for _ in range(3):
            txn.create(f.observation("Patient/p1"))
    assert calls == [3]
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        flags = txn.search_params("Flag", [("subject", "Patient/p1")]).matches
    assert len(flags) == 1
    engine.dispose()


def test_a_failing_pre_commit_hook_rolls_back(settings: Settings) -> None:
    def fail(_txn: Transaction) -> bool:
        raise UnprocessableError("no")

    hooks = StoreHooks()
    hooks.add_pre_commit_hook(fail)
    engine = make_engine(settings.resolved_database_url())
    repo = Repository(engine, hooks=hooks)
    with pytest.raises(UnprocessableError), repo.transaction(SYSTEM_CONTEXT) as txn:
        txn.create(f.observation("Patient/p1"))
    with Repository(engine).transaction(SYSTEM_CONTEXT, write=False) as txn:
        assert txn.search_params("Observation", []).total == 0
    engine.dispose()


def test_hooks_that_never_settle_are_stopped(settings: Settings) -> None:
    def forever(_txn: Transaction) -> bool:
        return True

    hooks = StoreHooks()
    hooks.add_pre_commit_hook(forever)
    engine = make_engine(settings.resolved_database_url())
    with (
        pytest.raises(UnprocessableError),
        Repository(engine, hooks=hooks).transaction(SYSTEM_CONTEXT) as txn,
    ):
        txn.create(f.observation("Patient/p1"))
    engine.dispose()
