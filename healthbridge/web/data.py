"""What the pages show, read through the repository :class:`Transaction` (never raw SQL).

Every function takes the request's transaction, whose context carries the user's principal,
so the store's read hooks (access rules, audit) see page reads exactly like FHIR reads. The
reach checks here (:func:`can_see`) mirror the access policy for the pages' own navigation:
a parent sees their linked children, a centre its enrolled children, a hospital the children
whose guardian consented to share with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from healthbridge import terminology as t
from healthbridge.access.tokens import Role
from healthbridge.charts.labels import Lang
from healthbridge.charts.summary import ChildSummary, child_name, enrolment, summarise
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.errors import GoneError, NotFoundError
from healthbridge.store.repository import Transaction
from healthbridge.web.auth import WebUser

Resource = dict[str, Any]


def search_all(txn: Transaction, rtype: str, params: Sequence[tuple[str, str]]) -> Iterator[Any]:
    """Every match of a search, page by page (matches and ``_include``/``_revinclude``d)."""
    offset = 0
    while True:
        page = txn.search_params(
            rtype, [*params, ("_count", str(txn.max_count)), ("_offset", str(offset))]
        )
        yield from page.matches
        yield from page.included
        offset += len(page.matches)
        if not page.matches or page.total is None or offset >= page.total:
            return


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


def centre_children(txn: Transaction, org_id: str) -> list[Resource]:
    """Active children enrolled at a centre (childcare-enrollment extension)."""
    patients = resources(txn, "Patient", [("active", "true")])
    return sorted(
        (p for p in patients if enrolment(p)[0] == org_id), key=lambda p: str(p.get("id"))
    )


def consented_children(txn: Transaction, org_id: str) -> list[Resource]:
    """Children whose guardian has an active consent to share with ``org_id``."""
    consents = resources(
        txn, "Consent", [("organization", f"Organization/{org_id}"), ("status", "active")]
    )
    ids = dict.fromkeys(c.get("patient", {}).get("reference", "").split("/")[-1] for c in consents)
    out = [read(txn, "Patient", i) for i in ids if i]
    return sorted((p for p in out if p is not None), key=lambda p: str(p.get("id")))


def can_see(user: WebUser, txn: Transaction, patient_id: str) -> bool:
    """Whether the child is within the user's reach (see module docstring)."""
    if user.role is Role.PARENT:
        return any(p["id"] == patient_id for p in parent_children(txn, user.ref_id))
    patient = read(txn, "Patient", patient_id)
    if patient is None or user.org_id is None:
        return False
    if user.role is Role.HEALTH_MANAGER:
        return enrolment(patient)[0] == user.org_id
    if user.role is Role.PAEDIATRICIAN:
        consents = resources(
            txn,
            "Consent",
            [("patient", f"Patient/{patient_id}"), ("organization", f"Organization/{user.org_id}")],
        )
        return any(c.get("status") == "active" for c in consents)
    return False


def child_summary(
    txn: Transaction, patient_id: str, rules: RuleSet, lang: Lang, as_of: dt.date
) -> ChildSummary:
    """The child's summary from their compartment (``$everything``)."""
    items = [s.resource for s in txn.everything(patient_id) if s.resource is not None]
    return summarise(items, patient_id, rules, as_of=as_of, lang=lang)


def compartment(txn: Transaction, patient_id: str, rtype: str) -> list[Resource]:
    """The child's resources of one type, newest first (by id order of the store)."""
    return [
        s.resource
        for s in txn.everything(patient_id, types={rtype})
        if s.resource is not None and s.resource_type == rtype
    ]


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An open alert (Flag) with its review Task (None until one exists)."""

    flag: Resource
    task: Resource | None
    patient: Resource

    @property
    def kind(self) -> str:
        for coding in self.flag.get("code", {}).get("coding", []):
            if coding.get("system") == t.CS_ALERT_KIND:
                return str(coding.get("code"))
        return ""

    @property
    def severity(self) -> str | None:
        for ext in self.flag.get("extension", []):
            if str(ext.get("url", "")).endswith("/alert-severity"):
                return str(ext.get("valueCode"))
        return None

    @property
    def task_status(self) -> str:
        return str(self.task.get("status")) if self.task else "none"

    @property
    def child_name(self) -> str:
        return child_name(self.patient)


def worklist(
    txn: Transaction, children: Sequence[Resource], *, kind: str | None = None
) -> list[WorkItem]:
    """Active alert Flags of ``children`` with their review Tasks, newest first."""
    by_id = {str(p["id"]): p for p in children}
    flags: list[Resource] = []
    tasks: dict[str, Resource] = {}
    ids = list(by_id)
    for start in range(0, len(ids), 50):  # R4 Flag has no status search parameter
        refs = ",".join(f"Patient/{i}" for i in ids[start : start + 50])
        for s in search_all(txn, "Flag", [("patient", refs), ("_revinclude", "Task:focus")]):
            if s.resource is None:
                continue
            if s.resource_type == "Flag" and s.resource.get("status") == "active":
                flags.append(s.resource)
            elif s.resource_type == "Task":
                focus = s.resource.get("focus", {}).get("reference", "")
                tasks[focus] = s.resource
    items = []
    for flag in flags:
        pid = flag.get("subject", {}).get("reference", "").split("/")[-1]
        if pid not in by_id:
            continue
        item = WorkItem(flag, tasks.get(f"Flag/{flag['id']}"), by_id[pid])
        if kind and item.kind != kind:
            continue
        items.append(item)
    return sorted(items, key=lambda i: str(i.flag.get("period", {}).get("start", "")), reverse=True)


def referrals_to(txn: Transaction, org_id: str) -> list[Resource]:
    """ServiceRequests (referrals) whose performer is ``org_id``, newest first."""
    found = resources(txn, "ServiceRequest", [("performer", f"Organization/{org_id}")])
    return sorted(found, key=lambda r: str(r.get("authoredOn", "")), reverse=True)


def classes_of(txn: Transaction, org_id: str) -> list[Resource]:
    """The centre's classes (Locations managed by it)."""
    rooms = resources(txn, "Location", [("organization", f"Organization/{org_id}")])
    return sorted(rooms, key=lambda r: str(r.get("id")))
