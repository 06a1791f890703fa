"""Fixtures for the clinical rule tests: the shipped rule sets."""

from __future__ import annotations

import pytest

from healthbridge.clinical.ruleset import RuleSet, load_ruleset


@pytest.fixture(scope="session")
def rs() -> RuleSet:
    """Current national rule set (NIP 2026, Chinese 2024 nutrition convention)."""
    return load_ruleset("cn-child-health", "2026.1")


@pytest.fixture(scope="session")
def rs2021() -> RuleSet:
    """Pre-2025 rule set (NIP 2021, WHO 2006 nutrition convention)."""
    return load_ruleset("cn-child-health", "2021.1")
