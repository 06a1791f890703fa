"""Covering indexes: lookup indexes end with res_id (IN drivers, EXISTS probes); the date
owner index carries low/high (``_sort`` by date probes it per row).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOOKUPS: dict[str, tuple[str, ...]] = {
    "idx_token": ("res_type", "param", "code", "system"),
    "idx_string": ("res_type", "param", "value"),
    "idx_date": ("res_type", "param", "low", "high"),
    "idx_reference": ("res_type", "param", "target_id", "target_type"),
    "idx_quantity": ("res_type", "param", "code", "value"),
    "idx_number": ("res_type", "param", "value"),
    "idx_uri": ("res_type", "param", "value"),
}


def upgrade() -> None:
    for table, columns in LOOKUPS.items():
        op.drop_index(f"ix_{table}_lookup", table_name=table)
        op.create_index(f"ix_{table}_lookup", table, [*columns, "res_id"])
    op.drop_index("ix_idx_date_owner", table_name="idx_date")
    op.create_index("ix_idx_date_owner", "idx_date", ["res_type", "res_id", "param", "low", "high"])


def downgrade() -> None:
    for table, columns in LOOKUPS.items():
        op.drop_index(f"ix_{table}_lookup", table_name=table)
        op.create_index(f"ix_{table}_lookup", table, list(columns))
    op.drop_index("ix_idx_date_owner", table_name="idx_date")
    op.create_index("ix_idx_date_owner", "idx_date", ["res_type", "res_id", "param"])
