"""Per-table derived data (lookups, per-birth-date schedule dates), computed once per table.

Rule tables are immutable and long-lived (a loaded rule set is cached), so structures derived
from a table are kept next to a strong reference to it: the ``is`` check makes a reused ``id``
impossible to confuse with the original table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

_DERIVED: dict[tuple[int, str], tuple[Any, Any]] = {}


def per_table(table: object, name: str, build: Callable[[], T]) -> T:
    """``build()`` once per (table object, name)."""
    key = (id(table), name)
    hit = _DERIVED.get(key)
    if hit is not None and hit[0] is table:
        return cast(T, hit[1])
    value = build()
    _DERIVED[key] = (table, value)
    return value
