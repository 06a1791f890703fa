"""The one role check the access layer connects to."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from healthbridge.district.roles import REPORT_ROLES, caller_roles, require_role
from healthbridge.errors import ForbiddenError
from healthbridge.store.hooks import RequestContext


@dataclass(frozen=True)
class FakePrincipal:
    subject: str
    role: str


def test_roles_come_from_the_context_and_the_principal() -> None:
    assert caller_roles(RequestContext()) == frozenset()
    assert caller_roles(RequestContext(roles=frozenset({"admin"}))) == {"admin"}
    ctx = RequestContext(principal=FakePrincipal("u1", "district-official"))  # type: ignore[arg-type]
    assert caller_roles(ctx) == {"district-official"}
    require_role(ctx, REPORT_ROLES, "Reports")


@pytest.mark.parametrize("roles", [(), ("parent",), ("health-manager", "paediatrician")])
def test_other_roles_are_refused(roles: tuple[str, ...]) -> None:
    with pytest.raises(ForbiddenError, match="district-official"):
        require_role(RequestContext(roles=frozenset(roles)), REPORT_ROLES, "Reports")
