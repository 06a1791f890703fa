"""The health manager's worklist as FHIR operations (http://hl7.org/fhir/R4/operations.html).

* ``GET [base]/Organization/{centre}/$worklist`` — a ``searchset`` Bundle of the centre's open
  review Tasks (owner = the centre's health-manager PractitionerRole or the centre), each
  followed by its Flag (``search.mode = include``), sorted by severity (high first) then due
  date (``Task.restriction.period.end``).
* ``POST [base]/Task/{id}/$acknowledge`` (optional ``note``): status ``accepted``.
* ``POST [base]/Task/{id}/$note`` (``text``): appends a ``Task.note``.
* ``POST [base]/Task/{id}/$resolve`` (``outcome``): status ``completed`` with the outcome as
  ``Task.output`` (hb-task-1).
* ``POST [base]/Task/{id}/$refer`` (``performer`` = ``Organization/x``, optional ``reason``,
  ``requester``): creates an ``hb-referral`` ServiceRequest to the hospital in the same
  transaction, links it as ``Task.output`` and sets status ``in-progress``.

A plain ``PUT Task/{id}`` works as well (the Task is an ordinary resource). The caller (the
access layer's Principal, :func:`healthbridge.access.control.principal_of`) is recorded as the
author of notes (its FHIR user, else its subject) and the requester of referrals. The
paediatrician's view of referrals to their hospital is the ordinary search
``ServiceRequest?performer=Organization/x&status=active``.
"""

from __future__ import annotations

from typing import Any

from healthbridge import terminology as t
from healthbridge.access.control import principal_of
from healthbridge.clinical.vocab import Severity
from healthbridge.errors import BadRequestError, FhirError
from healthbridge.inputs import extract as x
from healthbridge.operations import OperationCall, OperationRegistry
from healthbridge.pipeline.alerts import (
    CS_TASK_KIND,
    OPEN_TASK_STATUSES,
    flag_kind,
    flag_severity,
)
from healthbridge.pipeline.engine import now_instant
from healthbridge.store.paging import search_all
from healthbridge.store.repository import StoredResource, Transaction

REFERRAL_PROFILE = f"{t.CANONICAL_BASE}/StructureDefinition/hb-referral"


def register(registry: OperationRegistry) -> None:
    """Register the worklist operations."""
    registry.register(
        "worklist",
        worklist,
        levels={"instance"},
        resource_types={"Organization"},
        affects_state=False,
        description="Open alert review Tasks of a centre, by severity and due date",
    )
    for name, handler, text in (
        ("acknowledge", acknowledge, "Acknowledge an alert review Task"),
        ("note", note, "Add a note to an alert review Task"),
        ("resolve", resolve, "Resolve an alert review Task with its outcome"),
        ("refer", refer, "Refer the child: a ServiceRequest to the hospital"),
    ):
        registry.register(
            name,
            handler,
            levels={"instance"},
            resource_types={"Task"},
            affects_state=True,
            description=text,
        )


def _owners(txn: Transaction, centre: str) -> list[str]:
    owners = [f"Organization/{centre}"]
    for s in search_all(txn, "PractitionerRole", [("organization", f"Organization/{centre}")]):
        owners.append(f"PractitionerRole/{s.id}")
    return owners


def worklist(call: OperationCall) -> dict[str, Any]:
    """``Organization/{id}/$worklist``."""
    txn, centre = call.txn, str(call.resource_id)
    code = f"{CS_TASK_KIND}|alert-review"
    status = ",".join(OPEN_TASK_STATUSES)
    tasks: dict[str, StoredResource] = {}
    flags: dict[str, StoredResource] = {}
    owners = _owners(txn, centre)
    for start in range(0, len(owners), 50):
        params = [
            ("code", code),
            ("status", status),
            ("owner", ",".join(owners[start : start + 50])),
            ("_include", "Task:focus"),
        ]
        for s in search_all(txn, "Task", params):
            (tasks if s.resource_type == "Task" else flags)[s.id] = s
    rows = []
    for task in tasks.values():
        body = task.resource or {}
        fid = x.ref_id(body.get("focus"), "Flag")
        flag = flags.get(fid or "")
        severity = flag_severity(flag.resource or {}) if flag is not None else None
        due = str(((body.get("restriction") or {}).get("period") or {}).get("end", "9999"))
        rank = severity.rank if severity is not None else 0
        rows.append((-rank, due, task.id, task, flag))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    entries: list[dict[str, Any]] = []
    base = call.base_url.rstrip("/")
    for _rank, _due, _id, task, flag in rows:
        entries.append(_entry(base, task, "match"))
        if flag is not None:
            entries.append(_entry(base, flag, "include"))
    return {"resourceType": "Bundle", "type": "searchset", "total": len(rows), "entry": entries}


def _entry(base: str, stored: StoredResource, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{stored.resource_type}/{stored.id}",
        "resource": stored.resource,
        "search": {"mode": mode},
    }


#: What R4 ``Annotation.authorReference`` may name (Practitioner | Patient | RelatedPerson |
#: Organization, http://hl7.org/fhir/R4/datatypes.html#Annotation).
_NOTE_AUTHORS = frozenset({"Practitioner", "Patient", "RelatedPerson", "Organization"})


def _caller(call: OperationCall) -> dict[str, Any]:
    """The caller as a note author: ``authorReference`` for a Principal with a FHIR user
    (a PractitionerRole user is named by the role's Practitioner, since R4 Annotation cannot
    reference a PractitionerRole), else ``authorString``."""
    who = principal_of(call.txn)
    if who is not None and who.fhir_user:
        rtype, _, rid = who.fhir_user.partition("/")
        if rtype in _NOTE_AUTHORS:
            return {"authorReference": {"reference": who.fhir_user}}
        if rtype == "PractitionerRole" and rid:
            try:
                role = call.txn.read("PractitionerRole", rid).resource or {}
            except FhirError:
                role = {}
            practitioner = (role.get("practitioner") or {}).get("reference")
            if isinstance(practitioner, str) and practitioner.startswith("Practitioner/"):
                return {"authorReference": {"reference": practitioner}}
        return {"authorString": who.fhir_user}
    subject = who.subject if who is not None else call.txn.context.principal
    return {"authorString": str(subject)} if subject else {}


def _review_task(call: OperationCall) -> dict[str, Any]:
    task = dict(call.txn.read("Task", str(call.resource_id)).resource or {})
    codes = [c.get("code") for c in (task.get("code") or {}).get("coding") or ()]
    if "alert-review" not in codes:
        raise BadRequestError(f"Task/{call.resource_id} is not an alert review Task")
    return task


def _text(call: OperationCall, name: str, *, required: bool) -> str | None:
    value = call.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequestError(f"Parameter {name!r} is required")
        return None
    return str(value)


def _save(call: OperationCall, task: dict[str, Any]) -> dict[str, Any]:
    task["lastModified"] = now_instant()
    stored = call.txn.update("Task", str(task["id"]), task).stored
    return stored.resource or task


def _add_note(call: OperationCall, task: dict[str, Any], text: str) -> None:
    task["note"] = [
        *(task.get("note") or []),
        {**_caller(call), "time": now_instant(), "text": text},
    ]


def acknowledge(call: OperationCall) -> dict[str, Any]:
    """``Task/{id}/$acknowledge``: the health manager has seen the alert."""
    task = _review_task(call)
    if task.get("status") in ("requested", "received", "ready"):
        task["status"] = "accepted"
    task["businessStatus"] = {"text": "acknowledged"}
    text = _text(call, "note", required=False)
    if text:
        _add_note(call, task, text)
    return _save(call, task)


def note(call: OperationCall) -> dict[str, Any]:
    """``Task/{id}/$note``: append a note."""
    task = _review_task(call)
    _add_note(call, task, str(_text(call, "text", required=True)))
    return _save(call, task)


def resolve(call: OperationCall) -> dict[str, Any]:
    """``Task/{id}/$resolve``: the review is done; ``outcome`` becomes the Task output."""
    task = _review_task(call)
    outcome = str(_text(call, "outcome", required=True))
    task["status"] = "completed"
    task["businessStatus"] = {"text": "resolved"}
    task["output"] = [
        *(task.get("output") or []),
        {"type": {"text": "review outcome"}, "valueString": outcome},
    ]
    return _save(call, task)


def refer(call: OperationCall) -> dict[str, Any]:
    """``Task/{id}/$refer``: a referral ServiceRequest to ``performer`` (the hospital)."""
    task = _review_task(call)
    performer = _text(call, "performer", required=True)
    if x.ref_id({"reference": performer}, "Organization") is None:
        raise BadRequestError("performer must be an Organization reference")
    call.txn.read("Organization", str(x.ref_id({"reference": performer}, "Organization")))
    requester = _text(call, "requester", required=False)
    if requester is None:
        who = principal_of(call.txn)
        fhir_user = who.fhir_user if who is not None else None
        requester = fhir_user or (task.get("owner") or {}).get("reference")
    if not requester:
        raise BadRequestError("requester is required (no caller identity and no Task owner)")
    flag_id = x.ref_id(task.get("focus"), "Flag")
    flag = call.txn.read("Flag", str(flag_id)).resource or {} if flag_id else {}
    kind = flag_kind(flag)
    display = (flag.get("code") or {}).get("text") or (kind.value if kind else "alert")
    reason = _text(call, "reason", required=False)
    child = x.ref_id(task.get("for"), "Patient")
    severity = flag_severity(flag)
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "urgent" if severity is Severity.HIGH else "routine",
        "category": [
            {"coding": [{"system": t.SNOMED, "code": "3457005", "display": "Patient referral"}]}
        ],
        "code": {"text": f"转诊评估：{display} (referral for assessment)"},
        "authoredOn": now_instant(),
        "requester": {"reference": requester},
        "performer": [{"reference": performer}],
        "supportingInfo": [{"reference": f"Flag/{flag_id}"}] if flag_id else [],
    }
    if child:
        request["meta"] = {"profile": [REFERRAL_PROFILE]}
        request["subject"] = {"reference": f"Patient/{child}"}
    else:
        request["subject"] = flag.get("subject") or {"reference": performer}
    for ext in flag.get("extension") or ():
        ref = (ext.get("valueReference") or {}).get("reference")
        if ref:
            request["supportingInfo"].append({"reference": ref})
    if reason:
        request["note"] = [{"text": reason}]
    created = call.txn.create(request).stored
    task["status"] = "in-progress"
    task["businessStatus"] = {"text": "referred"}
    task["output"] = [
        *(task.get("output") or []),
        {"type": {"text": "referral"}, "valueReference": {"reference": created.reference}},
    ]
    if reason:
        _add_note(call, task, reason)
    return _save(call, task)
