"""The facts of the reach rules as read from FHIR resources: the purposes of use a Consent
permits and the days a referral (ServiceRequest) opens a child's record.

The store indexes these facts on every write (:mod:`healthbridge.store.access_tables`) and the
access rules decide with them (:mod:`healthbridge.access.policy`, which re-exports the names),
so the reading lives below both (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


@dataclass(frozen=True, slots=True)
class Period:
    """A closed-open date period; ``None`` bounds are open."""

    start: dt.date | None = None
    end: dt.date | None = None

    def contains(self, day: dt.date) -> bool:
        """Whether ``day`` falls within the period (the end date is inclusive, as in FHIR)."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


class Purpose(StrEnum):
    """The purposes of use a guardian's Consent can permit (``Consent.provision.purpose``).

    Values are the v3 ActReason codes (http://terminology.hl7.org/CodeSystem/v3-ActReason,
    the PurposeOfUse value set of FHIR R4 Consent) that head each group; PIPL Art. 6 and 17
    require the purpose of each processing to be stated, Art. 31 the guardian's consent for a
    child under 14.
    """

    CARE = "TREAT"  # treatment: a hospital's or community health centre's care of the child
    COORDINATION = "COC"  # coordination of care: only while a referral is open
    RESEARCH = "HRESCH"  # healthcare research: exports marked as research
    PUBLIC_HEALTH = "PUBHLTH"  # public-health reporting (recorded; see docs/access.md)


V3_ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: ActReason codes we recognise in ``Consent.provision.purpose`` and the purpose each permits
#: (specialisations map to their group; unknown codes permit nothing).
PURPOSE_OF_CODE: Final[dict[str, Purpose]] = {
    "TREAT": Purpose.CARE,
    "ETREAT": Purpose.CARE,  # emergency treatment
    "COC": Purpose.COORDINATION,
    "HRESCH": Purpose.RESEARCH,
    "CLINTRCH": Purpose.RESEARCH,  # clinical trial research
    "PUBHLTH": Purpose.PUBLIC_HEALTH,
    "POPHLTH": Purpose.PUBLIC_HEALTH,  # population health
}
#: A Consent that states no purpose permits care only (backward compatibility: the consents
#: written before purposes were enforced were all for care).
DEFAULT_PURPOSES: Final = frozenset({Purpose.CARE})


def consent_purposes(provision: object) -> frozenset[Purpose]:
    """The purposes a Consent ``provision`` permits (:data:`DEFAULT_PURPOSES` when none)."""
    raw = provision.get("purpose") if isinstance(provision, dict) else None
    if not raw:
        return DEFAULT_PURPOSES
    codes = [c.get("code") for c in raw if isinstance(c, dict)]
    return frozenset(PURPOSE_OF_CODE[c] for c in codes if c in PURPOSE_OF_CODE)


#: ServiceRequest states in which a referral opens the child's record to the receiver
#: (http://hl7.org/fhir/R4/valueset-request-status.html): on-hold, completed, revoked,
#: entered-in-error and draft do not.
REFERRAL_STATES = frozenset({"active"})
#: Days after the end of a referral's occurrence during which the receiver still reaches the
#: child (to write the report back). A project choice, not a cited rule.
REFERRAL_GRACE: Final = dt.timedelta(days=30)
#: How long a referral that states no occurrence opens the record, from ``authoredOn`` (or the
#: day it was written). A project choice, not a cited rule.
REFERRAL_DEFAULT_WINDOW: Final = dt.timedelta(days=90)


def referral_window(
    occurrence_start: dt.date | None,
    occurrence_end: dt.date | None,
    authored: dt.date | None,
) -> Period:
    """The days a referral opens the record: from its occurrence start (or authoring day) to
    its occurrence end (or start + :data:`REFERRAL_DEFAULT_WINDOW`) + :data:`REFERRAL_GRACE`."""
    start = occurrence_start or authored
    end = occurrence_end
    if end is None:
        base = start or authored
        end = base + REFERRAL_DEFAULT_WINDOW if base is not None else None
    if end is None:  # no date at all: nothing bounds it, so it opens nothing
        return Period(dt.date.max, dt.date.min)
    return Period(start, end + REFERRAL_GRACE)
