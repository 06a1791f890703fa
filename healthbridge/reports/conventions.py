"""The prevalence conventions (cut-offs, age groups) as data, loaded lazily.

The numbers live in ``data/prevalence_conventions.json`` (versioned, with the source of each
rule); this module only turns them into typed, frozen objects. Two conventions ship:

* ``who``: WHO's reporting convention as computed by ``anthro_prevalence`` — overweight and
  obesity on weight-for-length/height (> +2 SD, > +3 SD);
* ``cn-2024``: the Chinese 《体重管理指导原则（2024年版）》 convention — overweight
  (> +1 SD and ≤ +2 SD) and obesity (> +2 SD) on BMI-for-age (DOMAIN.md §2.2).

Do not mix them in one table: the same word means different children.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from healthbridge.reports.errors import UnknownConventionError


class Convention(StrEnum):
    """Prevalence conventions shipped in the data file."""

    WHO = "who"
    CN_2024 = "cn-2024"


@dataclass(frozen=True)
class Condition:
    """One z-score condition: ``z < below``, ``z > above`` and/or ``z <= at_most``."""

    z: str
    below: float | None = None
    above: float | None = None
    at_most: float | None = None

    def describe(self) -> str:
        """A compact text form such as ``zwfl > 2`` or ``zbmi > 1 and <= 2``."""
        parts = []
        if self.below is not None:
            parts.append(f"< {self.below:g}")
        if self.above is not None:
            parts.append(f"> {self.above:g}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most:g}")
        return f"{self.z} " + " and ".join(parts)


@dataclass(frozen=True)
class Rule:
    """A named prevalence: a child counts when every condition holds."""

    code: str
    conditions: tuple[Condition, ...]
    label_en: str
    label_zh: str

    @property
    def cutoff(self) -> str:
        """Human-readable cut-off, e.g. ``zlen < -2 & zwfl < -2``."""
        return " & ".join(c.describe() for c in self.conditions)


@dataclass(frozen=True)
class ConventionSpec:
    """One convention: its rules and where they come from."""

    code: Convention
    label_en: str
    label_zh: str
    source: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class AgeGroups:
    """WHO's survey age groups (``anthro_age_groups``)."""

    breaks_months: tuple[float, ...]
    labels: tuple[str, ...]
    days_per_month: float
    max_age_days: int
    source: str


@dataclass(frozen=True)
class Conventions:
    """Everything in the conventions data file."""

    version: str
    age_groups: AgeGroups
    distribution_below: tuple[float, ...]
    distribution_above: tuple[float, ...]
    distribution_z: tuple[str, ...]
    conventions: dict[Convention, ConventionSpec]

    def spec(self, convention: Convention | str) -> ConventionSpec:
        """The rules of one convention; raises :class:`UnknownConventionError`."""
        try:
            return self.conventions[Convention(convention)]
        except ValueError as exc:
            raise UnknownConventionError(f"unknown prevalence convention: {convention!r}") from exc


def _condition(raw: dict[str, Any]) -> Condition:
    return Condition(
        z=str(raw["z"]),
        below=None if raw.get("below") is None else float(raw["below"]),
        above=None if raw.get("above") is None else float(raw["above"]),
        at_most=None if raw.get("at_most") is None else float(raw["at_most"]),
    )


@cache
def load_conventions() -> Conventions:
    """Read and cache ``data/prevalence_conventions.json`` (first call only)."""
    text = (
        resources.files("healthbridge.reports")
        .joinpath("data/prevalence_conventions.json")
        .read_text(encoding="utf-8")
    )
    raw = json.loads(text)
    ag = raw["age_groups"]
    dist = raw["distribution_cutoffs"]
    specs: dict[Convention, ConventionSpec] = {}
    for code, conv in raw["conventions"].items():
        rules = tuple(
            Rule(
                code=r["code"],
                conditions=tuple(_condition(c) for c in r["all_of"]),
                label_en=r["label_en"],
                label_zh=r["label_zh"],
            )
            for r in conv["rules"]
        )
        key = Convention(code)
        specs[key] = ConventionSpec(key, conv["label_en"], conv["label_zh"], conv["source"], rules)
    return Conventions(
        version=str(raw["version"]),
        age_groups=AgeGroups(
            breaks_months=tuple(float(b) for b in ag["breaks_months"]),
            labels=tuple(ag["labels"]),
            days_per_month=float(ag["days_per_month"]),
            max_age_days=int(ag["max_age_days"]),
            source=str(ag["source"]),
        ),
        distribution_below=tuple(float(c) for c in dist["below"]),
        distribution_above=tuple(float(c) for c in dist["above"]),
        distribution_z=tuple(dist["z_columns"]),
        conventions=specs,
    )
