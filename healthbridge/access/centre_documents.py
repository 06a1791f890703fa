"""Reach of a centre's own documents: a ``Composition`` whose subject is the centre (the
weekly menu, 带量食谱; issue 16 item 4).

Composition is a member of the patient compartment, so the general reach rule
(:meth:`healthbridge.access.control.PrincipalAccess.visible`) shows a Composition only when it
belongs to a child in reach — a centre's menu names no child and would be visible to no one
but the system. This module adds the one rule for such documents:

* **read**: the centre's health manager and staff (``Principal.organization`` is the
  subject), and the guardians of children *currently* enrolled there (the same ``enrolment``
  and ``guardian`` facts of ``patient_link`` that share the child's day with them);
* **write**: the centre's health manager only, and only for a Composition naming no child
  (a document with a child in it follows the child's reach rule as before).

Other roles (paediatricians, district officials) get nothing from this rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, or_, select

from healthbridge.access.tokens import Principal, Role
from healthbridge.store.access_tables import LINK
from healthbridge.store.models import REFERENCE_INDEX

#: Types a centre may hold documents of (subject = the centre's Organization).
CENTRE_DOCUMENT_TYPES: Final = frozenset({"Composition"})
REF: Final = REFERENCE_INDEX
STAFF: Final = frozenset({Role.HEALTH_MANAGER, Role.CENTRE_STAFF})


def subject_centre(resource: dict[str, Any] | None) -> str | None:
    """``Organization/<id>`` when the resource's subject is an Organization (local reference)."""
    subject = ((resource or {}).get("subject") or {}).get("reference")
    if isinstance(subject, str) and subject.startswith("Organization/") and subject.count("/") == 1:
        return subject
    return None


def _centres(who: Principal, today: dt.date) -> Select[Any] | list[str] | None:
    """The centres whose documents ``who`` may read (``Organization/<id>``), or None."""
    if who.role in STAFF and who.organization:
        return [who.organization]
    if who.role is Role.PARENT and who.fhir_user:
        day = today.isoformat()
        guardian, enrolled = LINK.alias(), LINK.alias()
        children = select(guardian.c.patient_id).where(
            guardian.c.party == who.fhir_user, guardian.c.kind == "guardian"
        )
        if who.patient is not None:
            children = children.where(guardian.c.patient_id == who.patient)
        return select(enrolled.c.party).where(
            enrolled.c.kind == "enrolment",
            enrolled.c.patient_id.in_(children),
            or_(enrolled.c.start.is_(None), enrolled.c.start <= day),
            or_(enrolled.c.end.is_(None), enrolled.c.end >= day),
        )
    return None


def visible(
    who: Principal, today: dt.date, type_col: Any, id_col: Any
) -> ColumnElement[bool] | None:
    """SQL: the centre documents ``who`` may see (None: this rule opens nothing)."""
    centres = _centres(who, today)
    if centres is None:
        return None
    ref = REF.alias()
    subjects = select(ref.c.res_id).where(
        ref.c.res_type.in_(sorted(CENTRE_DOCUMENT_TYPES)),
        ref.c.param == "subject",
        ref.c.target_type == "Organization",
        ("Organization/" + ref.c.target_id).in_(centres),
    )
    return and_(type_col.in_(sorted(CENTRE_DOCUMENT_TYPES)), id_col.in_(subjects))


def may_write(who: Principal, resource_type: str, resource: dict[str, Any] | None) -> bool:
    """Whether ``who`` writes this as a document of their own centre (health manager only)."""
    return (
        resource_type in CENTRE_DOCUMENT_TYPES
        and who.role is Role.HEALTH_MANAGER
        and who.organization is not None
        and subject_centre(resource) == who.organization
    )
