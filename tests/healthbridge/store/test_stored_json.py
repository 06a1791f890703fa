"""The stored JSON text (``inserts.encode``): orjson where it writes the same JSON as the
standard encoder, the standard encoder wherever orjson would lose or refuse a value."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from healthbridge.store.inserts import STANDARD_JSON as _JSON
from healthbridge.store.inserts import encode as _encode
from tests import factories as f
from tests.strategies import json_values

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_JSON_VALUES = json_values(_SCALARS, key_size=5)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@given(st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=6))
def test_stored_text_reads_back_as_the_standard_encoders(resource: dict[str, Any]) -> None:
    text = _encode(resource)
    assert _same_value(json.loads(text), json.loads(_JSON.encode(resource)))
    assert _same_value(json.loads(text), resource)


def test_values_orjson_would_change_use_the_standard_encoder() -> None:
    for value in (float("nan"), float("inf"), -float("inf"), 2**64, -(2**63) - 1, None):
        resource = {"resourceType": "Basic", "x": [1, value]}
        assert _encode(resource) == _JSON.encode(resource)


def test_resources_are_stored_as_before() -> None:
    """Compact UTF-8 text, as the standard encoder wrote it (keys in order, 中文 as is)."""
    for resource in (
        f.observation("Patient/p1"),
        f.child(name=[{"text": "王小明"}]),
        {"resourceType": "Basic", "given": ["a", None], "_given": [None, {"id": "x"}]},
    ):
        assert _encode(resource) == _JSON.encode(resource)
