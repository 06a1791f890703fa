"""Access control of one caller, enforced inside the store for every way in.

:class:`PrincipalAccess` implements the store's ``AccessControl`` protocol
(:mod:`healthbridge.store.hooks`): the repository asks it before every read, search, history,
write and delete made for the caller, and adds its SQL visibility condition to every query
(searches and their totals, ``_include``/``_revinclude``, chained parameters, ``$everything``,
history, conditional interactions, Bundle entries, custom operations).

Three layers decide, and all must allow (DOMAIN.md §5.2, PIPL Art. 51 least privilege):

1. **role permissions per type** (:data:`READABLE`, :data:`WRITABLE`) — a refusal is 403;
2. **SMART scopes** of the token (``patient/``, ``user/``, ``system/``; the type and the
   ``c r u d s`` letters) — a refusal is 403;
3. **reach** — which children's records (patient compartments) the caller may see, from the
   ``patient_link`` facts (:func:`reach_subquery`, the same rules as
   :func:`healthbridge.access.policy.can_access_child`). A record out of reach is reported as
   not found (404), exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)

from healthbridge.access import centre_documents
from healthbridge.access.errors import PermissionDeniedError
from healthbridge.access.policy import (
    REFERRAL_COVERING,
    REFERRAL_TYPES,
    SHARED_DIRECTORY_TYPES,
    Purpose,
)
from healthbridge.access.scopes import Context, Permission, granted
from healthbridge.access.tokens import Principal, Role
from healthbridge.errors import ConflictError, MethodNotAllowedError, NotFoundError
from healthbridge.fhir import r4
from healthbridge.store.access_tables import COMPARTMENT, LINK, compartment_types, patient_links
from healthbridge.store.models import TOKEN_INDEX

if TYPE_CHECKING:
    from healthbridge.store.hooks import WriteAction
    from healthbridge.store.repository import Transaction

#: Types that hold a child's data: members of the patient compartment (AuditEvent excluded:
#: audit records are governed separately).
CHILD_TYPES: Final = frozenset(compartment_types() - {"AuditEvent"})
AUDIT_TYPE: Final = "AuditEvent"
ALL_TYPES: Final = frozenset(r4.SUPPORTED_TYPES)
#: Roles that see children's records (within their reach).
CHILD_READERS: Final = frozenset(
    {Role.PARENT, Role.HEALTH_MANAGER, Role.CENTRE_STAFF, Role.PAEDIATRICIAN, Role.SYSTEM}
)

#: What each role may read at all (before scopes and reach).
READABLE: Final[dict[Role, frozenset[str]]] = {
    Role.PARENT: CHILD_TYPES | SHARED_DIRECTORY_TYPES,
    Role.HEALTH_MANAGER: CHILD_TYPES | SHARED_DIRECTORY_TYPES,
    Role.CENTRE_STAFF: CHILD_TYPES | SHARED_DIRECTORY_TYPES,
    Role.PAEDIATRICIAN: CHILD_TYPES | SHARED_DIRECTORY_TYPES,
    Role.DISTRICT_OFFICIAL: SHARED_DIRECTORY_TYPES,
    Role.SYSTEM: ALL_TYPES - {AUDIT_TYPE},
    Role.ADMIN: SHARED_DIRECTORY_TYPES | {AUDIT_TYPE, "Subscription"},
}
#: What each role may create, update and delete (before scopes and reach).
WRITABLE: Final[dict[Role, frozenset[str]]] = {
    # a parent creates leave requests (请假: a Task, see :func:`_parent_may_write`)
    Role.PARENT: frozenset({"Consent", "Task"}),
    # the health manager refers a child to the hospital (a ServiceRequest) from the worklist
    Role.HEALTH_MANAGER: frozenset(
        {
            "Patient",
            "Observation",
            "Encounter",
            "QuestionnaireResponse",
            "Flag",
            "Task",
            "ServiceRequest",
            # a question back to a parent about a leave request (web/leave_handling.py)
            "Communication",
            # the centre's own documents (weekly menu): centre_documents.may_write
            "Composition",
        }
    ),
    Role.CENTRE_STAFF: frozenset({"Observation", "Encounter", "QuestionnaireResponse"}),
    Role.PAEDIATRICIAN: frozenset(
        {
            "Encounter",
            "Observation",
            "Immunization",
            "QuestionnaireResponse",
            "Condition",
            "ServiceRequest",
            "Flag",
            "Task",
            # managed cases (体弱儿/高危儿专案管理): enrolment, follow-up plan, closure
            "EpisodeOfCare",
            "CarePlan",
        }
    ),
    Role.DISTRICT_OFFICIAL: frozenset(),
    Role.SYSTEM: ALL_TYPES - {AUDIT_TYPE},
    # outside channels (SMS, WeChat bridges) are webhooks the administrator subscribes
    Role.ADMIN: SHARED_DIRECTORY_TYPES | {"Subscription"},
}
#: Roles that may not delete (a parent withdraws a consent by updating its status).
NO_DELETE: Final = frozenset({Role.PARENT})

_PERMISSION: Final[dict[str, Permission]] = {
    "read": Permission.READ,
    "vread": Permission.READ,
    "history": Permission.READ,
    "operation": Permission.READ,
    "search": Permission.SEARCH,
    "create": Permission.CREATE,
    "update": Permission.UPDATE,
    "delete": Permission.DELETE,
}


_WRITES: Final = frozenset({Permission.CREATE, Permission.UPDATE, Permission.DELETE})
TOKEN: Final = TOKEN_INDEX


def _current(link: Any, day: str) -> ColumnElement[bool]:
    return and_(
        or_(link.c.start.is_(None), link.c.start <= day),
        or_(link.c.end.is_(None), link.c.end >= day),
    )


def _consent_kinds(purposes: Iterable[Purpose]) -> list[str]:
    return sorted(f"consent:{p.value}" for p in purposes)


def reach_subquery(
    who: Principal, today: dt.date, purpose: Purpose | None = None
) -> Select[Any] | None:
    """``SELECT patient_id`` of the children in ``who``'s standing reach (None: every child).

    The rules of :func:`healthbridge.access.policy.can_access_child`, over the ``patient_link``
    rows written with each resource; ``today`` is compared with the periods at request time,
    so an expired or withdrawn consent stops counting on the next request. Referral reach,
    which opens only some types, is :func:`referral_subquery`. ``purpose`` (default: care)
    selects the consents that count: a research export sees only children whose guardian
    consented to research.
    """
    day = today.isoformat()
    link = LINK.alias()
    base = select(link.c.patient_id)
    if who.patient is not None:  # a SMART launch: only the launch patient, within reach
        base = base.where(link.c.patient_id == who.patient)
    wanted = purpose or Purpose.CARE
    match who.role:
        case Role.SYSTEM:
            if wanted is Purpose.CARE:
                return None if who.patient is None else base
            return base.where(link.c.kind == f"consent:{wanted.value}", _current(link, day))
        case Role.PARENT:
            if not who.fhir_user:
                return base.where(false())
            return base.where(link.c.party == who.fhir_user, link.c.kind == "guardian")
        case Role.HEALTH_MANAGER | Role.CENTRE_STAFF:
            if not who.organization:
                return base.where(false())
            enrolled = base.where(
                link.c.party == who.organization, link.c.kind == "enrolment", _current(link, day)
            )
            if wanted is Purpose.CARE:
                return enrolled
            return enrolled.where(
                _linked(_consented(who.organization, [wanted], day), link.c.patient_id)
            )
        case Role.PAEDIATRICIAN:
            if not who.organization:
                return base.where(false())
            return base.where(
                link.c.party == who.organization,
                link.c.kind == f"consent:{wanted.value}",
                _current(link, day),
            )
        case Role.DISTRICT_OFFICIAL | Role.ADMIN:
            return base.where(false())


def _consented(org: str, purposes: Iterable[Purpose], day: str) -> Select[Any]:
    link = LINK.alias()
    return select(link.c.patient_id).where(
        link.c.party == org, link.c.kind.in_(_consent_kinds(purposes)), _current(link, day)
    )


def referral_subquery(who: Principal, today: dt.date) -> Select[Any] | None:
    """``SELECT patient_id`` of the children referred to ``who``'s organisation (None: no
    referral reach): an authorised, active referral within its window, while the guardian's
    consent covering it (care or coordination of care) for that organisation is in force.
    It opens only :data:`~healthbridge.access.policy.REFERRAL_TYPES`."""
    if who.role is not Role.PAEDIATRICIAN or not who.organization:
        return None
    day = today.isoformat()
    link = LINK.alias()
    base = select(link.c.patient_id)
    if who.patient is not None:  # a SMART launch: only the launch patient
        base = base.where(link.c.patient_id == who.patient)
    return base.where(
        link.c.party == who.organization,
        link.c.kind == "referral",
        _current(link, day),
        _linked(_consented(who.organization, REFERRAL_COVERING, day), link.c.patient_id),
    )


def _linked(children: Select[Any], patient_col: Any) -> ColumnElement[bool]:
    """SQL: ``patient_col`` is one of ``children`` (a ``SELECT patient_id`` of
    ``patient_link``), as a correlated ``EXISTS`` that seeks ``ix_patient_link_party``
    (party, kind, patient_id) for this one child. ``patient_col IN (SELECT …)`` inside the
    per-record compartment probe made SQLite build the list of every child in reach again
    for each record (~1 ms a record: 20 s for a centre's Immunizations at 10,000 children)."""
    return children.where(children.selected_columns[0] == patient_col).exists()


@dataclass(frozen=True)
class PrincipalAccess:
    """The store-level access control of ``principal`` for one request (see module doc)."""

    principal: Principal
    today: dt.date
    #: the purpose of use of this request (None: care, the default of every role)
    purpose: Purpose | None = None

    # ----------------------------------------------------------------- decisions
    def _scoped(self, resource_type: str, permission: Permission) -> bool:
        scopes = [
            s
            for s in self.principal.scopes
            if s.context is not Context.SYSTEM or self.principal.role is Role.SYSTEM
        ]
        return granted(scopes, resource_type, permission)

    def readable_types(self) -> frozenset[str]:
        """Types the caller may read (role and ``r`` scope)."""
        role_types = READABLE[self.principal.role]
        return frozenset(t for t in role_types if self._scoped(t, Permission.READ))

    def check(self, interaction: str, resource_type: str | None) -> None:
        """403 unless the role and scopes allow ``interaction`` on ``resource_type``."""
        if resource_type is None:
            return  # system-level history/search: filtered per type by :meth:`visible`
        permission = _PERMISSION.get(interaction, Permission.READ)
        role = self.principal.role
        if resource_type == AUDIT_TYPE and permission in _WRITES:
            raise MethodNotAllowedError(
                "AuditEvent records are written by the server only; they cannot be created, "
                "changed or deleted through the API"
            )
        allowed = WRITABLE[role] if permission in _WRITES else READABLE[role]
        if resource_type not in allowed or (permission is Permission.DELETE and role in NO_DELETE):
            raise PermissionDeniedError(f"Role {role.value} may not {interaction} {resource_type}")
        if not self._scoped(resource_type, permission):
            raise PermissionDeniedError(
                f"The token's scopes do not allow {interaction} on {resource_type}"
            )

    def reach(self) -> Select[Any] | None:
        """The children in standing reach as a subquery (None: every child)."""
        return reach_subquery(self.principal, self.today, self.purpose)

    def _reach_of(self, patient_col: Any, type_col: Any) -> ColumnElement[bool]:
        """SQL: ``patient_col`` is in reach for records of ``type_col`` (referral reach
        counts for the referral types only). Builds fresh subqueries on every call."""
        reach = self.reach()
        assert reach is not None
        cond: ColumnElement[bool] = _linked(reach, patient_col)
        referred = referral_subquery(self.principal, self.today) if self.purpose is None else None
        if referred is not None:
            cond = or_(
                cond, and_(type_col.in_(sorted(REFERRAL_TYPES)), _linked(referred, patient_col))
            )
        return cond

    def visible(self, type_col: Any, id_col: Any) -> ColumnElement[bool] | None:
        """SQL: the (type, id) pairs the caller may see."""
        readable = self.readable_types()
        reach = self.reach()
        if reach is None and readable == ALL_TYPES - {AUDIT_TYPE}:
            everything_but_audit: ColumnElement[bool] = type_col != AUDIT_TYPE
            return everything_but_audit  # the system role with full scopes
        plain = sorted(readable - CHILD_TYPES if reach is not None else readable)
        options: list[ColumnElement[bool]] = []
        if plain:
            options.append(type_col.in_(plain))
        child = sorted(readable & CHILD_TYPES)
        if reach is not None and child and self.principal.role in CHILD_READERS:
            c = COMPARTMENT.alias()
            other = COMPARTMENT.alias()
            # correlated: the compartment rows of THIS record (index ix_compartment_owner),
            # one of them in reach — not the set of every record in reach, which SQLite
            # built for each query (20 s for one child's $everything at 10,000 children)
            member = (
                select(c.c.res_id)
                .where(
                    c.c.res_type == type_col,
                    c.c.res_id == id_col,
                    self._reach_of(c.c.patient_id, c.c.res_type),
                )
                .correlate_except(c)
            )
            outside = (
                select(other.c.res_id)
                .where(
                    other.c.res_type == type_col,
                    other.c.res_id == id_col,
                    ~self._reach_of(other.c.patient_id, other.c.res_type),
                )
                .correlate_except(other)
            )
            options.append(
                and_(
                    type_col.in_(child),
                    exists(member),
                    ~exists(outside),
                )
            )
        if "Composition" in readable and reach is not None:
            documents = centre_documents.visible(self.principal, self.today, type_col, id_col)
            if documents is not None:  # a centre's own documents (access/centre_documents.py)
                options.append(documents)
        if not options:
            return false()
        return or_(*options)

    def in_reach(
        self,
        txn: Transaction,
        patients: frozenset[str],
        resource_type: str = "Patient",
        *,
        standing_only: bool = False,
    ) -> set[str]:
        """The ids among ``patients`` in reach for ``resource_type`` records (``standing_only``:
        not counting referral reach)."""
        reach = self.reach()
        if reach is None or not patients:
            return set(patients)
        txn.flush()  # links written earlier in the same transaction count
        if standing_only:
            cond: ColumnElement[bool] = LINK.c.patient_id.in_(reach)
        else:
            cond = self._reach_of(LINK.c.patient_id, literal(resource_type))
        rows = txn.conn.execute(
            select(func.distinct(LINK.c.patient_id)).where(
                LINK.c.patient_id.in_(sorted(patients)), cond
            )
        ).all()
        return {r[0] for r in rows}

    def filter_links(
        self, txn: Transaction, resource_type: str, resource_id: str, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The access facts a write by the caller may state: a referral opens the record to
        its receiver only when the writer had the child in standing reach (not through a
        referral) and the receiver is not the writer's own organisation. A referral the
        receiver (or anyone not entitled) rewrites keeps the facts it had, no wider."""
        referrals = [r for r in rows if r["kind"] == "referral"]
        if not referrals or self.principal.role is Role.SYSTEM:
            return rows
        standing = self.in_reach(
            txn, frozenset(r["patient_id"] for r in referrals), standing_only=True
        )
        own = self.principal.organization
        txn.flush()
        previous = {
            (p.patient_id, p.party): p
            for p in txn.conn.execute(
                select(LINK.c.patient_id, LINK.c.party, LINK.c.start, LINK.c.end).where(
                    LINK.c.src_type == resource_type,
                    LINK.c.src_id == resource_id,
                    LINK.c.kind == "referral",
                )
            ).all()
        }
        out = [r for r in rows if r["kind"] != "referral"]
        for row in referrals:
            if row["patient_id"] in standing and row["party"] != own:
                out.append(row)
            elif (old := previous.get((row["patient_id"], row["party"]))) is not None:
                out.append({**row, "start": old.start, "end": old.end})
        return out

    def check_write(
        self,
        txn: Transaction,
        action: WriteAction,
        resource_type: str,
        resource: dict[str, Any] | None,
        patients: frozenset[str],
        *,
        create_on_update: bool,
    ) -> None:
        """Role, scope and reach checks of a write (see module doc)."""
        role = self.principal.role
        if resource_type == AUDIT_TYPE:
            raise MethodNotAllowedError(
                "AuditEvent records are written by the server only; they cannot be created, "
                "changed or deleted through the API"
            )
        permission = _PERMISSION[action]
        if resource_type not in WRITABLE[role] or (action == "delete" and role in NO_DELETE):
            raise PermissionDeniedError(f"Role {role.value} may not {action} {resource_type}")
        if not self._scoped(resource_type, permission):
            raise PermissionDeniedError(
                f"The token's scopes do not allow {action} on {resource_type}"
            )
        if role is Role.PARENT and not _parent_may_write(action, resource_type, resource):
            raise PermissionDeniedError(f"A parent may not {action} this {resource_type}")
        if role is Role.SYSTEM or resource_type not in CHILD_TYPES:
            return
        resource_id = str((resource or {}).get("id", ""))
        if create_on_update:
            # client-chosen ids would tell whether an id exists out of reach: only the
            # system role creates with PUT
            raise NotFoundError(f"{resource_type}/{resource_id} not found")
        check = set(patients)
        if not check and centre_documents.may_write(self.principal, resource_type, resource):
            return  # the health manager's own centre document (access/centre_documents.py)
        if resource_type == "Patient":
            check.discard(resource_id)
            if action != "delete" and not self._enrols_here(resource):
                raise PermissionDeniedError(
                    "A child record written by a centre must be enrolled at that centre"
                )
            if action != "delete":
                _unique_identifiers(txn, resource_id, resource)
        elif not check:
            raise PermissionDeniedError(f"{resource_type} must refer to a child in your care")
        missing = sorted(check - self.in_reach(txn, frozenset(check), resource_type))
        if missing:
            raise NotFoundError(f"Patient/{missing[0]} not found")

    def _enrols_here(self, resource: dict[str, Any] | None) -> bool:
        if resource is None or self.principal.organization is None:
            return False
        return any(
            link["kind"] == "enrolment" and link["party"] == self.principal.organization
            for link in patient_links(resource)
        )


#: task-kind code of a guardian's leave request (请假), the only Task a parent writes.
LEAVE_REQUEST: Final = ("https://healthbridge.github.io/fhir/CodeSystem/task-kind", "leave-request")


def _parent_may_write(action: str, resource_type: str, resource: dict[str, Any] | None) -> bool:
    """A parent writes Consents (withdraw/restore) and *creates* leave-request Tasks only: a
    Task is never updated or deleted by a parent, so an alert's review Task stays the
    centre's and the doctor's (the reach check still applies: their own child only)."""
    if resource_type != "Task":
        return True
    if action != "create" or resource is None:
        return False
    codings = (resource.get("code") or {}).get("coding") or []
    return any(
        isinstance(c, dict) and (c.get("system"), c.get("code")) == LEAVE_REQUEST for c in codings
    )


def _unique_identifiers(txn: Transaction, patient_id: str, resource: dict[str, Any] | None) -> None:
    """409 when another child record holds one of ``resource``'s identifiers (system|value).

    A conditional create searches only within the caller's reach, so it cannot see that a
    child of another centre already carries the identifier; identifiers are unique per system
    (as HAPI enforces for conditional creates), so such a write would leave two records of one
    child. The refusal names the identifier the caller sent and nothing of the other record.
    """
    pairs = [
        (i["system"], i["value"])
        for i in (resource or {}).get("identifier") or ()
        if isinstance(i, dict)
        and isinstance(i.get("system"), str)
        and isinstance(i.get("value"), str)
    ]
    if not pairs:
        return
    txn.flush()
    held = or_(*(and_(TOKEN.c.system == system, TOKEN.c.code == value) for system, value in pairs))
    other = txn.conn.execute(
        select(TOKEN.c.system, TOKEN.c.code)
        .where(
            TOKEN.c.res_type == "Patient",
            TOKEN.c.param == "identifier",
            TOKEN.c.res_id != patient_id,
            held,
        )
        .limit(1)
    ).first()
    if other is not None:
        raise ConflictError(
            f"该儿童编号已被另一份儿童档案使用 / Another child record already holds the "
            f"identifier {other.system}|{other.code}; ask the district to transfer or merge "
            f"the record instead of creating a second one"
        )


def principal_of(txn: Transaction) -> Principal | None:
    """The caller of the request ``txn`` runs for (None for internal, unrestricted work)."""
    access = txn.context.access
    return access.principal if isinstance(access, PrincipalAccess) else None


def require_role(txn: Transaction, *roles: Role) -> Principal | None:
    """403 unless the caller has one of ``roles``; internal work (no caller) passes.

    For operations that compute aggregates over records the caller may not see one by one
    (district reports): check the role with this, then read under ``txn.as_server()`` and
    return only aggregates.
    """
    who = principal_of(txn)
    if txn.context.access is not None and (who is None or who.role not in roles):
        role = who.role.value if who is not None else "unknown"
        raise PermissionDeniedError(f"Role {role} may not use this operation")
    return who
