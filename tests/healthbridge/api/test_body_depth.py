"""The request body depth bound (``deps._too_deep``) against a direct definition."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from healthbridge.api.deps import MAX_JSON_DEPTH, _too_deep


def reference_depth(value: Any) -> int:
    """Nesting levels of dicts/lists, the value itself being level 1."""
    if isinstance(value, dict):
        children = list(value.values())
    else:
        children = value if isinstance(value, list) else []
    nested = [reference_depth(c) for c in children if isinstance(c, dict | list)]
    return 1 + max(nested, default=0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=30,
)


@given(value=json_values, limit=st.integers(min_value=0, max_value=8))
def test_too_deep_is_depth_over_limit(value: Any, limit: int) -> None:
    assert _too_deep(value, limit) == (reference_depth(value) > limit)


def test_the_bound_itself() -> None:
    value: Any = 1
    for i in range(MAX_JSON_DEPTH - 1):
        value = [value] if i % 2 else {"a": value}
    assert not _too_deep({"x": value}, MAX_JSON_DEPTH)
    assert _too_deep({"x": [value]}, MAX_JSON_DEPTH)
