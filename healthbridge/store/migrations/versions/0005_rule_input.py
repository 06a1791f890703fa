"""Typed rule-input table kept with every write (``healthbridge evaluate`` reads it).

See :mod:`healthbridge.store.rule_inputs`. On an empty database the (empty) table is complete
and is marked built by the current extractor; a database that already holds resources is left
unmarked, and the batch reader keeps reading the documents until
``healthbridge db reindex --rule-inputs`` has filled it (minutes for a large district, so not
done inside the migration).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "rule_input",
        sa.Column("res_type", text(length=64), nullable=False),
        sa.Column("res_id", text(length=64), nullable=False),
        sa.Column("child_id", text(), nullable=True),
        sa.Column("status", text(), nullable=True),
        sa.Column("code", text(), nullable=True),
        sa.Column("day", text(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", text(), nullable=True),
        sa.Column("encounter_id", text(), nullable=True),
        sa.Column("written", text(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("res_type", "res_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rule_input_state",
        sa.Column("name", text(length=64), nullable=False),
        sa.Column("value", text(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    from healthbridge.store.rule_inputs import EXTRACTOR_VERSION, STATE_KEY, TYPES

    bind = op.get_bind()
    kinds = ", ".join(f"'{t}'" for t in TYPES)
    held = bind.exec_driver_sql(
        f"SELECT 1 FROM resource WHERE res_type IN ({kinds}) AND NOT deleted LIMIT 1"
        if bind.dialect.name == "postgresql"
        else f"SELECT 1 FROM resource WHERE res_type IN ({kinds}) AND deleted = 0 LIMIT 1"
    ).first()
    if held is None:
        op.bulk_insert(
            sa.table("rule_input_state", sa.column("name"), sa.column("value")),
            [{"name": STATE_KEY, "value": str(EXTRACTOR_VERSION)}],
        )


def downgrade() -> None:
    op.drop_table("rule_input_state")
    op.drop_table("rule_input")
