"""Rows that access control reads: patient-compartment membership and patient links.

Both are derived from each resource at write time, in the same transaction, so that the
reach of a caller is one indexed query and a search can be filtered in SQL:

* **compartment** — the patients whose compartment a resource belongs to, per the R4 Patient
  CompartmentDefinition (http://hl7.org/fhir/R4/compartmentdefinition-patient.html), read from
  the reference index rows of the parameters it names (``data/patient-compartment.json``).
* **patient_link** — the facts of the reach rules (:mod:`healthbridge.access.policy`):
  guardians (``RelatedPerson.patient``, ``Patient.link.other``), enrolment at a childcare
  centre (the ``childcare-enrollment`` extension on the child), Consent to share with an
  organisation (``hb-data-sharing-consent``), one row per permitted purpose (kind
  ``consent:<ActReason code>``, :class:`healthbridge.fhir.reach.Purpose`), and referrals
  (``ServiceRequest.performer`` of an *active* request, dated by its occurrence window plus
  grace, :func:`healthbridge.fhir.reach.referral_window`). Whether the writer of a referral
  was entitled to make it is decided by the access layer when it is written
  (``AccessControl.filter_links``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any, Final

from sqlalchemy import Connection, Table, delete, insert, select

from healthbridge.fhir import facts
from healthbridge.fhir.reach import REFERRAL_STATES, consent_purposes, referral_window
from healthbridge.fhir.searchparams import IndexRows, extract, params_for
from healthbridge.store.models import COMPARTMENT_TABLE, PatientLinkRow

COMPARTMENT: Table = COMPARTMENT_TABLE
LINK: Table = PatientLinkRow.__table__  # type: ignore[attr-defined]
ENROLLMENT_EXTENSION: Final = (
    "https://healthbridge.github.io/fhir/StructureDefinition/childcare-enrollment"
)
#: Consent states that grant access (http://hl7.org/fhir/R4/valueset-consent-state-codes.html).
CONSENT_GRANTING_STATES: Final = frozenset({"active"})


@cache
def compartment_params() -> dict[str, frozenset[str]]:
    """Search parameters that put a resource of each type into a patient's compartment."""
    text = resources.files("healthbridge.fhir").joinpath("data/patient-compartment.json")
    data = json.loads(text.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {k: set(v) for k, v in data["resources"].items()}
    for rtype, params in data.get("additions", {}).items():
        out.setdefault(rtype, set()).update(params)
    return {k: frozenset(v) for k, v in out.items()}


def compartment_types() -> frozenset[str]:
    """Types that can belong to a patient compartment (plus Patient itself)."""
    return frozenset(compartment_params()) | {"Patient"}


@cache
def _compartment_rows(rtype: str) -> frozenset[str]:
    """The ``param`` of the index rows that hold ``rtype``'s compartment references: a
    restricted parameter's (Flag's ``patient``: ``subject`` whose target is a Patient) are
    its parts' (:func:`healthbridge.fhir.searchparam_defs._restrictions`)."""
    defined = params_for(rtype)
    params = [defined[code] for code in compartment_params().get(rtype, ())]
    return frozenset(
        code for p in params if p.restricted_to in (None, "Patient") for code in p.index_codes
    )


def compartment_patients(rtype: str, resource_id: str, index_rows: IndexRows) -> set[str]:
    """Ids of the patients whose compartment ``rtype/resource_id`` belongs to."""
    params = _compartment_rows(rtype)
    out = {
        pid
        for row in index_rows.reference
        if row.get("param") in params and (pid := facts.ref_id(row.get("url"), "Patient"))
    }
    if rtype == "Patient":
        out.add(resource_id)
    return out


def _ref_id(value: Any, rtype: str) -> str | None:
    return facts.ref_id(value, rtype) if isinstance(value, dict) else None


def _period(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    start, end = value.get("start"), value.get("end")
    return (
        start[:10] if isinstance(start, str) else None,
        end[:10] if isinstance(end, str) else None,
    )


def referral_period(resource: dict[str, Any]) -> dict[str, str]:
    """The window (FHIR Period dates) in which a ServiceRequest opens the child's record:
    ``occurrencePeriod`` / ``occurrenceDateTime``, else ``authoredOn`` (else the day it was
    written, ``meta.lastUpdated``) + the default window; plus the grace period."""
    occurrence = resource.get("occurrencePeriod")
    start = end = None
    if isinstance(occurrence, dict):
        start, end = facts.date_of(occurrence.get("start")), facts.date_of(occurrence.get("end"))
    elif resource.get("occurrenceDateTime") is not None:
        start = end = facts.date_of(resource.get("occurrenceDateTime"))
    authored = facts.date_of(resource.get("authoredOn")) or facts.date_of(
        (resource.get("meta") or {}).get("lastUpdated")
    )
    window = referral_window(start, end, authored)
    return {
        k: v.isoformat() for k, v in (("start", window.start), ("end", window.end)) if v is not None
    }


def patient_links(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The access facts stated by ``resource`` (rows for ``patient_link`` without source)."""
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    rows: list[dict[str, Any]] = []

    def add(patient: str | None, kind: str, party: str, period: Any = None) -> None:
        if patient:
            start, end = _period(period)
            rows.append(
                {"patient_id": patient, "kind": kind, "party": party, "start": start, "end": end}
            )

    if rtype == "RelatedPerson" and resource.get("active", True) is not False and rid:
        add(_ref_id(resource.get("patient"), "Patient"), "guardian", f"RelatedPerson/{rid}")
    elif rtype == "Patient" and rid:
        for link in resource.get("link") or []:
            other = _ref_id(link.get("other") if isinstance(link, dict) else None, "RelatedPerson")
            if other:
                add(rid, "guardian", f"RelatedPerson/{other}")
        for ext in resource.get("extension") or []:
            if not isinstance(ext, dict) or ext.get("url") != ENROLLMENT_EXTENSION:
                continue
            parts = {e.get("url"): e for e in ext.get("extension") or [] if isinstance(e, dict)}
            centre = _ref_id(parts.get("centre", {}).get("valueReference"), "Organization")
            if centre:
                period = parts.get("period", {}).get("valuePeriod")
                add(rid, "enrolment", f"Organization/{centre}", period)
    elif rtype == "Consent":
        provision = resource.get("provision") or {}
        if (
            resource.get("status") in CONSENT_GRANTING_STATES
            and isinstance(provision, dict)
            and provision.get("type", "permit") == "permit"
        ):
            patient = _ref_id(resource.get("patient"), "Patient")
            # the recipients are provision.actor (role IRCP); Consent.organization (the
            # custodian) only when the provision names no actor
            actors = [a.get("reference") for a in provision.get("actor") or []]
            orgs = {o for o in (_ref_id(a, "Organization") for a in actors) if o}
            if not actors:
                orgs = {
                    o
                    for o in (
                        _ref_id(x, "Organization") for x in resource.get("organization") or []
                    )
                    if o
                }
            purposes = sorted(consent_purposes(provision))
            for org in sorted(orgs):
                for purpose in purposes:
                    add(
                        patient,
                        f"consent:{purpose}",
                        f"Organization/{org}",
                        provision.get("period"),
                    )
    elif rtype == "ServiceRequest" and resource.get("status") in REFERRAL_STATES:
        patient = _ref_id(resource.get("subject"), "Patient")
        for performer in resource.get("performer") or []:
            receiver = _ref_id(performer, "Organization")
            if receiver:
                add(patient, "referral", f"Organization/{receiver}", referral_period(resource))
    return rows


def link_types() -> frozenset[str]:
    """Types whose resources state access facts."""
    return frozenset({"RelatedPerson", "Patient", "Consent", "ServiceRequest"})


def rows_for(
    rtype: str, resource_id: str, resource: dict[str, Any], index_rows: IndexRows
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(compartment rows, patient_link rows)`` for one resource version."""
    comp = [
        {"res_type": rtype, "res_id": resource_id, "patient_id": p}
        for p in sorted(compartment_patients(rtype, resource_id, index_rows))
    ]
    links = (
        [{"src_type": rtype, "src_id": resource_id, **r} for r in patient_links(resource)]
        if rtype in link_types()
        else []
    )
    return comp, links


def clear(conn: Connection, rtype: str, resource_id: str, *, compartment: bool) -> None:
    """Remove the derived rows of a resource (the compartment only when ``compartment``)."""
    if rtype in link_types():
        conn.execute(delete(LINK).where(LINK.c.src_type == rtype, LINK.c.src_id == resource_id))
    if compartment and rtype in compartment_types():
        conn.execute(
            delete(COMPARTMENT).where(
                COMPARTMENT.c.res_type == rtype, COMPARTMENT.c.res_id == resource_id
            )
        )


def backfill(conn: Connection, batch: int = 1000, *, compartment: bool = True) -> None:
    """Fill both tables (only ``patient_link`` unless ``compartment``) from the stored current
    versions (migration of existing data). Referrals found here were written before their
    writers were checked: they keep counting (within their window and under a covering
    consent)."""
    from healthbridge.store.models import ResourceRow

    res: Table = ResourceRow.__table__  # type: ignore[attr-defined]
    types = sorted((compartment_types() if compartment else frozenset()) | link_types())
    comp: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []

    def flush() -> None:
        if comp:
            conn.execute(insert(COMPARTMENT), comp)
        if links:
            conn.execute(insert(LINK), links)
        comp.clear()
        links.clear()

    rows: Iterable[Any] = conn.execute(
        select(res.c.res_type, res.c.res_id, res.c.content).where(
            res.c.res_type.in_(types), res.c.deleted.is_(False)
        )
    ).all()
    for row in rows:
        resource = json.loads(row.content)
        c, lk = rows_for(row.res_type, row.res_id, resource, extract(resource))
        if compartment:
            comp.extend(c)
        links.extend(lk)
        if len(comp) + len(links) >= batch:
            flush()
    flush()
