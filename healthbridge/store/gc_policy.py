"""The one policy for Python's cyclic garbage collector, set by the owner of the process.

The collector is process-wide, so only the owner of the process decides about it, through
:mod:`healthbridge.store.runtime`: the app lifespan (a **server**) and the CLI commands
(a **batch** process). Library code never switches it; around bulk work it asks for
:func:`bulk_pause`, which pauses the collector only in a batch process.

* A server (``healthbridge serve``; tests run apps too) keeps the collector on: one request
  must not turn it off for every other request. Once started it may move everything alive
  into the permanent generation (``gc.freeze``, :func:`freeze`): the models, schemas and
  search plans loaded at start-up are then no longer traversed by each collection that the
  allocations of a large Bundle trigger (≈5 % of the CPU of a 1,000-entry transaction).
* A batch process (``healthbridge evaluate``, ``import-session``, and a ``healthbridge
  worker`` process around each batch of queued changes it evaluates) pauses the collector
  around its bulk work. A district read holds millions of container objects alive at once and
  every few hundred allocations the collector traverses the young ones, every so often all
  of them: ≈10 % of the CPU of a 10,000-row session import; the read and write paths make no
  reference cycles to reclaim, and whatever cyclic garbage anything else leaves meanwhile is
  collected once the collector runs again after the block.
* Otherwise (tests, library use) nothing is switched.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Role = Literal["server", "batch"]

_GUARD = threading.Lock()
_role: Role | None = None
_pauses = 0
_was_enabled = False


def role() -> Role | None:
    """What the owner of this process declared it to be (None: nobody did)."""
    return _role


def declare(new: Role | None) -> None:
    """Set the role of this process outright (tests; the runtime uses :func:`hold`)."""
    global _role
    with _GUARD:
        _role = new


_holders: dict[Role, int] = {"server": 0, "batch": 0}


def hold(held: Role) -> None:
    """A started runtime of ``held`` (:mod:`healthbridge.store.runtime` only). Runtimes may
    overlap in any order (two apps in one process, a command inside a test); the role is
    ``batch`` while any batch runtime runs, else ``server`` while any server runs, else None."""
    with _GUARD:
        _holders[held] += 1
        _settle()


def release(held: Role) -> None:
    """The runtime that called :func:`hold` with ``held`` stopped."""
    with _GUARD:
        _holders[held] = max(0, _holders[held] - 1)
        _settle()


def _settle() -> None:
    global _role
    _role = "batch" if _holders["batch"] else "server" if _holders["server"] else None


@contextmanager
def bulk_pause() -> Iterator[None]:
    """Pause the collector for a block of bulk work in a batch process (nestable,
    thread-safe); nothing anywhere else (see module docstring). The last block to end
    restores the collector if it was on when the first began."""
    global _pauses, _was_enabled
    if _role != "batch":
        yield
        return
    with _GUARD:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _GUARD:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()


def freeze() -> None:
    """Collect once, then move every object alive into the permanent generation (a server,
    after its start-up loaded what it keeps)."""
    gc.collect()
    gc.freeze()


def unfreeze() -> None:
    """Give the frozen objects back to the collector (a server's shutdown)."""
    gc.unfreeze()
