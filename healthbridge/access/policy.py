"""Who may see which child: the reach rules of each role, as pure decisions over facts.

The rules (issue "Who may see what"; PIPL Art. 28–31 via DOMAIN.md §5.2):

* **parent** — a guardian (RelatedPerson) sees the children they are linked to.
* **health manager / centre staff** — children *currently* enrolled at their centre.
* **paediatrician** — children whose guardian has an active Consent permitting their
  organisation (within its period), or who were referred to their organisation by an active
  ServiceRequest. Withdrawing consent takes effect on the next request because facts are read
  per request.
* **district official** — no identifiable child data at all (aggregate reports only).
* **system** — every child (the district platform's integration client); every access is
  audited like any other.
* **admin** — configuration, not clinical data: no child.

Facts are gathered by the caller (from the store) into :class:`ChildFacts`; this module only
decides, so the rules can be tested exhaustively without a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from healthbridge.access.tokens import Principal, Role


@dataclass(frozen=True, slots=True)
class Period:
    """A closed-open date period; ``None`` bounds are open."""

    start: dt.date | None = None
    end: dt.date | None = None

    def contains(self, day: dt.date) -> bool:
        """Whether ``day`` falls within the period (the end date is inclusive, as in FHIR)."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A child's enrolment at a childcare centre (``Organization/...``)."""

    centre: str
    period: Period


@dataclass(frozen=True, slots=True)
class ConsentGrant:
    """A Consent that permits sharing with an organisation, per FHIR Consent.provision."""

    organization: str
    status: str  # Consent.status: only "active" grants access
    permit: bool  # provision.type == "permit"
    period: Period


@dataclass(frozen=True, slots=True)
class Referral:
    """A ServiceRequest referring the child to an organisation."""

    organization: str
    status: str  # ServiceRequest.status: "active" (and "completed" for follow-up) grant access


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """What the access rules need to know about one child."""

    child: str  # "Patient/<id>"
    guardians: frozenset[str] = field(default_factory=frozenset)  # "RelatedPerson/<id>"
    enrollments: tuple[Enrollment, ...] = ()
    consents: tuple[ConsentGrant, ...] = ()
    referrals: tuple[Referral, ...] = ()


#: ServiceRequest states in which a referral opens the child's record to the receiver.
REFERRAL_STATES = frozenset({"active", "completed", "on-hold"})
CENTRE_ROLES = frozenset({Role.HEALTH_MANAGER, Role.CENTRE_STAFF})


def can_access_child(who: Principal, facts: ChildFacts, today: dt.date) -> bool:
    """Whether ``who`` may see or write the record of the child described by ``facts``."""
    match who.role:
        case Role.SYSTEM:
            return True
        case Role.PARENT:
            return who.fhir_user is not None and who.fhir_user in facts.guardians
        case Role.HEALTH_MANAGER | Role.CENTRE_STAFF:
            return who.organization is not None and any(
                e.centre == who.organization and e.period.contains(today) for e in facts.enrollments
            )
        case Role.PAEDIATRICIAN:
            if who.organization is None:
                return False
            consented = any(
                c.organization == who.organization
                and c.status == "active"
                and c.permit
                and c.period.contains(today)
                for c in facts.consents
            )
            referred = any(
                r.organization == who.organization and r.status in REFERRAL_STATES
                for r in facts.referrals
            )
            return consented or referred
        case Role.DISTRICT_OFFICIAL | Role.ADMIN:
            return False


def children_in_reach(who: Principal, facts: Iterable[ChildFacts], today: dt.date) -> set[str]:
    """The ``Patient/<id>`` references among ``facts`` that ``who`` may access."""
    return {f.child for f in facts if can_access_child(who, f, today)}


#: Resource types that hold no child data and that every clinical role may read.
SHARED_DIRECTORY_TYPES = frozenset(
    {"Organization", "Location", "Practitioner", "PractitionerRole", "Questionnaire"}
)
#: Roles that may read the shared directory (organisations, staff, questionnaires).
DIRECTORY_READERS = frozenset(
    {
        Role.PARENT,
        Role.HEALTH_MANAGER,
        Role.CENTRE_STAFF,
        Role.PAEDIATRICIAN,
        Role.SYSTEM,
        Role.ADMIN,
        Role.DISTRICT_OFFICIAL,
    }
)
#: Roles that may change the shared directory.
DIRECTORY_WRITERS = frozenset({Role.ADMIN, Role.SYSTEM})
