"""Who may see which child: the reach rules of each role, as pure decisions over facts.

The rules (issue "Who may see what"; PIPL Art. 28–31 via DOMAIN.md §5.2):

* **parent** — a guardian (RelatedPerson) sees the children they are linked to.
* **health manager / centre staff** — children *currently* enrolled at their centre.
* **paediatrician** — children whose guardian has an active Consent permitting their
  organisation for **care** (``provision.purpose`` TREAT; a Consent that states no purpose is
  care only), within its period; and — for the referral data types only
  (:data:`REFERRAL_TYPES`) — children referred to their organisation by an *authorised*,
  *active* ServiceRequest within its occurrence window (plus :data:`REFERRAL_GRACE`) while the
  guardian's consent covering the referral (care or coordination of care, COC) is in force.
  Withdrawing consent ends both on the next request because facts are read per request.
* **district official** — no identifiable child data at all (aggregate reports only).
* **system** — every child (the district platform's integration client); every access is
  audited like any other.
* **admin** — configuration, not clinical data: no child.

Facts are gathered by the caller (from the store) into :class:`ChildFacts`; this module only
decides, so the rules can be tested exhaustively without a database. How a fact is read from a
resource (a Consent's purposes, a referral's window) is :mod:`healthbridge.fhir.reach`, below
the store, which indexes those facts on every write (:mod:`healthbridge.store.access_tables`);
its names are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from healthbridge.access.tokens import Principal, Role
from healthbridge.fhir.reach import DEFAULT_PURPOSES as DEFAULT_PURPOSES
from healthbridge.fhir.reach import PURPOSE_OF_CODE as PURPOSE_OF_CODE
from healthbridge.fhir.reach import REFERRAL_DEFAULT_WINDOW as REFERRAL_DEFAULT_WINDOW
from healthbridge.fhir.reach import REFERRAL_GRACE as REFERRAL_GRACE
from healthbridge.fhir.reach import REFERRAL_STATES as REFERRAL_STATES
from healthbridge.fhir.reach import V3_ACT_REASON as V3_ACT_REASON
from healthbridge.fhir.reach import Period as Period
from healthbridge.fhir.reach import Purpose as Purpose
from healthbridge.fhir.reach import consent_purposes as consent_purposes
from healthbridge.fhir.reach import referral_window as referral_window


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A child's enrolment at a childcare centre (``Organization/...``)."""

    centre: str
    period: Period


#: Purposes of a consent that cover a referral to its recipient.
REFERRAL_COVERING: Final = frozenset({Purpose.CARE, Purpose.COORDINATION})


@dataclass(frozen=True, slots=True)
class ConsentGrant:
    """A Consent that permits sharing with an organisation, per FHIR Consent.provision."""

    organization: str
    status: str  # Consent.status: only "active" grants access
    permit: bool  # provision.type == "permit"
    period: Period
    purposes: frozenset[Purpose] = DEFAULT_PURPOSES

    def grants(self, organization: str, purposes: frozenset[Purpose], day: dt.date) -> bool:
        """Whether this consent permits ``organization`` one of ``purposes`` on ``day``."""
        return (
            self.organization == organization
            and self.status == "active"
            and self.permit
            and self.period.contains(day)
            and bool(self.purposes & purposes)
        )


@dataclass(frozen=True, slots=True)
class Referral:
    """A ServiceRequest referring the child to an organisation.

    ``period`` is the window in which it opens the record (its occurrence plus
    :data:`REFERRAL_GRACE`, see :func:`referral_window`); ``authorised`` is False when the
    writer could not refer the child (it was not in their reach other than through a referral,
    or they referred the child to their own organisation).
    """

    organization: str
    status: str  # ServiceRequest.status: only "active" opens the record
    period: Period = field(default_factory=Period)
    authorised: bool = True


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """What the access rules need to know about one child."""

    child: str  # "Patient/<id>"
    guardians: frozenset[str] = field(default_factory=frozenset)  # "RelatedPerson/<id>"
    enrollments: tuple[Enrollment, ...] = ()
    consents: tuple[ConsentGrant, ...] = ()
    referrals: tuple[Referral, ...] = ()


#: The data a referral opens: what the receiver needs to assess the child (demographics,
#: measurements and scores, visits, immunisations, conditions, screening answers, alerts, the
#: referral and its tasks). Not the guardian's other consents, contacts or Provenance.
REFERRAL_TYPES: Final = frozenset(
    {
        "Patient",
        "Observation",
        "Encounter",
        "Immunization",
        "Condition",
        "QuestionnaireResponse",
        "Flag",
        "ServiceRequest",
        "Task",
    }
)
CENTRE_ROLES = frozenset({Role.HEALTH_MANAGER, Role.CENTRE_STAFF})


def can_access_child(
    who: Principal, facts: ChildFacts, today: dt.date, resource_type: str = "Patient"
) -> bool:
    """Whether ``who`` may see or write ``resource_type`` records of the child in ``facts``
    (for the care purpose of their role)."""
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
            org = who.organization
            if any(c.grants(org, DEFAULT_PURPOSES, today) for c in facts.consents):
                return True
            covered = any(c.grants(org, REFERRAL_COVERING, today) for c in facts.consents)
            return (
                covered
                and resource_type in REFERRAL_TYPES
                and any(
                    r.organization == org
                    and r.status in REFERRAL_STATES
                    and r.authorised
                    and r.period.contains(today)
                    for r in facts.referrals
                )
            )
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
