"""Alerts as FHIR: a ``Flag`` (hb-alert-flag) plus a review ``Task`` (hb-review-task).

* Flag: what (``alert-kind``), for whom (``subject``), severity (``alert-severity``
  extension), since when (``period``), and the evidence it was derived from (core extension
  ``flag-detail``, one per input record). ``active`` while the condition holds, ``inactive``
  (with ``period.end``) once it clears.
* Task (id ``review-{flag id}``): who must act (``owner``: the centre health manager's
  PractitionerRole, else the centre), the paediatrician for clinical kinds
  (``restriction.recipient``), the review deadline (``restriction.period.end``), and the
  rule provenance as ``input`` (rule id@version, rule set, grade, items, detail). When the
  condition clears, an ``output`` records it and an open Task is completed.

Centre alerts (outbreak clusters) have an Organization as subject, so they do not claim the
child profiles. :func:`open_alerts` maps stored Flags + Tasks back to
:class:`~healthbridge.clinical.alerts.OpenAlert` for ``reconcile``.
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from healthbridge import terminology as t
from healthbridge.clinical.alerts import ActionType, AlertAction, ClearReason, Finding, OpenAlert
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import AlertKind, Severity, SubjectType
from healthbridge.errors import GoneError, NotFoundError
from healthbridge.inputs.extract import Resource, ref_id
from healthbridge.store.repository import Transaction

FLAG_PROFILE = f"{t.CANONICAL_BASE}/StructureDefinition/hb-alert-flag"
TASK_PROFILE = f"{t.CANONICAL_BASE}/StructureDefinition/hb-review-task"
SEVERITY_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/alert-severity"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"
#: Why an inactive alert Flag was closed (Flag has no status reason in R4): ``resolved``,
#: ``duplicate`` or ``rule-revised`` (:class:`~healthbridge.clinical.alerts.ClearReason`).
CLOSE_REASON_EXTENSION = f"{t.CANONICAL_BASE}/StructureDefinition/alert-close-reason"
CS_TASK_KIND = f"{t.CANONICAL_BASE}/CodeSystem/task-kind"
#: Task statuses that still need someone's action (the worklist).
OPEN_TASK_STATUSES = ("requested", "received", "accepted", "ready", "in-progress", "on-hold")


@dataclass(frozen=True)
class ReviewPolicy:
    """Review deadlines by severity and the kinds routed to the paediatrician (data file)."""

    due_days: dict[Severity, int]
    clinical: frozenset[AlertKind]
    source: str


@cache
def review_policy() -> ReviewPolicy:
    """``healthbridge/pipeline/data/review.toml`` (read once, on first use)."""
    raw = tomllib.loads(files("healthbridge.pipeline").joinpath("data/review.toml").read_text())
    meta = raw["meta"]
    return ReviewPolicy(
        {Severity(k): int(v) for k, v in raw["due_days"].items()},
        frozenset(AlertKind(k) for k in raw["routing"]["clinical"]),
        f"{meta['id']}@{meta['version']}",
    )


@dataclass(frozen=True)
class Routing:
    """Who reviews a subject's alerts."""

    owner: str | None  # "PractitionerRole/x" or "Organization/x"
    paediatrician: str | None  # "Practitioner/x"


def _subject_ref(finding_or_alert_subject: str, subject_type: SubjectType) -> str:
    if subject_type is SubjectType.CENTRE:
        return f"Organization/{finding_or_alert_subject}"
    return f"Patient/{finding_or_alert_subject}"


def _input(name: str, value: str) -> dict[str, Any]:
    return {"type": {"text": name}, "valueString": value}


def flag_resource(
    flag_id: str,
    finding: Finding,
    ruleset: RuleSet,
    start: date,
    status: str = "active",
    id_types: dict[str, str] | None = None,
) -> Resource:
    """The Flag of an alert (``status`` active, or inactive with ``period.end``)."""
    text = ruleset.alerts.text(finding.kind)
    child = finding.subject_type is SubjectType.CHILD
    flag: Resource = {
        "resourceType": "Flag",
        "id": flag_id,
        "extension": [{"url": SEVERITY_EXTENSION, "valueCode": finding.severity.value}]
        + [
            {"url": FLAG_DETAIL, "valueReference": {"reference": ev}}
            for ev in _evidence_refs(finding.evidence_ids, id_types)
        ],
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "clinical",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {"system": t.CS_ALERT_KIND, "code": finding.kind.value, "display": text.display_en}
            ],
            "text": text.display_zh,
        },
        "subject": {"reference": _subject_ref(finding.subject, finding.subject_type)},
        "period": {"start": start.isoformat()},
    }
    if child:
        flag["meta"] = {"profile": [FLAG_PROFILE]}
    return flag


def _evidence_refs(ids: tuple[str, ...], id_types: dict[str, str] | None) -> list[str]:
    """``Type/id`` of each evidence id (the type as the pipeline read it; Observation when
    unknown: growth, haemoglobin and morning-check findings cite Observations)."""
    types = id_types or {}
    return [f"{types.get(i, 'Observation')}/{i}" for i in ids]


def task_resource(
    flag_id: str,
    finding: Finding,
    ruleset: RuleSet,
    routing: Routing,
    start: date,
    authored: str,
    id_types: dict[str, str] | None = None,
) -> Resource:
    """A new review Task for an alert."""
    task: Resource = {
        "resourceType": "Task",
        "id": f"review-{flag_id}",
        "status": "requested",
        "businessStatus": {"text": "new"},
        "intent": "order",
        "priority": {"high": "urgent", "moderate": "asap"}.get(finding.severity.value, "routine"),
        "code": {
            "coding": [
                {
                    "system": CS_TASK_KIND,
                    "code": "alert-review",
                    "display": "Review an early-intervention alert",
                }
            ]
        },
        "focus": {"reference": f"Flag/{flag_id}"},
        "authoredOn": authored,
        "lastModified": authored,
    }
    if finding.subject_type is SubjectType.CHILD:
        task["meta"] = {"profile": [TASK_PROFILE]}
        task["for"] = {"reference": f"Patient/{finding.subject}"}
    if routing.owner:
        task["owner"] = {"reference": routing.owner}
    _apply_finding(task, finding, ruleset, start, routing, id_types)
    return task


def _apply_finding(
    task: Resource,
    finding: Finding,
    ruleset: RuleSet,
    start: date,
    routing: Routing,
    id_types: dict[str, str] | None = None,
) -> None:
    policy = review_policy()
    due = start + timedelta(days=policy.due_days[finding.severity])
    restriction: dict[str, Any] = {"period": {"end": due.isoformat()}}
    if routing.paediatrician and finding.kind in policy.clinical:
        restriction["recipient"] = [{"reference": routing.paediatrician}]
    task["restriction"] = restriction
    named = [
        _input("kind", finding.kind.value),
        _input("severity", finding.severity.value),
        _input("grade", finding.grade),
        _input("items", " ".join(finding.items)),
        _input("evidence", " ".join(finding.evidence_ids)),
        _input("detail", finding.detail),
        _input("rule", f"{finding.rule_id}@{finding.rule_version}"),
        _input("ruleset", ruleset.key),
        _input("review-policy", policy.source),
    ]
    # FHIR strings may not be empty: an empty grade/items/evidence is simply absent
    task["input"] = [i for i in named if i["valueString"]] + [
        {"type": {"text": "evidence-ref"}, "valueReference": {"reference": ref}}
        for ref in _evidence_refs(finding.evidence_ids, id_types)
    ]


def inputs(task: Resource) -> dict[str, str]:
    """A Task's text inputs by name."""
    return {
        str((i.get("type") or {}).get("text")): str(i["valueString"])
        for i in task.get("input") or ()
        if "valueString" in i
    }


def flag_severity(flag: Resource) -> Severity | None:
    for ext in flag.get("extension") or ():
        if ext.get("url") == SEVERITY_EXTENSION:
            try:
                return Severity(ext.get("valueCode"))
            except ValueError:
                return None
    return None


def flag_kind(flag: Resource) -> AlertKind | None:
    for coding in (flag.get("code") or {}).get("coding") or ():
        if coding.get("system") == t.CS_ALERT_KIND:
            try:
                return AlertKind(coding.get("code"))
            except ValueError:
                return None
    return None


def open_alerts(
    subject: str, flags: list[Resource], tasks: dict[str, Resource]
) -> tuple[OpenAlert, ...]:
    """Active Flags (with their review Tasks) of one subject as OpenAlerts."""
    out = []
    for flag in flags:
        kind, severity = flag_kind(flag), flag_severity(flag)
        if flag.get("status") != "active" or kind is None or severity is None:
            continue
        values = inputs(tasks.get(str(flag["id"]), {}))
        out.append(
            OpenAlert(
                str(flag["id"]),
                subject,
                kind,
                severity,
                values.get("grade", ""),
                tuple(values.get("evidence", "").split()),
                tuple(values.get("items", "").split()),
                values.get("detail", ""),
                values.get("rule", ""),
            )
        )
    return tuple(out)


def current_rules(ruleset: RuleSet) -> frozenset[str]:
    """``rule_id@version`` of every table in use (as findings record them), for
    :func:`~healthbridge.clinical.alerts.reconcile`'s ``current_rules``."""
    keys = {f"{m.id}@{m.version}" for m in ruleset.tables()}
    n = ruleset.nutrition.meta
    keys.add(f"{n.id}@{n.version}/{ruleset.nutrition_convention.id}")
    return frozenset(keys)


def apply_actions(
    txn: Transaction,
    actions: tuple[AlertAction, ...],
    *,
    ruleset: RuleSet,
    routing: Routing,
    as_of: date,
    now: str,
    id_types: dict[str, str] | None = None,
    known: dict[str, Resource] | None = None,
) -> int:
    """Write the Flag/Task changes of reconciled actions; the number of alerts touched.

    Written through the store's trusted path (no base-R4 or profile re-validation, about a
    third of an evaluation's CPU): the Flags and Tasks are built here from typed findings,
    and the tests check every one the demo district and the alert tests produce with the
    base-R4 validator and the claimed profiles (``test_alerts.py::
    test_server_made_flags_and_tasks_pass_the_validators``, ``test_outbox.py``); an update
    changes server-owned parts of a stored, validated alert.

    ``id_types`` maps evidence ids to their resource type (Observation when absent);
    ``known`` holds the current Flags/Tasks already read (``Type/id`` → resource), which
    spares reading them again. New alerts get fresh ids (created without a lookup)."""
    cache = known or {}
    for action in actions:
        if action.action is ActionType.CREATE and action.finding is not None:
            f = action.finding
            flag_id = str(uuid.uuid4())
            start = f.observed_on or as_of
            flag = flag_resource(flag_id, f, ruleset, start, id_types=id_types)
            txn.create(flag, assigned_id=flag_id, trusted=True)
            task = task_resource(flag_id, f, ruleset, routing, start, now, id_types)
            txn.create(task, assigned_id=task["id"], trusted=True)
        elif action.action is ActionType.UPDATE and action.finding is not None:
            _update(txn, action, ruleset, routing, as_of, now, id_types, cache)
        elif action.action is ActionType.CLEAR and action.alert_id is not None:
            _clear(txn, action, as_of, now, cache)
    return len(actions)


def _update(
    txn: Transaction,
    action: AlertAction,
    ruleset: RuleSet,
    routing: Routing,
    as_of: date,
    now: str,
    id_types: dict[str, str] | None,
    cache: dict[str, Resource],
) -> None:
    assert action.finding is not None
    assert action.alert_id is not None
    f = action.finding
    old = _current(txn, "Flag", action.alert_id, cache) or {}
    start = date.fromisoformat(str((old.get("period") or {}).get("start", as_of.isoformat()))[:10])
    flag = flag_resource(action.alert_id, f, ruleset, start, id_types=id_types)
    if not old or not _same(old, flag):  # a changed grade or detail leaves the Flag as it is
        txn.update("Flag", action.alert_id, flag, trusted=True)
    task_id = f"review-{action.alert_id}"
    found = _current(txn, "Task", task_id, cache)
    if found is None:  # a missing Task is recreated
        task = task_resource(action.alert_id, f, ruleset, routing, start, now, id_types)
    else:
        task = dict(found)
    _apply_finding(task, f, ruleset, start, routing, id_types)
    task["lastModified"] = now
    note = f"Finding changed ({', '.join(action.changed)}) on {as_of.isoformat()}."
    task["note"] = [*(task.get("note") or []), {"time": now, "text": note}]
    if task.get("status") not in OPEN_TASK_STATUSES:
        task["status"] = "requested"  # a changed finding needs a new review
        task["businessStatus"] = {"text": "changed"}
    txn.update("Task", task_id, task, trusted=True)


def _same(stored: Resource, wanted: Resource) -> bool:
    """Equal apart from the server-kept ``meta`` (version, last update)."""
    return {k: v for k, v in stored.items() if k != "meta"} == {
        k: v for k, v in wanted.items() if k != "meta"
    } and (stored.get("meta") or {}).get("profile") == (wanted.get("meta") or {}).get("profile")


def _current(txn: Transaction, rtype: str, rid: str, cache: dict[str, Resource]) -> Resource | None:
    known = cache.get(f"{rtype}/{rid}")
    if known is not None:
        return known
    try:
        return txn.read(rtype, rid).resource
    except (NotFoundError, GoneError):
        return None


def _clear(
    txn: Transaction, action: AlertAction, as_of: date, now: str, cache: dict[str, Resource]
) -> None:
    assert action.alert_id is not None
    reason = action.reason or ClearReason.RESOLVED
    flag = dict(_current(txn, "Flag", action.alert_id, cache) or {})
    flag["status"] = "inactive"
    flag["period"] = {**(flag.get("period") or {}), "end": as_of.isoformat()}
    flag["extension"] = [
        *(e for e in flag.get("extension") or () if e.get("url") != CLOSE_REASON_EXTENSION),
        {"url": CLOSE_REASON_EXTENSION, "valueCode": reason.value},
    ]
    txn.update("Flag", action.alert_id, flag, trusted=True)
    task_id = f"review-{action.alert_id}"
    found = _current(txn, "Task", task_id, cache)
    if found is None:  # nothing to record without a Task
        return
    task = dict(found)
    retired = reason is ClearReason.RULE_REVISED
    if retired:
        rule = inputs(task).get("rule", "")
        text = (
            f"Retired on {as_of.isoformat()}: raised by {rule}, since revised; the current "
            "rules do not raise it. 规则已修订，当前规则不再提示此项。"
        )
        output = "alert-retired"
    else:
        text = f"Condition cleared on {as_of.isoformat()} ({reason.value})."
        output = "condition-cleared"
    task["output"] = [*(task.get("output") or []), {"type": {"text": output}, "valueString": text}]
    task["businessStatus"] = {"text": output}
    task["lastModified"] = now
    if task.get("status") in OPEN_TASK_STATUSES:
        task["status"] = "cancelled" if retired else "completed"
        if retired:
            task["statusReason"] = {"text": text}
    txn.update("Task", task_id, task, trusted=True)


def owner_organization(task: Resource) -> str | None:
    """The centre a Task's owner belongs to (from ``Organization/x`` owners only)."""
    return ref_id(task.get("owner"), "Organization")
