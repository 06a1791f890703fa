"""The guardian's rights over their child's record (PIPL Art. 44–47; issue 20), read and
written through the repository :class:`Transaction` of the parent's request.

* **who viewed or changed the record** — the AuditEvents that name the child (``entity`` or
  ``patient``), read under the server's authority (parents cannot search AuditEvent through
  the API) after the page has checked the child is the parent's (:func:`access_log`);
* **corrections** — a request to correct one record is a FHIR ``Task`` (code ``change`` of
  http://hl7.org/fhir/CodeSystem/task-code, "change the focal resource") for the child, focused
  on the record, owned by the organisation that wrote it, tracked through ``Task.status``
  (:func:`request_correction`, :func:`corrections`);
* **sharing per organisation and purpose** — Consent resources written with the parent's own
  authority (:func:`set_sharing`); the store's reach follows on the next request
  (docs/access.md "Consent by purpose").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Final

from healthbridge import terminology as t
from healthbridge.access.auditing import record_access, records_of
from healthbridge.access.policy import V3_ACT_REASON, Purpose, consent_purposes
from healthbridge.errors import BadRequestError
from healthbridge.store.repository import Transaction
from healthbridge.web.data import Resource, read, resources

TASK_CODE_SYSTEM: Final = "http://hl7.org/fhir/CodeSystem/task-code"
CORRECTION_CODE: Final = "change"
#: The most AuditEvents one access-log page reads while leaving out the parent's own.
MAX_SCANNED: Final = 5000
#: Audit events shown per page of the access log.
PAGE_SIZE: Final = 20
#: The purposes a parent can grant or withdraw per organisation on the page.
SHARING_PURPOSES: Final = (Purpose.CARE, Purpose.COORDINATION, Purpose.RESEARCH)
#: Record types a correction can be asked for (what a parent sees on the child's page).
CORRECTABLE: Final = ("Observation", "Immunization", "Encounter", "Condition", "Patient")
LOCAL: Final = dt.timezone(dt.timedelta(hours=8))
_HOSPITAL_KINDS: Final = frozenset({"mch-hospital", "community-health-centre", "prov"})


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One line of the access log: when, who (name, role, organisation), what was done."""

    when: str
    who: str
    role: str
    organisation: str
    action: str
    what: tuple[tuple[str, int], ...]  # (resource type, how many)
    times: int = 1  # identical events in the same minute, shown once


def _names(txn: Transaction, refs: set[str]) -> dict[str, str]:
    """Display names of Organization / PractitionerRole / Practitioner references."""
    out: dict[str, str] = {}
    for ref in refs:
        kind, _, rid = ref.partition("/")
        resource = read(txn, kind, rid) if kind and rid else None
        if resource is None:
            continue
        if kind == "Organization":
            out[ref] = str(resource.get("name", ref))
        elif kind == "PractitionerRole":
            doc = str((resource.get("practitioner") or {}).get("reference", ""))
            person = read(txn, "Practitioner", doc.partition("/")[2]) if doc else None
            out[ref] = _person_name(person) if person else ref
        elif kind in ("Practitioner", "RelatedPerson"):
            out[ref] = _person_name(resource)
    return out


def _person_name(resource: Resource) -> str:
    for name in resource.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        text = str(name.get("family", "")) + "".join(name.get("given") or [])
        if text:
            return text
    return ""


def _local_time(instant: str) -> str:
    try:
        when = dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except ValueError:
        return instant[:16]
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def access_log(
    txn: Transaction, patient_id: str, me: str, page: int, *, include_mine: bool = False
) -> tuple[list[AccessEntry], bool]:
    """Page ``page`` (from 1) of the AuditEvents naming the child, newest first, and whether
    there is a next page. ``me`` is the parent's ``RelatedPerson/<id>``; the parent's own
    views are left out unless ``include_mine`` (what a guardian asks is who *else* looked).

    Two searches (``entity`` and ``patient``) are merged: the first ``n`` of their union lies
    within the first ``n`` of each. Leaving out the parent's own events may need more than a
    page of each, so the window grows until the page is full or the searches are exhausted."""
    wanted = page * PAGE_SIZE
    child = f"Patient/{patient_id}"
    fetch = wanted + 1
    with txn.as_server():
        while True:
            found: dict[str, Resource] = {}
            exhausted = True
            for param in ("entity", "patient"):
                result = txn.search_params(
                    "AuditEvent", [(param, child), ("_sort", "-date"), ("_count", str(fetch))]
                )
                exhausted = exhausted and len(result.matches) < fetch
                for s in result.matches:
                    if s.resource is not None:
                        found[s.id] = s.resource
            events = sorted(found.values(), key=lambda e: str(e.get("recorded", "")), reverse=True)[
                :fetch
            ]
            if not include_mine:
                events = [e for e in events if _requestor(e) != me]
            if len(events) > wanted or exhausted or fetch >= MAX_SCANNED:
                break
            fetch = min(fetch * 4, MAX_SCANNED)
        more = len(events) > wanted
        events = events[(page - 1) * PAGE_SIZE : wanted]
        refs = {
            str((a.get("who") or {}).get("reference"))
            for e in events
            for a in e.get("agent") or []
            if (a.get("who") or {}).get("reference")
        }
        names = _names(txn, refs)
        # an event may name several children (a staff list page): only this child's records
        # are counted, so a parent learns nothing about other children
        mine = records_of(txn.conn, child, {r for e in events for r in _entity_refs(e)})
    out: list[AccessEntry] = []
    for entry in (_entry(e, names, me, mine) for e in events):
        if out and replace(out[-1], times=1) == entry:
            out[-1] = replace(out[-1], times=out[-1].times + 1)
        else:
            out.append(entry)
    return out, more


def _requestor(event: Resource) -> str:
    """The reference of the person who made the request an AuditEvent records."""
    agents = event.get("agent") or []
    person = next((a for a in agents if a.get("requestor")), agents[0] if agents else {})
    return str((person.get("who") or {}).get("reference", ""))


def _entity_refs(event: Resource) -> list[str]:
    """The ``entity.what`` references of an AuditEvent."""
    refs = (
        str((entity.get("what") or {}).get("reference", "")) for entity in event.get("entity") or []
    )
    return [ref for ref in refs if ref]


def _entry(event: Resource, names: dict[str, str], me: str, child_records: set[str]) -> AccessEntry:
    agents = event.get("agent") or []
    person = next((a for a in agents if a.get("requestor")), agents[0] if agents else {})
    org: Resource = next((a for a in agents if not a.get("requestor")), {})
    who_ref = str((person.get("who") or {}).get("reference", ""))
    role = next((c.get("code") for c in (person.get("type") or {}).get("coding", [])), "")
    who = "me" if who_ref == me else names.get(who_ref) or ""
    org_ref = str((org.get("who") or {}).get("reference", ""))
    subtype = next((c.get("code") for c in event.get("subtype") or []), "")
    types: dict[str, int] = {}
    for ref in dict.fromkeys(_entity_refs(event)):  # the child is named twice (record, patient)
        if ref in child_records:
            types[ref.split("/")[0]] = types.get(ref.split("/")[0], 0) + 1
    what = tuple(sorted(types.items()))
    return AccessEntry(
        when=_local_time(str(event.get("recorded", ""))),
        who=who,
        role=str(role or ""),
        organisation=names.get(org_ref, ""),
        action=str(subtype or event.get("action", "")),
        what=what,
    )


# ---------------------------------------------------------------------- corrections
def _author_org(txn: Transaction, resource: Resource) -> str | None:
    """The organisation that wrote ``resource``: an Organization among its performer /
    serviceProvider / recorder / asserter / requester, or the organisation of a
    PractitionerRole named there (read under the server's authority: the directory)."""
    refs: list[str] = []
    for key in ("performer", "serviceProvider", "recorder", "asserter", "requester"):
        value = resource.get(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                ref = (item.get("actor") or item).get("reference")
                if isinstance(ref, str):
                    refs.append(ref)
    for ref in refs:
        if ref.startswith("Organization/"):
            return ref
    for ref in refs:
        if ref.startswith("PractitionerRole/"):
            role = read(txn, "PractitionerRole", ref.partition("/")[2]) or {}
            org = (role.get("organization") or {}).get("reference")
            if isinstance(org, str):
                return org
    for ext in resource.get("extension") or []:  # the child's enrolment centre
        for part in ext.get("extension") or []:
            if part.get("url") == "centre":
                ref = (part.get("valueReference") or {}).get("reference")
                if isinstance(ref, str):
                    return ref
    return None


def correctable(txn: Transaction, patient_id: str) -> list[tuple[str, str]]:
    """``(reference, label)`` of the child's records a parent can ask to correct, newest
    first (the parent's own read: only what they may see)."""
    out: list[tuple[str, str]] = [(f"Patient/{patient_id}", "Patient")]
    for rtype in CORRECTABLE[:-1]:
        page = txn.search_params(
            rtype,
            [("patient", f"Patient/{patient_id}"), ("_sort", "-_lastUpdated"), ("_count", "50")],
        )
        for r in (m.resource for m in page.matches if m.resource is not None):
            out.append((f"{rtype}/{r['id']}", _label(rtype, r)))
    return out[:1] + sorted(out[1:], key=lambda x: x[1], reverse=True)[:60]


def _label(rtype: str, r: Resource) -> str:
    when = str(
        r.get("effectiveDateTime")
        or r.get("occurrenceDateTime")
        or (r.get("period") or {}).get("start")
        or r.get("recordedDate")
        or ""
    )[:10]
    code = r.get("code") or r.get("vaccineCode") or {}
    name = code.get("text") or next(
        (c.get("display") or c.get("code") for c in code.get("coding") or []), rtype
    )
    value = r.get("valueQuantity") or {}
    amount = f" {value.get('value')} {value.get('unit', '')}".rstrip() if value else ""
    return f"{when} {name}{amount}".strip()


def request_correction(
    txn: Transaction, patient_id: str, focus: str, text: str, requester: str
) -> Resource:
    """Create the correction Task. The parent must see ``focus`` (their own read) and it must
    be the child's record; the Task is written under the server's authority (parents write
    only Consents through the API) and recorded in the request's AuditEvent."""
    text = text.strip()
    if not text:
        raise BadRequestError("correction.empty")
    if len(text) > 2000:
        raise BadRequestError("correction.too_long")
    kind, _, rid = focus.partition("/")
    if kind not in CORRECTABLE or not rid:
        raise BadRequestError("correction.bad_focus")
    target = read(txn, kind, rid)  # the parent's own read: out of reach = None
    if target is None or (kind == "Patient" and rid != patient_id):
        raise BadRequestError("correction.bad_focus")
    if kind != "Patient" and patient_id not in txn.compartment_of(kind, rid):
        raise BadRequestError("correction.bad_focus")
    task: Resource = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "proposal",
        "priority": "routine",
        "code": {
            "coding": [{"system": TASK_CODE_SYSTEM, "code": CORRECTION_CODE, "display": "Change"}],
            "text": "更正申请 (correction request)",
        },
        "description": text,
        "focus": {"reference": focus},
        "for": {"reference": f"Patient/{patient_id}"},
        "authoredOn": dt.datetime.now(LOCAL).isoformat(timespec="seconds"),
        "requester": {"reference": requester},
    }
    with txn.as_server():
        owner = _author_org(txn, target)
        if owner is None:
            child = read(txn, "Patient", patient_id) or {}
            owner = _author_org(txn, child)
        if owner:
            task["owner"] = {"reference": owner}
        stored = txn.create(task).stored
    record_access(txn, "create", [stored.reference])
    assert stored.resource is not None
    return stored.resource


def corrections(txn: Transaction, patient_id: str) -> list[Resource]:
    """The child's correction Tasks, newest first (the parent's own search)."""
    found = resources(
        txn,
        "Task",
        [("patient", f"Patient/{patient_id}"), ("code", f"{TASK_CODE_SYSTEM}|{CORRECTION_CODE}")],
    )
    return sorted(found, key=lambda r: str(r.get("authoredOn", "")), reverse=True)


def open_corrections(txn: Transaction, org_id: str) -> list[Resource]:
    """Correction requests owned by ``org_id`` still to answer (the staff's own search: only
    children in their reach), oldest first."""
    found = [
        task
        for status in ("requested", "received", "accepted", "in-progress")
        for task in resources(
            txn,
            "Task",
            [
                ("owner", f"Organization/{org_id}"),
                ("code", f"{TASK_CODE_SYSTEM}|{CORRECTION_CODE}"),
                ("status", status),
            ],
        )
    ]
    return sorted(found, key=lambda r: str(r.get("authoredOn", "")))


def answer_correction(txn: Transaction, task_id: str, done: bool, text: str) -> Resource:
    """The staff's answer: ``completed`` (corrected) or ``rejected`` (not changed), with the
    reason shown to the guardian (``statusReason.text``). Written with the staff's authority."""
    text = text.strip()
    if not text:
        raise BadRequestError("correction.answer_empty")
    task = read(txn, "Task", task_id)
    codes = [c.get("code") for c in (task or {}).get("code", {}).get("coding") or []]
    if task is None or CORRECTION_CODE not in codes:
        raise BadRequestError("correction.bad_focus")
    answered = {
        **task,
        "status": "completed" if done else "rejected",
        "statusReason": {"text": text[:2000]},
        "lastModified": dt.datetime.now(LOCAL).isoformat(timespec="seconds"),
    }
    stored = txn.update("Task", task_id, answered).stored.resource
    assert stored is not None
    return stored


def task_answer(task: Resource) -> str:
    """The staff's answer to a correction request (status reason or last note)."""
    reason = (task.get("statusReason") or {}).get("text")
    if reason:
        return str(reason)
    notes = task.get("note") or []
    return str(notes[-1].get("text", "")) if notes else ""


# ---------------------------------------------------------------------- sharing
def _org_kind(org: Resource) -> set[str]:
    return {
        str(c.get("code"))
        for tp in org.get("type") or []
        for c in tp.get("coding") or []
        if c.get("system")
        in (t.CS_ORG_KIND, "http://terminology.hl7.org/CodeSystem/organization-type")
    }


def _consent_orgs(consent: Resource) -> set[str]:
    provision = consent.get("provision") or {}
    actors = [
        str((a.get("reference") or {}).get("reference", "")) for a in provision.get("actor") or []
    ]
    orgs = {a for a in actors if a.startswith("Organization/")}
    if not actors:
        orgs = {
            str(o.get("reference", ""))
            for o in consent.get("organization") or []
            if str(o.get("reference", "")).startswith("Organization/")
        }
    return orgs


def sharing(
    txn: Transaction, patient_id: str
) -> tuple[list[Resource], dict[tuple[str, Purpose], bool]]:
    """The organisations a parent can share with (hospitals and community health centres,
    and any organisation named in one of the child's Consents) and, per (organisation,
    purpose), whether an active permit Consent grants it now."""
    consents = resources(txn, "Consent", [("patient", f"Patient/{patient_id}")])
    granted: dict[tuple[str, Purpose], bool] = {}
    named: set[str] = set()
    for c in consents:
        recipients = _consent_orgs(c)
        named |= recipients
        provision = c.get("provision") or {}
        if c.get("status") != "active" or provision.get("type", "permit") != "permit":
            continue
        for org in recipients:
            for purpose in consent_purposes(provision):
                granted[(org, purpose)] = True
    orgs = [
        o
        for o in resources(txn, "Organization", [])
        if _org_kind(o) & _HOSPITAL_KINDS or f"Organization/{o['id']}" in named
    ]
    orgs.sort(key=lambda o: (f"Organization/{o['id']}" not in named, str(o.get("name", ""))))
    return orgs, granted


def _purpose_codes(provision: Resource) -> list[Purpose]:
    return sorted(consent_purposes(provision), key=lambda p: p.value)


def set_sharing(
    txn: Transaction,
    patient_id: str,
    org_id: str,
    purpose: Purpose,
    grant: bool,
    guardian: str,
) -> None:
    """Grant or withdraw sharing of the child's record with ``Organization/org_id`` for
    ``purpose``, as the parent (their own Consent writes, audited; effective at once).

    Withdrawing removes the purpose from every active Consent for that organisation (a
    Consent left with no purpose becomes ``inactive``); granting reactivates a withdrawn
    Consent for exactly that purpose, else writes a new one."""
    org = f"Organization/{org_id}"
    if read(txn, "Organization", org_id) is None:
        raise BadRequestError("sharing.unknown_org")
    consents = [
        c
        for c in resources(txn, "Consent", [("patient", f"Patient/{patient_id}")])
        if org in _consent_orgs(c) and (c.get("provision") or {}).get("type", "permit") == "permit"
    ]
    if grant:
        active = [c for c in consents if c.get("status") == "active"]
        if any(purpose in consent_purposes(c.get("provision")) for c in active):
            return
        for c in consents:
            if c.get("status") != "active" and consent_purposes(c.get("provision")) == {purpose}:
                txn.update("Consent", str(c["id"]), {**c, "status": "active"})
                return
        txn.create(_new_consent(patient_id, org, purpose, guardian))
        return
    for c in consents:
        provision = dict(c.get("provision") or {})
        if c.get("status") != "active" or purpose not in consent_purposes(provision):
            continue
        left = [p for p in _purpose_codes(provision) if p is not purpose]
        changed = dict(c)
        if left:
            provision["purpose"] = [{"system": V3_ACT_REASON, "code": p.value} for p in left]
            changed["provision"] = provision
        else:
            changed["status"] = "inactive"
        txn.update("Consent", str(c["id"]), changed)


def _new_consent(patient_id: str, org: str, purpose: Purpose, guardian: str) -> Resource:
    today = dt.datetime.now(LOCAL).date()
    return {
        "resourceType": "Consent",
        "meta": {"profile": [f"{t.CANONICAL_BASE}/StructureDefinition/hb-data-sharing-consent"]},
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"},
        "dateTime": dt.datetime.now(LOCAL).isoformat(timespec="seconds"),
        "performer": [{"reference": guardian}],
        "organization": [{"reference": org}],
        "policyRule": {"coding": [{"system": t.V3_ACT_CODE, "code": "OPTIN"}]},
        "provision": {
            "type": "permit",
            "period": {"start": today.isoformat()},
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {"reference": org},
                }
            ],
            "purpose": [{"system": V3_ACT_REASON, "code": purpose.value}],
        },
    }
