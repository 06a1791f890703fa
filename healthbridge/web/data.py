"""What the pages show, read through the repository :class:`Transaction` (never raw SQL).

Every function takes the request's transaction, whose context carries the user's principal,
so the store's access rules (role, scopes, reach) and audit apply to page reads exactly as to
FHIR reads: there is no reach rule here. A record out of the user's reach is simply not found
(docs/access.md "Reach"), which the pages show as "not found".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthbridge import terminology as t
from healthbridge.charts.labels import Lang
from healthbridge.charts.summary import ChildSummary, child_name, summarise
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.errors import ForbiddenError, GoneError, NotFoundError
from healthbridge.fhir.facts import flag_severity
from healthbridge.operations import OperationCall
from healthbridge.store.paging import search_all as search_all
from healthbridge.store.repository import Transaction

Resource = dict[str, Any]


def resources(txn: Transaction, rtype: str, params: Sequence[tuple[str, str]]) -> list[Resource]:
    """The resources of type ``rtype`` found by a search (included ones of other types left)."""
    return [
        s.resource
        for s in search_all(txn, rtype, params)
        if s.resource is not None and s.resource_type == rtype
    ]


def read(txn: Transaction, rtype: str, rid: str) -> Resource | None:
    """A resource, or None when unknown or deleted."""
    try:
        return txn.read(rtype, rid).resource
    except (NotFoundError, GoneError):
        return None


def parent_children(txn: Transaction, related_person_id: str) -> list[Resource]:
    """The children a guardian is linked to (``RelatedPerson.patient`` and ``Patient.link``)."""
    ids: list[str] = []
    rp = read(txn, "RelatedPerson", related_person_id)
    if rp is not None:
        ids.append(rp.get("patient", {}).get("reference", "").split("/")[-1])
    for p in resources(txn, "Patient", [("link", f"RelatedPerson/{related_person_id}")]):
        ids.append(str(p["id"]))
    out = [read(txn, "Patient", i) for i in dict.fromkeys(i for i in ids if i)]
    return [p for p in out if p is not None]


def consented_children(txn: Transaction, org_id: str) -> list[Resource]:
    """Children whose guardian has an active consent to share with ``org_id``."""
    consents = resources(
        txn, "Consent", [("organization", f"Organization/{org_id}"), ("status", "active")]
    )
    ids = dict.fromkeys(c.get("patient", {}).get("reference", "").split("/")[-1] for c in consents)
    out = [read(txn, "Patient", i) for i in ids if i]
    return sorted((p for p in out if p is not None), key=lambda p: str(p.get("id")))


def child_summary(
    txn: Transaction, patient_id: str, rules: RuleSet, lang: Lang, as_of: dt.date
) -> ChildSummary:
    """The child's summary from their compartment (``$everything``)."""
    return summarise(record(txn, patient_id), patient_id, rules, as_of=as_of, lang=lang)


def record(txn: Transaction, patient_id: str) -> list[Resource]:
    """The child's whole record, ONE ``$everything`` (a page needing the summary and some
    types of the compartment reads this once and splits it with :func:`of_type` and
    :func:`summary_of`, instead of one ``$everything`` per type: the child page made five)."""
    items = [s.resource for s in txn.everything(patient_id) if s.resource is not None]
    return [*items, *_centre_of(txn, items, patient_id)]


def _centre_of(txn: Transaction, items: Sequence[Resource], patient_id: str) -> list[Resource]:
    """The Organization of the child's centre (not in the compartment): its name tells the
    parent who will call (:func:`healthbridge.charts.problems.problems`)."""
    from healthbridge.charts.summary import enrolment

    patient = next(
        (r for r in items if r.get("resourceType") == "Patient" and r.get("id") == patient_id),
        None,
    )
    centre = enrolment(patient)[0] if patient is not None else None
    if centre is None or any(
        r.get("resourceType") == "Organization" and r.get("id") == centre for r in items
    ):
        return []
    try:
        found = txn.read("Organization", centre).resource
    except (NotFoundError, GoneError, ForbiddenError):  # the name is a courtesy, not a need
        return []
    return [found] if found else []


def of_type(items: Sequence[Resource], rtype: str) -> list[Resource]:
    """The resources of one type among a record's (as :func:`compartment` returns them)."""
    return [r for r in items if r.get("resourceType") == rtype]


def summary_of(
    items: Sequence[Resource], patient_id: str, rules: RuleSet, lang: Lang, as_of: dt.date
) -> ChildSummary:
    """:func:`child_summary` of a record already read by :func:`record`."""
    return summarise(list(items), patient_id, rules, as_of=as_of, lang=lang)


def compartment(txn: Transaction, patient_id: str, rtype: str) -> list[Resource]:
    """The child's resources of one type, newest first (by id order of the store)."""
    return [
        s.resource
        for s in txn.everything(patient_id, types={rtype})
        if s.resource is not None and s.resource_type == rtype
    ]


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An open review Task of the centre's worklist with its alert Flag and child."""

    task: Resource
    flag: Resource
    patient: Resource | None

    @property
    def kind(self) -> str:
        for coding in self.flag.get("code", {}).get("coding", []):
            if coding.get("system") == t.CS_ALERT_KIND:
                return str(coding.get("code"))
        return ""

    @property
    def severity(self) -> str | None:
        return flag_severity(self.flag)

    @property
    def task_status(self) -> str:
        return str(self.task.get("status"))

    @property
    def child_name(self) -> str:
        return child_name(self.patient) if self.patient else ""


def worklist(
    txn: Transaction,
    org_id: str,
    children: Sequence[Resource],
    *,
    base_url: str,
    kind: str | None = None,
) -> list[WorkItem]:
    """The centre's open review Tasks with their Flags, in the order of the clinical
    pipeline's ``Organization/{id}/$worklist`` (severity, then due date), which this calls:
    one definition of the worklist for FHIR clients and pages."""
    from healthbridge.pipeline import worklist as operations

    call = operation_call("worklist", "Organization", org_id, [], txn, base_url)
    bundle = operations.worklist(call)
    by_id = {str(p["id"]): p for p in children}
    found: dict[str, Resource] = {}
    tasks: list[Resource] = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        if entry.get("search", {}).get("mode") == "match":
            tasks.append(resource)
        else:
            found[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource
    items = []
    for task in tasks:
        flag = found.get(str(task.get("focus", {}).get("reference", "")))
        if flag is None:
            continue
        pid = str(task.get("for", {}).get("reference", "")).removeprefix("Patient/")
        patient = by_id.get(pid) or (read(txn, "Patient", pid) if pid else None)
        item = WorkItem(task, flag, patient)
        if not kind or item.kind == kind:
            items.append(item)
    return items


def operation_call(
    name: str,
    resource_type: str,
    resource_id: str,
    parameters: list[tuple[str, Any]],
    txn: Transaction,
    base_url: str,
) -> OperationCall:
    """An instance-level operation call made by a page, in the page's transaction."""
    method = "GET" if name == "worklist" else "POST"
    return OperationCall(
        name, "instance", resource_type, resource_id, parameters, None, txn, base_url, method
    )


def referrals_to(txn: Transaction, org_id: str) -> list[Resource]:
    """ServiceRequests (referrals) whose performer is ``org_id``, newest first."""
    found = resources(txn, "ServiceRequest", [("performer", f"Organization/{org_id}")])
    return sorted(found, key=lambda r: str(r.get("authoredOn", "")), reverse=True)


def classes_of(txn: Transaction, org_id: str) -> list[Resource]:
    """The centre's classes (Locations managed by it)."""
    rooms = resources(txn, "Location", [("organization", f"Organization/{org_id}")])
    return sorted(rooms, key=lambda r: str(r.get("id")))
