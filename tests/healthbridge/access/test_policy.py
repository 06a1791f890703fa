"""Reach rules per role, at their boundaries (enrolment and consent periods, withdrawal)."""

from __future__ import annotations

import datetime as dt

import pytest

from healthbridge.access.policy import (
    REFERRAL_DEFAULT_WINDOW,
    REFERRAL_GRACE,
    V3_ACT_REASON,
    ChildFacts,
    ConsentGrant,
    Enrollment,
    Period,
    Purpose,
    Referral,
    can_access_child,
    children_in_reach,
    consent_purposes,
    referral_window,
)
from healthbridge.access.scopes import parse_scopes
from healthbridge.access.tokens import Principal, Role

TODAY = dt.date(2026, 11, 22)
CENTRE = "Organization/org-centre-1"
OTHER_CENTRE = "Organization/org-centre-2"
HOSPITAL = "Organization/org-mch"


def who(role: Role, *, fhir_user: str | None = None, org: str | None = None) -> Principal:
    return Principal(
        subject="u",
        role=role,
        scopes=parse_scopes("user/*.cruds"),
        fhir_user=fhir_user,
        organization=org,
    )


def facts(**kwargs: object) -> ChildFacts:
    return ChildFacts(child="Patient/child-1", **kwargs)  # type: ignore[arg-type]


def test_parent_sees_only_their_child() -> None:
    f = facts(guardians=frozenset({"RelatedPerson/rp-1"}))
    assert can_access_child(who(Role.PARENT, fhir_user="RelatedPerson/rp-1"), f, TODAY)
    assert not can_access_child(who(Role.PARENT, fhir_user="RelatedPerson/rp-2"), f, TODAY)
    assert not can_access_child(who(Role.PARENT), f, TODAY)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (Period(dt.date(2026, 3, 1), None), True),
        (Period(TODAY, None), True),  # enrolled from today
        (Period(dt.date(2026, 1, 1), TODAY), True),  # last day inclusive
        (Period(dt.date(2026, 1, 1), TODAY - dt.timedelta(days=1)), False),  # left yesterday
        (Period(TODAY + dt.timedelta(days=1), None), False),  # starts tomorrow
    ],
)
def test_centre_sees_currently_enrolled_children(period: Period, expected: bool) -> None:
    f = facts(enrollments=(Enrollment(CENTRE, period),))
    for role in (Role.HEALTH_MANAGER, Role.CENTRE_STAFF):
        assert can_access_child(who(role, org=CENTRE), f, TODAY) is expected
        assert not can_access_child(who(role, org=OTHER_CENTRE), f, TODAY)


def test_paediatrician_needs_active_permit_consent_in_period() -> None:
    good = ConsentGrant(HOSPITAL, "active", True, Period(dt.date(2026, 1, 1), None))
    doctor = who(Role.PAEDIATRICIAN, org=HOSPITAL)
    assert can_access_child(doctor, facts(consents=(good,)), TODAY)
    withdrawn = ConsentGrant(HOSPITAL, "inactive", True, good.period)
    assert not can_access_child(doctor, facts(consents=(withdrawn,)), TODAY)
    deny = ConsentGrant(HOSPITAL, "active", False, good.period)
    assert not can_access_child(doctor, facts(consents=(deny,)), TODAY)
    expired = ConsentGrant(HOSPITAL, "active", True, Period(None, TODAY - dt.timedelta(days=1)))
    assert not can_access_child(doctor, facts(consents=(expired,)), TODAY)
    elsewhere = ConsentGrant("Organization/org-chc", "active", True, good.period)
    assert not can_access_child(doctor, facts(consents=(elsewhere,)), TODAY)


def test_consent_purposes() -> None:
    """A Consent grants only the purposes it states; none stated = care (backward compatible)."""
    assert consent_purposes({"type": "permit"}) == {Purpose.CARE}
    coded = {"purpose": [{"system": V3_ACT_REASON, "code": "HRESCH"}, {"code": "ETREAT"}]}
    assert consent_purposes(coded) == {Purpose.RESEARCH, Purpose.CARE}
    assert consent_purposes({"purpose": [{"code": "MARKETING"}]}) == frozenset()
    doctor = who(Role.PAEDIATRICIAN, org=HOSPITAL)
    period = Period(dt.date(2026, 1, 1), None)
    research_only = ConsentGrant(HOSPITAL, "active", True, period, frozenset({Purpose.RESEARCH}))
    assert not can_access_child(doctor, facts(consents=(research_only,)), TODAY)
    care = ConsentGrant(HOSPITAL, "active", True, period, frozenset({Purpose.CARE}))
    assert can_access_child(doctor, facts(consents=(care,)), TODAY)


OPEN = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 31))
COC = ConsentGrant(HOSPITAL, "active", True, Period(), frozenset({Purpose.COORDINATION}))


def test_paediatrician_sees_children_referred_to_their_organisation() -> None:
    doctor = who(Role.PAEDIATRICIAN, org=HOSPITAL)
    referred = facts(referrals=(Referral(HOSPITAL, "active", OPEN),), consents=(COC,))
    assert can_access_child(doctor, referred, TODAY)
    assert can_access_child(doctor, referred, TODAY, "Observation")
    # only the data a referral needs
    assert not can_access_child(doctor, referred, TODAY, "RelatedPerson")
    assert not can_access_child(doctor, referred, TODAY, "Consent")
    # only while active, within its window, authorised, and under a covering consent
    for status in ("revoked", "completed", "on-hold", "entered-in-error", "draft"):
        ended = facts(referrals=(Referral(HOSPITAL, status, OPEN),), consents=(COC,))
        assert not can_access_child(doctor, ended, TODAY), status
    late = Referral(HOSPITAL, "active", Period(None, TODAY - dt.timedelta(days=1)))
    assert not can_access_child(doctor, facts(referrals=(late,), consents=(COC,)), TODAY)
    forged = Referral(HOSPITAL, "active", OPEN, authorised=False)
    assert not can_access_child(doctor, facts(referrals=(forged,), consents=(COC,)), TODAY)
    no_consent = facts(referrals=(Referral(HOSPITAL, "active", OPEN),))
    assert not can_access_child(doctor, no_consent, TODAY)
    withdrawn = ConsentGrant(HOSPITAL, "inactive", True, Period(), COC.purposes)
    assert not can_access_child(
        doctor, facts(referrals=(Referral(HOSPITAL, "active", OPEN),), consents=(withdrawn,)), TODAY
    )


def test_referral_window() -> None:
    day = dt.date(2026, 3, 1)
    assert referral_window(day, dt.date(2026, 3, 31), None) == Period(
        day, dt.date(2026, 3, 31) + REFERRAL_GRACE
    )
    assert referral_window(None, None, day) == Period(
        day, day + REFERRAL_DEFAULT_WINDOW + REFERRAL_GRACE
    )
    nothing = referral_window(None, None, None)
    assert not nothing.contains(TODAY)


@pytest.mark.parametrize("role", [Role.DISTRICT_OFFICIAL, Role.ADMIN])
def test_no_child_data_for_officials_and_admins(role: Role) -> None:
    everything = facts(
        guardians=frozenset({"RelatedPerson/rp-1"}),
        enrollments=(Enrollment(CENTRE, Period()),),
        consents=(ConsentGrant(HOSPITAL, "active", True, Period()),),
    )
    assert not can_access_child(who(role, org=CENTRE), everything, TODAY)


def test_system_sees_every_child() -> None:
    assert can_access_child(who(Role.SYSTEM), facts(), TODAY)


def test_children_in_reach() -> None:
    a = ChildFacts("Patient/a", enrollments=(Enrollment(CENTRE, Period()),))
    b = ChildFacts("Patient/b", enrollments=(Enrollment(OTHER_CENTRE, Period()),))
    assert children_in_reach(who(Role.HEALTH_MANAGER, org=CENTRE), [a, b], TODAY) == {"Patient/a"}
