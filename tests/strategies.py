"""Hypothesis strategies shared by test modules."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(
    scalars: st.SearchStrategy[Any], *, key_size: int = 12, max_leaves: int = 20
) -> st.SearchStrategy[Any]:
    """JSON-shaped values: ``scalars`` nested in lists and objects (at most 4 items each)."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(max_size=key_size), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )
