"""Tables of sign-in: local accounts, invitations, server-side sessions, failed attempts,
SMART authorization codes.

They hold no FHIR resource: an account *points at* the person the record holds (``fhir_user``:
a RelatedPerson or PractitionerRole); its role and organisation are derived from that record
when the account is made (:mod:`healthbridge.access.accounts`). Times are integer Unix
seconds (one comparable form on SQLite and PostgreSQL). Secrets are never stored: passwords
as argon2id hashes, session ids and invitation codes as SHA-256 digests.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel


def _pk() -> Column[int]:
    return Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


class AccountRow(SQLModel, table=True):
    """A person who signs in with a password (or through OIDC, by ``oidc_subject``)."""

    __tablename__ = "account"
    id: str = Field(primary_key=True, max_length=64)
    username: str = Field(max_length=128, unique=True)  # stored lower-cased
    display_name: str = Field(default="", max_length=200)
    password_hash: str | None = Field(default=None, max_length=256)
    role: str = Field(max_length=32)
    fhir_user: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    oidc_subject: str | None = Field(default=None, max_length=256, unique=True)
    active: bool = True
    failed_count: int = 0
    locked_until: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created: int = Field(sa_column=Column(BigInteger, nullable=False))


class InvitationRow(SQLModel, table=True):
    """A one-time code with which an invited person sets their password."""

    __tablename__ = "invitation"
    code_hash: str = Field(primary_key=True, max_length=64)
    account_id: str = Field(max_length=64, index=True)
    created_by: str = Field(max_length=200)
    expires: int = Field(sa_column=Column(BigInteger, nullable=False))
    used: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser: the cookie holds the random id, this row its SHA-256 digest."""

    __tablename__ = "web_session"
    id_hash: str = Field(primary_key=True, max_length=64)
    account_id: str | None = Field(default=None, max_length=64, index=True)
    subject: str = Field(max_length=256)
    role: str = Field(max_length=32)
    fhir_user: str | None = Field(default=None, max_length=200)
    organization: str | None = Field(default=None, max_length=200)
    scopes: str = Field(default="", max_length=2000)
    issuer: str = Field(default="local", max_length=256)
    csrf: str = Field(max_length=64)
    created: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked: bool = False


class SigninFailureRow(SQLModel, table=True):
    """One failed sign-in, by client address (rate limit shared by every server process)."""

    __tablename__ = "signin_failure"
    __table_args__ = (Index("ix_signin_failure_client", "client", "at"),)
    id: int | None = Field(default=None, sa_column=_pk())
    client: str = Field(max_length=64)
    at: int = Field(sa_column=Column(BigInteger, nullable=False))


class OAuthCodeRow(SQLModel, table=True):
    """A SMART authorization code (one use, short-lived): what the token exchange grants."""

    __tablename__ = "oauth_code"
    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=200)
    redirect_uri: str = Field(max_length=2000)
    challenge: str = Field(max_length=128)
    grant: str = Field(sa_column=Column(Text, nullable=False))  # JSON: identity, scope, patient
    expires: int = Field(sa_column=Column(BigInteger, nullable=False))
    used: bool = False
