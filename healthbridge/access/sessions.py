"""Server-side web sessions: the cookie holds a random id, the ``web_session`` row the rest.

A session carries the verified identity of whoever signed in (password account, OIDC, a
pasted bearer token or the development demo login) and the synchronizer CSRF token of its
forms (OWASP CSRF Prevention Cheat Sheet, "Synchronizer Token Pattern"). Signing out, a
password reset or a deactivated account revokes the rows, so a copied cookie stops working
at once (a bare JWT cookie could not be revoked). Only the SHA-256 digest of the id is
stored: a leaked table does not hand out live cookies.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, Engine, Table, insert, select, update

from healthbridge.access.accounts import ACCOUNT, digest
from healthbridge.access.scopes import Permission, Scope, parse_scopes
from healthbridge.access.tokens import DEFAULT_SCOPES, Principal, Role
from healthbridge.store.account_models import WebSessionRow

SESSION: Table = WebSessionRow.__table__  # type: ignore[attr-defined]
LIFETIME_SECONDS: Final = 8 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str
    account_id: str | None


def scope_text(scope: Scope) -> str:
    """The SMART v2 text of a parsed scope (``user/*.cruds``)."""
    letters = "".join(p.value for p in Permission if p in scope.permissions)
    return f"{scope.context.value}/{scope.resource_type}.{letters}"


def _write(engine: Engine) -> Connection:
    from healthbridge.store.db import WRITE_OPTION

    return engine.connect().execution_options(**{WRITE_OPTION: True})


def start(
    engine: Engine,
    principal: Principal,
    *,
    account_id: str | None = None,
    lifetime: int = LIFETIME_SECONDS,
) -> str:
    """Record a new session for ``principal``; returns the cookie value (the random id)."""
    from healthbridge.store.db import writer_lock

    raw = secrets.token_urlsafe(32)
    now = int(time.time())
    scopes = " ".join(scope_text(s) for s in principal.scopes) or DEFAULT_SCOPES[principal.role]
    with writer_lock(engine), _write(engine) as conn, conn.begin():
        conn.execute(
            insert(SESSION).values(
                id_hash=digest(raw),
                account_id=account_id,
                subject=principal.subject,
                role=principal.role.value,
                fhir_user=principal.fhir_user,
                organization=principal.organization,
                scopes=scopes,
                issuer=principal.issuer,
                csrf=secrets.token_urlsafe(32),
                created=now,
                expires=now + lifetime,
                revoked=False,
            )
        )
    return raw


def lookup(engine: Engine, raw: str) -> Session | None:
    """The live session of a cookie value: not revoked, not expired, and its account (if
    any) still active; ``None`` otherwise."""
    if not raw or len(raw) > 200:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(SESSION, ACCOUNT.c.active)
            .select_from(SESSION.outerjoin(ACCOUNT, ACCOUNT.c.id == SESSION.c.account_id))
            .where(SESSION.c.id_hash == digest(raw))
        ).first()
    if row is None or row.revoked or row.expires <= int(time.time()):
        return None
    if row.account_id is not None and not row.active:
        return None
    try:
        role = Role(row.role)
    except ValueError:
        return None
    principal = Principal(
        subject=row.subject,
        role=role,
        scopes=parse_scopes(row.scopes),
        fhir_user=row.fhir_user,
        organization=row.organization,
        issuer=row.issuer,
        token_id=row.id_hash[:16],
    )
    return Session(principal, row.csrf, row.account_id)


def revoke(engine: Engine, raw: str) -> None:
    """End the session of a cookie value (sign-out)."""
    from healthbridge.store.db import writer_lock

    with writer_lock(engine), _write(engine) as conn, conn.begin():
        conn.execute(update(SESSION).where(SESSION.c.id_hash == digest(raw)).values(revoked=True))


def revoke_account(conn: Connection, account_id: str) -> None:
    """End every session of an account (password reset, deactivation)."""
    conn.execute(update(SESSION).where(SESSION.c.account_id == account_id).values(revoked=True))
