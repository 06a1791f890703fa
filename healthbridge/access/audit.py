"""AuditEvent records: who, in which role, did what to which records, when, from where, why.

Built per FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html) with the RESTful
interaction codes (http://hl7.org/fhir/R4/valueset-audit-event-sub-type.html, system
``http://hl7.org/fhir/restful-interaction``). Required by 儿童个人信息网络保护规定 (staff
access logging) and PIPL Art. 51 (DOMAIN.md §5.2); kept in the same transaction as the access
they record, and never changed or deleted through the API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Final

from healthbridge.access.tokens import Principal

AUDIT_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION_SYSTEM: Final = "http://hl7.org/fhir/restful-interaction"
PURPOSE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ROLE_SYSTEM: Final = "https://healthbridge.github.io/fhir/CodeSystem/user-role"
ENTITY_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
ENTITY_ROLE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/security-source-type"
#: AuditEvent.action for each RESTful interaction (C create, R read, U update, D delete,
#: E execute).
ACTIONS: Final[dict[str, str]] = {
    "create": "C",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "search-type": "E",
    "search-system": "E",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "transaction": "E",
    "batch": "E",
    "operation": "E",
    "export": "E",
}
#: Purposes of use (v3 ActReason), chosen per role when the request does not state one.
PURPOSES: Final[dict[str, tuple[str, str]]] = {
    "treatment": ("TREAT", "treatment"),
    "operations": ("HOPERAT", "healthcare operations"),
    "public-health": ("PUBHLTH", "public health"),
    "patient-request": ("PATRQT", "patient requested"),
    "system": ("HSYSADMIN", "health system administration"),
}


class AuditOutcome:
    """AuditEvent.outcome codes (http://hl7.org/fhir/R4/valueset-audit-event-outcome.html)."""

    SUCCESS: Final = "0"
    MINOR_FAILURE: Final = "4"
    SERIOUS_FAILURE: Final = "8"


def audit_event(
    *,
    who: Principal | None,
    interaction: str,
    entities: Sequence[str],
    outcome: str = AuditOutcome.SUCCESS,
    purpose: str = "treatment",
    client_address: str | None = None,
    query: str | None = None,
    description: str | None = None,
    recorded: dt.datetime | None = None,
    server: str = "HealthBridge",
    patients: Sequence[str] = (),
) -> dict[str, Any]:
    """An AuditEvent for one interaction touching ``entities`` (``Type/id`` references).

    ``patients`` (``Patient/id``) are the children whose records the entities belong to: each
    becomes an entity of type Person (1) in the role Patient (1) — what ``AuditEvent?patient=``
    finds (R4 search parameter ``AuditEvent-patient``: ``entity.what`` referring to a Patient).
    ``who`` None records a caller who could not be identified (a refused token or sign-in).
    """
    if interaction not in ACTIONS:
        raise ValueError(f"unknown interaction {interaction!r}")
    code, display = PURPOSES[purpose]
    when = (recorded or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds")
    agent: dict[str, Any]
    if who is None:
        agent = {"type": {"text": "unauthenticated"}, "who": {"display": "unknown"}}
        agent["requestor"] = True
    else:
        agent = {
            "type": {"coding": [{"system": ROLE_SYSTEM, "code": who.role.value}]},
            "altId": who.subject,
            "requestor": True,
            "policy": [who.issuer],
        }
        if who.fhir_user:
            agent["who"] = {"reference": who.fhir_user}
        else:
            agent["who"] = {"identifier": {"system": who.issuer, "value": who.subject}}
    if client_address:
        agent["network"] = {"address": client_address, "type": "2"}  # 2 = IP address
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": uuid.uuid4().hex,
        "type": {"system": AUDIT_TYPE_SYSTEM, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": INTERACTION_SYSTEM, "code": interaction}],
        "action": ACTIONS[interaction],
        "recorded": when,
        "outcome": outcome,
        "purposeOfEvent": [
            {"coding": [{"system": PURPOSE_SYSTEM, "code": code, "display": display}]}
        ],
        "agent": [agent],
        "source": {
            "site": server,
            "observer": {"display": server},
            "type": [{"system": SOURCE_TYPE_SYSTEM, "code": "4", "display": "Application Server"}],
        },
    }
    if who is not None and who.organization:
        # the caller's organisation as a second, non-requesting agent
        event["agent"].append(
            {
                "type": {"text": "organization"},
                "who": {"reference": who.organization},
                "requestor": False,
            }
        )
    if description:
        event["outcomeDesc"] = description
    entity_list: list[dict[str, Any]] = [
        {
            "what": {"reference": ref},
            "type": {"system": ENTITY_TYPE_SYSTEM, "code": "2", "display": "System Object"},
        }
        for ref in entities
    ]
    listed = set(entities)
    entity_list += [
        {
            "what": {"reference": ref},
            "type": {"system": ENTITY_TYPE_SYSTEM, "code": "1", "display": "Person"},
            "role": {"system": ENTITY_ROLE_SYSTEM, "code": "1", "display": "Patient"},
        }
        for ref in patients
        if ref not in listed
    ]
    if query is not None:
        entity_list.append(
            {"type": {"system": ENTITY_TYPE_SYSTEM, "code": "2"}, "description": query[:1024]}
        )
    if entity_list:
        event["entity"] = entity_list
    return event
