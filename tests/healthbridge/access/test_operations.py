"""How other code uses the access layer: operations see only the caller's reach, aggregate
operations check the role and read with the server's authority, exports are audited."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from healthbridge.access.auditing import record_access
from healthbridge.access.control import principal_of, require_role
from healthbridge.access.tokens import Role
from healthbridge.api.default_operations import default_registry
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.operations import OperationCall
from tests import factories as f
from tests.healthbridge.access import world
from tests.healthbridge.access.world import CALLERS


def _count_children(call: OperationCall) -> dict[str, Any]:
    """An aggregate: children per centre (no identifiable data)."""
    require_role(call.txn, Role.DISTRICT_OFFICIAL, Role.SYSTEM)
    with call.txn.as_server():
        total = call.txn.search_params("Patient", [("_summary", "count")]).total
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "children", "valueInteger": total}],
    }


def _my_children(call: OperationCall) -> dict[str, Any]:
    """A list operation: searches through the caller's transaction (reach applies)."""
    who = principal_of(call.txn)
    found = call.txn.search_params("Patient", [("_count", "100")]).matches
    record_access(call.txn, "export", [m.reference for m in found])
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "role", "valueString": who.role.value if who else "internal"}]
        + [{"name": "child", "valueString": m.id} for m in found],
    }


def test_operations_obey_reach_and_roles(app_factory: Any) -> None:
    ops = default_registry(DEFAULT_RULESET_KEY)
    ops.register("children-count", _count_children, levels={"system"})
    ops.register("my-children", _my_children, levels={"system"})
    with TestClient(app_factory(authenticated=True, operations=ops)) as started:
        client = f.RoleClient(started, f.auth_headers("system"))
        world.load(client)

        def as_(name: str, **extra: Any) -> f.RoleClient:
            caller = CALLERS[name]
            return f.RoleClient(
                started, f.auth_headers(caller.role, user=name, **{**caller.claims, **extra})
            )

        district = as_("district-official")
        counted = district.get("/fhir/$children-count").json()
        assert counted["parameter"][0]["valueInteger"] == 3
        assert as_("parent").get("/fhir/$children-count").status_code == 403
        listed = as_("parent").get("/fhir/$my-children").json()["parameter"]
        assert listed == [
            {"name": "role", "valueString": "parent"},
            {"name": "child", "valueString": "kid-a"},
        ]
        admin = f.RoleClient(started, f.auth_headers("admin"))
        exported = admin.get("/fhir/AuditEvent?subtype=export&entity=Patient/kid-a").json()
        assert exported["total"] == 1
        assert exported["entry"][0]["resource"]["agent"][0]["altId"] == "parent"
