"""Bulk Data export jobs in the database (``bulk_export_job``).

The job state was a JSON file in the server's local data directory: a restart failed the
jobs and another server could not answer their status (issue 19 item 3,
healthbridge.store.export_models).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "bulk_export_job",
        sa.Column("id", text(length=64), nullable=False),
        sa.Column("state", text(length=16), nullable=False),
        sa.Column("level", text(length=16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("principal", sa.Text(), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("transaction_time", text(length=40), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("exported", sa.Integer(), nullable=False),
        sa.Column("outputs", sa.Text(), server_default="[]", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", text(length=200), nullable=True),
        sa.Column("heartbeat", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bulk_export_job_state", "bulk_export_job", ["state"])


def downgrade() -> None:
    op.drop_index("ix_bulk_export_job_state", table_name="bulk_export_job")
    op.drop_table("bulk_export_job")
