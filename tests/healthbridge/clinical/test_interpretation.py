"""Z-score interpretation bands (rule table ``growth-interpretation``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthbridge.clinical.ruleset import RuleSet


@pytest.mark.parametrize(
    ("z", "code"),
    [
        (-3.01, "LL"),
        (-3.0, "L"),  # "below -3 SD" is strict: exactly -3 is low, not critical
        (-2.01, "L"),
        (-2.0, "N"),
        (0.0, "N"),
        (2.0, "N"),
        (2.01, "H"),
        (3.0, "H"),
        (3.01, "HH"),
    ],
)
def test_bands_at_their_boundaries(rs: RuleSet, z: float, code: str) -> None:
    assert rs.interpretation.interpret(z)[0] == code


def test_table_cites_its_source_and_edition(rs: RuleSet) -> None:
    meta = rs.interpretation.meta
    assert meta.id == "growth-interpretation"
    assert meta.version
    assert any("WHO" in s.title for s in meta.sources)
    assert meta in rs.tables()


@given(st.floats(min_value=-10, max_value=10), st.floats(min_value=-10, max_value=10))
def test_interpretation_is_monotonic(a: float, b: float) -> None:
    from healthbridge.clinical.ruleset import load_ruleset

    table = load_ruleset("cn-child-health", "2026.1").interpretation
    order = ["LL", "L", "N", "H", "HH"]
    lo, hi = sorted((a, b))
    assert order.index(table.interpret(lo)[0]) <= order.index(table.interpret(hi)[0])
