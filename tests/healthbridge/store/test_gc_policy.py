"""The one GC policy (:mod:`healthbridge.store.gc_policy`): only a batch process pauses the
collector around bulk work; a server (and a process nobody declared) never switches it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from healthbridge.store import gc_policy


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    was, role = gc.isenabled(), gc_policy.role()
    yield
    gc_policy.declare(role)
    (gc.enable if was else gc.disable)()


def test_a_batch_process_pauses_nests_and_restores() -> None:
    gc.enable()
    gc_policy.declare("batch")
    with gc_policy.bulk_pause():
        assert not gc.isenabled()
        with gc_policy.bulk_pause():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="inside"), gc_policy.bulk_pause():
        raise ValueError("raised inside")
    assert gc.isenabled()


def test_a_batch_process_leaves_a_collector_that_was_off_off() -> None:
    gc.disable()
    gc_policy.declare("batch")
    with gc_policy.bulk_pause():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.parametrize("role", ["server", None])
def test_a_server_or_an_undeclared_process_keeps_the_collector_on(role: str | None) -> None:
    gc.enable()
    gc_policy.declare(role)  # type: ignore[arg-type]
    with gc_policy.bulk_pause():
        assert gc.isenabled()
    assert gc.isenabled()


def test_the_session_import_does_not_pause_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The write of a session import (a request in a server) runs with the collector on."""
    from healthbridge.district import session

    seen: list[bool] = []
    monkeypatch.setattr(session, "_write_session", lambda *_a: seen.append(gc.isenabled()))
    gc.enable()
    gc_policy.declare("server")
    result = type("R", (), {"accepted": [object()]})()
    session.write_session(None, None, result)  # type: ignore[arg-type]
    assert seen == [True]
    gc_policy.declare("batch")
    session.write_session(None, None, result)  # type: ignore[arg-type]
    assert seen == [True, False]


def test_overlapping_runtimes_stopped_in_any_order_leave_no_role() -> None:
    """Two apps in one process (two servers on one database) may stop in the order they
    started: the role follows the runtimes still running, not a stack of previous roles."""
    from sqlalchemy import create_engine

    from healthbridge.store import runtime

    gc_policy.declare(None)
    engine = create_engine("sqlite://")
    first = runtime.start(engine, role="server", sqlite_thread=False)
    second = runtime.start(engine, role="server", sqlite_thread=False)
    command = runtime.start(engine, role="batch", sqlite_thread=False)
    assert gc_policy.role() == "batch"
    first.stop()
    command.stop()
    assert gc_policy.role() == "server"
    second.stop()
    second.stop()  # idempotent
    assert gc_policy.role() is None
    engine.dispose()
