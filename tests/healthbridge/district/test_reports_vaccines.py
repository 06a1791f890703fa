"""District coverage inputs credit combination products and require no special-population
dose of every child (issue 15, items 2 and 3; clinical table ``vaccine-products``)."""

from __future__ import annotations

from healthbridge.clinical.ruleset import load_ruleset
from healthbridge.district.reports import required_doses, series_of_products


def test_combination_products_count_for_each_series() -> None:
    rules = load_ruleset("cn-child-health", "2026.1")
    series = series_of_products(rules)
    assert series["DTaP-IPV-Hib"] == ["DTP", "polio"]
    assert series["DTaP"] == ["DTP"]
    assert series["bOPV"] == ["polio"]
    assert "PCV13" not in series  # recognised, not in the NIP
    assert "not-a-code" not in series


def test_required_doses_leave_out_special_populations() -> None:
    required = required_doses(load_ruleset("cn-child-health", "2026.1"))
    assert "HBIG" not in set(required["vaccine"])
    assert sorted(required.loc[required["vaccine"] == "HepB", "dose"]) == [1, 2, 3]
