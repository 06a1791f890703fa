"""Who may call the district endpoints: one small role check the access layer plugs into.

The access layer (bearer tokens) fills :class:`~healthbridge.store.hooks.RequestContext`;
a caller's roles are ``context.roles`` plus ``context.principal.role`` when the principal is an
object with a ``role`` attribute (the access branch's ``Principal``). Role names are those of
:class:`healthbridge.access.tokens.Role`.
"""

from __future__ import annotations

from typing import Final

from healthbridge.access.tokens import Role
from healthbridge.errors import ForbiddenError
from healthbridge.store.hooks import RequestContext

#: Aggregate district reports (no identifiable child data).
REPORT_ROLES: Final = frozenset({Role.DISTRICT_OFFICIAL, Role.SYSTEM, Role.ADMIN})
#: Importing a centre's measurement session (writes are further checked by the access layer).
IMPORT_ROLES: Final = frozenset(
    {Role.HEALTH_MANAGER, Role.CENTRE_STAFF, Role.PAEDIATRICIAN, Role.SYSTEM, Role.ADMIN}
)
#: Identifiable exports (WHO Anthro CSV, Bulk Data): reads are filtered by the access layer's
#: read hooks, so each caller exports only the children in their reach.
EXPORT_ROLES: Final = frozenset(
    {Role.HEALTH_MANAGER, Role.CENTRE_STAFF, Role.PAEDIATRICIAN, Role.SYSTEM, Role.ADMIN}
)
#: The WHO Anthro CSV holds only children's rows: the roles that have children in reach.
ANTHRO_EXPORT_ROLES: Final = EXPORT_ROLES - {Role.ADMIN}


def caller_roles(context: RequestContext) -> frozenset[str]:
    """Every role the caller holds (context roles plus ``principal.role`` when present)."""
    roles = {str(r) for r in context.roles}
    role = getattr(context.principal, "role", None)
    if role is not None:
        roles.add(str(role))
    return frozenset(roles)


def require_role(context: RequestContext, allowed: frozenset[Role], what: str) -> None:
    """Raise :class:`ForbiddenError` (403) unless the caller holds one of ``allowed``."""
    if not caller_roles(context) & {str(r) for r in allowed}:
        names = ", ".join(sorted(str(r) for r in allowed))
        raise ForbiddenError(f"{what} needs one of the roles: {names}")
