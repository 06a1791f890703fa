"""The CapabilityStatement: exactly what this server supports (http.html#capabilities)."""

from __future__ import annotations

from typing import Any

import healthbridge
from fhir_profiles.loader import index as profile_index
from healthbridge.fhir import r4
from healthbridge.fhir.r4 import SUPPORTED_TYPES
from healthbridge.fhir.searchparams import supported_params
from healthbridge.operations import OperationRegistry

#: FHIR Bulk Data Access IG v2.0.0 (healthbridge/api/bulk.py implements it).
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
_INTERACTIONS = [
    "read",
    "vread",
    "update",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]
#: Interactions not offered on the types clients cannot write (r4.NOT_WRITABLE_TYPES).
_WRITES = frozenset({"create", "update"})


def supported_profiles(resource_type: str) -> list[str]:
    """Canonical URLs (``url|version``) of our profiles on ``resource_type``
    (``fhir_profiles/StructureDefinition``; CapabilityStatement.rest.resource.supportedProfile,
    http://hl7.org/fhir/R4/capabilitystatement-definitions.html)."""
    return sorted(
        f"{e.url}|{e.version}"
        for e in profile_index()
        if e.resource_type == "StructureDefinition"
        and e.kind == "resource"
        and e.type == resource_type
    )


def capability_statement(base_url: str, operations: OperationRegistry, date: str) -> dict[str, Any]:
    """Build the CapabilityStatement for ``base_url``."""
    resources = []
    for rtype in SUPPORTED_TYPES:
        params = supported_params(rtype)
        ref_params = sorted(c for c, p in params.items() if p.type == "reference")
        writable = r4.is_writable(rtype)
        entry: dict[str, Any] = {
            "type": rtype,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
            "interaction": [{"code": c} for c in _INTERACTIONS if writable or c not in _WRITES],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": writable,
            "conditionalCreate": writable,
            "conditionalRead": "not-supported",
            "conditionalUpdate": writable,
            "conditionalDelete": "not-supported",
            "searchInclude": ["*", *(f"{rtype}:{c}" for c in ref_params)],
            "searchRevInclude": sorted(
                f"{other}:{c}"
                for other in SUPPORTED_TYPES
                for c, p in supported_params(other).items()
                if p.type == "reference" and (not p.target or rtype in p.target)
            ),
            "searchParam": [
                {"name": c, "definition": p.url, "type": p.type} for c, p in sorted(params.items())
            ],
        }
        profiles = supported_profiles(rtype)
        if profiles:
            entry["supportedProfile"] = profiles
        ops = [
            {
                "name": op.name,
                "definition": op.definition_url or f"{base_url}/OperationDefinition/{op.name}",
            }
            for op in operations.all()
            if op.levels & {"type", "instance"}
            and (op.resource_types is None or rtype in op.resource_types)
        ]
        if ops:
            entry["operation"] = ops
        if rtype == "Subscription":
            from healthbridge.notify.topics import capability_extensions

            entry["extension"] = capability_extensions()
        resources.append(entry)
    _bulk_export(resources)
    system_ops = [
        {
            "name": op.name,
            "definition": op.definition_url or f"{base_url}/OperationDefinition/{op.name}",
        }
        for op in operations.all()
        if "system" in op.levels
    ]
    system_ops.append({"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export"})
    rest: dict[str, Any] = {
        "mode": "server",
        "security": {
            "service": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/"
                            "restful-security-service",
                            "code": "SMART-on-FHIR",
                        }
                    ]
                }
            ],
            "description": "Bearer tokens (JWT) with SMART on FHIR v2 scopes; roles and "
            "consent-governed reach as described in docs/access.md",
        },
        "resource": resources,
        "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
        "searchParam": [
            {
                "name": "_count",
                "type": "number",
                "definition": "http://hl7.org/fhir/R4/search.html#count",
            },
            {
                "name": "_sort",
                "type": "string",
                "definition": "http://hl7.org/fhir/R4/search.html#sort",
            },
        ],
    }
    if system_ops:
        rest["operation"] = system_ops
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "HealthBridge",
        "kind": "instance",
        "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
        "software": {"name": "HealthBridge", "version": healthbridge.__version__},
        "implementation": {"description": "HealthBridge FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }


def _bulk_export(resources: list[dict[str, Any]]) -> None:
    """Advertise ``$export`` at Patient and Group level (the Bulk Data IG's operation
    definitions). Group is not a stored type: its entry carries the operation only (the group
    id is a childcare centre's Organization id, docs/exchange.md)."""
    levels = {"Patient": "patient-export", "Group": "group-export"}
    for rtype, definition in levels.items():
        entry = next((r for r in resources if r["type"] == rtype), None)
        if entry is None:
            entry = {"type": rtype}
            resources.append(entry)
        entry.setdefault("operation", []).append(
            {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/{definition}"}
        )
