"""The clinical pipeline's outbox (``pipeline_outbox``, healthbridge.store.outbox_models).

Writes queue the children they touch here, in their own transaction; workers evaluate them
off the write path (issue 19 item 1, healthbridge.pipeline.outbox).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "pipeline_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", text(length=8), nullable=False),
        sa.Column("child_id", text(length=64), nullable=False),
        sa.Column("day", text(length=10), nullable=False),
        sa.Column("source", text(length=200), nullable=False),
        sa.Column("queued_at", text(length=40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", text(length=40), nullable=False),
        sa.Column("last_error", text(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pipeline_outbox_child_id", "pipeline_outbox", ["child_id"])
    op.create_index("ix_pipeline_outbox_next_attempt", "pipeline_outbox", ["next_attempt"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_outbox_next_attempt", table_name="pipeline_outbox")
    op.drop_index("ix_pipeline_outbox_child_id", table_name="pipeline_outbox")
    op.drop_table("pipeline_outbox")
