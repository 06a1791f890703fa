"""Count the repository searches a page makes (to catch a per-child read coming back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from healthbridge.store.repository import Transaction

Search = tuple[str, tuple[tuple[str, str], ...]]


def record_searches(monkeypatch: pytest.MonkeyPatch) -> list[Search]:
    """Every ``Transaction.search_params`` call made from now on, as (type, params)."""
    calls: list[Search] = []
    original = Transaction.search_params

    def counting(self: Transaction, rtype: str, params: Sequence[tuple[str, str]], **k: Any) -> Any:
        calls.append((rtype, tuple(params)))
        return original(self, rtype, params, **k)

    monkeypatch.setattr(Transaction, "search_params", counting)
    return calls


def of_type(calls: list[Search], rtype: str) -> list[Search]:
    return [c for c in calls if c[0] == rtype]
