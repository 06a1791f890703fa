"""Token owner index covers (param, code, system): a code-only probe binds it fully.

``Observation?subject=…&code=8306-3`` (a code without its system) probes each candidate
Observation for the code. The lookup index (res_type, param, code, system, res_id) cannot bind
``res_id`` without the system, so the probe scanned every row with that code (over a second at
500,000 Observations). The owner index extended with (param, code, system) binds
(res_type, res_id, param, code) and answers it from a handful of rows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_idx_token_owner", table_name="idx_token")
    op.create_index(
        "ix_idx_token_owner", "idx_token", ["res_type", "res_id", "param", "code", "system"]
    )


def downgrade() -> None:
    op.drop_index("ix_idx_token_owner", table_name="idx_token")
    op.create_index("ix_idx_token_owner", "idx_token", ["res_type", "res_id"])
