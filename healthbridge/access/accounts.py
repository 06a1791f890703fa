"""Local accounts: argon2id passwords, lockout and rate limits, invitations.

An account points at a person the record holds (``fhir_user``): a parent's RelatedPerson or a
staff member's PractitionerRole; its role and organisation are *derived* from that record
(:func:`identity_of`), never typed in. Admins and district officials have no FHIR record and
no ``fhir_user``.

Passwords are hashed with argon2id (``argon2-cffi``'s ``PasswordHasher`` defaults, RFC 9106
second recommended parameter set; OWASP Password Storage Cheat Sheet). Sign-in failures are
counted in the database so that every server process agrees:

* per account — :data:`MAX_FAILURES` consecutive failures lock the account for
  :data:`LOCK_SECONDS` (a correct password does not open a locked account);
* per client address — :data:`MAX_CLIENT_FAILURES` failures within :data:`WINDOW_SECONDS`
  refuse every further sign-in from that address until the window passes.

Invitation codes and session ids are random (``secrets``) and stored as SHA-256 digests only.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update

from healthbridge.access.tokens import Role
from healthbridge.store.account_models import AccountRow, InvitationRow, SigninFailureRow

ACCOUNT: Table = AccountRow.__table__  # type: ignore[attr-defined]
INVITATION: Table = InvitationRow.__table__  # type: ignore[attr-defined]
FAILURE: Table = SigninFailureRow.__table__  # type: ignore[attr-defined]
MAX_FAILURES: Final = 5
LOCK_SECONDS: Final = 15 * 60
MAX_CLIENT_FAILURES: Final = 20
WINDOW_SECONDS: Final = 15 * 60
INVITATION_SECONDS: Final = 7 * 86400
MIN_PASSWORD: Final = 8
STAFF_ROLE_SYSTEM: Final = "https://healthbridge.github.io/fhir/CodeSystem/staff-role"
#: PractitionerRole.code (staff-role) → the HealthBridge role an account of it signs in as.
STAFF_ROLES: Final = {
    "health-manager": Role.HEALTH_MANAGER,
    "centre-staff": Role.CENTRE_STAFF,
    "paediatrician": Role.PAEDIATRICIAN,
    # a health official of an area (province, city or district; healthbridge.district.areas)
    "district-official": Role.DISTRICT_OFFICIAL,
}
_HASHER: Final = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash verified when the username is unknown, so both cases take the same time
    (made on first use, not at import)."""
    return _HASHER.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A refused account operation; ``code`` is the i18n key of the message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Outcome(StrEnum):
    OK = "ok"
    BAD = "login.bad_password"
    LOCKED = "login.locked"
    THROTTLED = "login.throttled"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    display_name: str
    role: Role
    fhir_user: str | None
    organization: str | None
    active: bool
    has_password: bool
    oidc_subject: str | None = None


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        fhir_user=row.fhir_user,
        organization=row.organization,
        active=bool(row.active),
        has_password=row.password_hash is not None,
        oidc_subject=row.oidc_subject,
    )


def digest(secret: str) -> str:
    """SHA-256 hex digest of a random secret (session id, invitation code)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError("account.short_password")
    return _HASHER.hash(password)


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


def identity_of(resource: dict[str, Any]) -> tuple[Role, str | None]:
    """The role and organisation of the person a RelatedPerson or PractitionerRole is.

    A PractitionerRole's role comes from its ``code`` (staff-role code system); one that is
    inactive or has no HealthBridge staff role cannot have an account."""
    kind = resource.get("resourceType")
    if kind == "RelatedPerson" and resource.get("active", True) is not False:
        return Role.PARENT, None
    if kind == "PractitionerRole" and resource.get("active", True) is not False:
        for concept in resource.get("code", []):
            for coding in concept.get("coding", []):
                role = STAFF_ROLES.get(coding.get("code", ""))
                if coding.get("system") == STAFF_ROLE_SYSTEM and role:
                    return role, _ref(resource.get("organization"))
    raise AccountError("account.no_identity")


def create_account(
    conn: Connection,
    *,
    username: str,
    role: Role,
    display_name: str = "",
    password: str | None = None,
    fhir_user: str | None = None,
    organization: str | None = None,
    oidc_subject: str | None = None,
) -> Account:
    """Insert an account (``username`` is case-insensitive and unique)."""
    name = username.strip().lower()
    if not name or len(name) > 128 or any(c.isspace() for c in name):
        raise AccountError("account.bad_username")
    if role in (Role.SYSTEM,):
        raise AccountError("account.no_identity")
    taken = ACCOUNT.c.username == name
    if oidc_subject is not None:
        taken = taken | (ACCOUNT.c.oidc_subject == oidc_subject)
    if conn.execute(select(ACCOUNT.c.id).where(taken)).first():
        raise AccountError("account.taken")
    account_id = uuid.uuid4().hex
    row = {
        "id": account_id,
        "username": name,
        "display_name": display_name.strip()[:200],
        "password_hash": hash_password(password) if password is not None else None,
        "role": role.value,
        "fhir_user": fhir_user,
        "organization": organization,
        "oidc_subject": oidc_subject,
        "active": True,
        "failed_count": 0,
        "locked_until": 0,
        "created": int(time.time()),
    }
    conn.execute(insert(ACCOUNT).values(**row))
    return get_account(conn, account_id)


def get_account(conn: Connection, account_id: str) -> Account:
    row = conn.execute(select(ACCOUNT).where(ACCOUNT.c.id == account_id)).first()
    if row is None:
        raise AccountError("account.unknown")
    return _account(row)


def find_account(conn: Connection, *, username: str | None = None, **by: str) -> Account | None:
    """The account with ``username`` (case-insensitive) or e.g. ``oidc_subject=...``."""
    query = select(ACCOUNT)
    if username is not None:
        query = query.where(ACCOUNT.c.username == username.strip().lower())
    for column, value in by.items():
        query = query.where(ACCOUNT.c[column] == value)
    row = conn.execute(query.limit(1)).first()
    return _account(row) if row is not None else None


def list_accounts(conn: Connection) -> list[Account]:
    return [_account(r) for r in conn.execute(select(ACCOUNT).order_by(ACCOUNT.c.username))]


def set_password(conn: Connection, account_id: str, password: str) -> None:
    """Set a new password and clear the lockout."""
    conn.execute(
        update(ACCOUNT)
        .where(ACCOUNT.c.id == account_id)
        .values(password_hash=hash_password(password), failed_count=0, locked_until=0)
    )


def set_password_hash(conn: Connection, account_id: str, password_hash: str) -> None:
    """Store an already computed argon2 hash (the shared hash of the demo accounts)."""
    conn.execute(
        update(ACCOUNT).where(ACCOUNT.c.id == account_id).values(password_hash=password_hash)
    )


def set_active(conn: Connection, account_id: str, active: bool) -> None:
    conn.execute(update(ACCOUNT).where(ACCOUNT.c.id == account_id).values(active=active))


def _client_failures(conn: Connection, client: str, now: int) -> int:
    count = conn.execute(
        select(func.count())
        .select_from(FAILURE)
        .where(FAILURE.c.client == client, FAILURE.c.at > now - WINDOW_SECONDS)
    ).scalar_one()
    return int(count)


def _record_client_failure(conn: Connection, client: str, now: int) -> None:
    conn.execute(delete(FAILURE).where(FAILURE.c.at <= now - WINDOW_SECONDS))
    conn.execute(insert(FAILURE).values(client=client, at=now))


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction on the sign-in tables (SQLite: the process's writer lock and
    ``BEGIN IMMEDIATE``, as the repository's write transactions)."""
    from healthbridge.store.db import WRITE_OPTION, writer_lock

    with writer_lock(engine), engine.connect() as raw:
        conn = raw.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def check_password(
    engine: Engine, username: str, password: str, client: str, *, now: int | None = None
) -> tuple[Outcome, Account | None]:
    """Check a sign-in; counts failures per account and per client in the database.

    The argon2 verification (tens of milliseconds by design) runs outside any write
    transaction; the counters are then updated in SQL (``failed_count + 1``), so concurrent
    attempts on several servers all count. Returns the outcome and, on
    :attr:`Outcome.OK`, the account."""
    now = int(time.time()) if now is None else now
    client = (client or "unknown")[:64]
    name = username.strip().lower()
    with engine.connect() as conn:
        if _client_failures(conn, client, now) >= MAX_CLIENT_FAILURES:
            return Outcome.THROTTLED, None
        row = conn.execute(select(ACCOUNT).where(ACCOUNT.c.username == name)).first()
    usable = row is not None and bool(row.active) and row.password_hash is not None
    stored = row.password_hash if usable and row is not None else _dummy_hash()
    try:
        good = _HASHER.verify(stored, password) and usable
    except (VerificationError, InvalidHashError):
        good = False
    with writing(engine) as conn:
        if row is None or not usable:
            _record_client_failure(conn, client, now)
            return Outcome.BAD, None
        current = conn.execute(
            select(ACCOUNT.c.failed_count, ACCOUNT.c.locked_until).where(ACCOUNT.c.id == row.id)
        ).one()
        if current.locked_until > now:
            if not good:
                _record_client_failure(conn, client, now)
            return Outcome.LOCKED, None
        if good:
            conn.execute(update(ACCOUNT).where(ACCOUNT.c.id == row.id).values(failed_count=0))
            return Outcome.OK, _account(row)
        _record_client_failure(conn, client, now)
        conn.execute(
            update(ACCOUNT)
            .where(ACCOUNT.c.id == row.id)
            .values(failed_count=ACCOUNT.c.failed_count + 1)
        )
        failures = conn.execute(
            select(ACCOUNT.c.failed_count).where(ACCOUNT.c.id == row.id)
        ).scalar_one()
        if failures >= MAX_FAILURES:
            conn.execute(
                update(ACCOUNT)
                .where(ACCOUNT.c.id == row.id)
                .values(failed_count=0, locked_until=now + LOCK_SECONDS)
            )
            return Outcome.LOCKED, None
        return Outcome.BAD, None


def invite(conn: Connection, account_id: str, created_by: str, *, now: int | None = None) -> str:
    """A one-time invitation code for the account (returned once; stored as a digest)."""
    now = int(time.time()) if now is None else now
    code = secrets.token_urlsafe(24)
    conn.execute(
        insert(INVITATION).values(
            code_hash=digest(code),
            account_id=account_id,
            created_by=created_by,
            expires=now + INVITATION_SECONDS,
            used=None,
        )
    )
    return code


def invitation_account(conn: Connection, code: str, *, now: int | None = None) -> Account:
    """The account an unused, unexpired invitation code is for; :class:`AccountError`."""
    now = int(time.time()) if now is None else now
    row = conn.execute(select(INVITATION).where(INVITATION.c.code_hash == digest(code))).first()
    if row is None or row.used is not None or row.expires <= now:
        raise AccountError("invite.invalid")
    account = get_account(conn, row.account_id)
    if not account.active:
        raise AccountError("invite.invalid")
    return account


def accept_invitation(conn: Connection, code: str, password: str) -> Account:
    """Set the invited account's password and use up the code."""
    account = invitation_account(conn, code)
    set_password(conn, account.id, password)
    conn.execute(
        update(INVITATION)
        .where(INVITATION.c.code_hash == digest(code))
        .values(used=int(time.time()))
    )
    return account
