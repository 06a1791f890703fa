"""Delivery position of each notification Subscription (``subscription_state``).

The event counter and cursor of every Subscription were kept in memory; a restart lost
events written while the server was down and counted from 0 again (issue 16 item 6,
healthbridge.store.notify_models).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "subscription_state",
        sa.Column("subscription_id", text(length=64), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("cursor", text(length=40), nullable=False),
        sa.Column("seen", sa.Text(), server_default="", nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt", text(length=40), nullable=False),
        sa.Column("heard_at", text(length=40), nullable=False),
        sa.Column("last_error", text(length=500), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id"),
    )


def downgrade() -> None:
    op.drop_table("subscription_state")
