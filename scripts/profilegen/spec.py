"""Data model of a profile's compact source, and shared bits of the differentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import (
    JSON,
    sd_url,
)

Op = tuple[str, list[str | int], Any]

#: Slicing of a repeating CodeableConcept by pattern.
PATTERN_SLICING = {
    "discriminator": [{"type": "pattern", "path": "$this"}],
    "ordered": False,
    "rules": "open",
}
#: Slicing of a choice element by type, as in the core vital-signs profiles.
TYPE_SLICING = {
    "discriminator": [{"type": "type", "path": "$this"}],
    "ordered": False,
    "rules": "closed",
}


@dataclass(frozen=True)
class Invalid:
    """An invalid example: edits applied to the valid one, and the issues expected."""

    slug: str
    ops: list[Op]
    issues: list[tuple[str, str]]
    base_r4: bool = False


@dataclass(frozen=True)
class Profile:
    """A profile's compact source."""

    id: str
    type: str
    base: str
    title: str
    description: str
    elements: list[JSON]
    kind: str = "resource"
    context: list[JSON] = field(default_factory=list)
    valid: JSON | None = None
    invalid: list[Invalid] = field(default_factory=list)


def meta(profile_id: str) -> JSON:
    return {"profile": [sd_url(profile_id)]}


CHILD_REF = {"reference": "Patient/child-1"}
