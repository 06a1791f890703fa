"""Sign-in tables: accounts, invitations, web sessions, failed sign-ins, SMART codes.

See :mod:`healthbridge.store.account_models` and docs/access.md "Sign-in".

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "account",
        sa.Column("id", text(length=64), nullable=False),
        sa.Column("username", text(length=128), nullable=False),
        sa.Column("display_name", text(length=200), nullable=False),
        sa.Column("password_hash", text(length=256), nullable=True),
        sa.Column("role", text(length=32), nullable=False),
        sa.Column("fhir_user", text(length=200), nullable=True),
        sa.Column("organization", text(length=200), nullable=True),
        sa.Column("oidc_subject", text(length=256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("oidc_subject"),
    )
    op.create_table(
        "invitation",
        sa.Column("code_hash", text(length=64), nullable=False),
        sa.Column("account_id", text(length=64), nullable=False),
        sa.Column("created_by", text(length=200), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    op.create_index("ix_invitation_account_id", "invitation", ["account_id"])
    op.create_table(
        "web_session",
        sa.Column("id_hash", text(length=64), nullable=False),
        sa.Column("account_id", text(length=64), nullable=True),
        sa.Column("subject", text(length=256), nullable=False),
        sa.Column("role", text(length=32), nullable=False),
        sa.Column("fhir_user", text(length=200), nullable=True),
        sa.Column("organization", text(length=200), nullable=True),
        sa.Column("scopes", text(length=2000), nullable=False),
        sa.Column("issuer", text(length=256), nullable=False),
        sa.Column("csrf", text(length=64), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_web_session_account_id", "web_session", ["account_id"])
    op.create_table(
        "signin_failure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client", text(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_failure_client", "signin_failure", ["client", "at"])
    op.create_table(
        "oauth_code",
        sa.Column("code_hash", text(length=64), nullable=False),
        sa.Column("client_id", text(length=200), nullable=False),
        sa.Column("redirect_uri", text(length=2000), nullable=False),
        sa.Column("challenge", text(length=128), nullable=False),
        sa.Column("grant", sa.Text(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash"),
    )


def downgrade() -> None:
    op.drop_table("oauth_code")
    op.drop_index("ix_signin_failure_client", table_name="signin_failure")
    op.drop_table("signin_failure")
    op.drop_index("ix_web_session_account_id", table_name="web_session")
    op.drop_table("web_session")
    op.drop_index("ix_invitation_account_id", table_name="invitation")
    op.drop_table("invitation")
    op.drop_table("account")
