"""initial schema: resources, versions, search indexes

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:54:50.964278
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idx_date",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("low", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("high", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_date", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idx_date_lookup", ["res_type", "param", "low", "high"], unique=False
        )
        batch_op.create_index("ix_idx_date_owner", ["res_type", "res_id", "param"], unique=False)

    op.create_table(
        "idx_number",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_number", schema=None) as batch_op:
        batch_op.create_index("ix_idx_number_lookup", ["res_type", "param", "value"], unique=False)
        batch_op.create_index("ix_idx_number_owner", ["res_type", "res_id"], unique=False)

    op.create_table(
        "idx_quantity",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_quantity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idx_quantity_lookup", ["res_type", "param", "code", "value"], unique=False
        )
        batch_op.create_index("ix_idx_quantity_owner", ["res_type", "res_id"], unique=False)

    op.create_table(
        "idx_reference",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_reference", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idx_reference_lookup",
            ["res_type", "param", "target_id", "target_type"],
            unique=False,
        )
        batch_op.create_index("ix_idx_reference_owner", ["res_type", "res_id"], unique=False)
        batch_op.create_index("ix_idx_reference_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "idx_string",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("exact", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_string", schema=None) as batch_op:
        batch_op.create_index("ix_idx_string_lookup", ["res_type", "param", "value"], unique=False)
        batch_op.create_index("ix_idx_string_owner", ["res_type", "res_id"], unique=False)

    op.create_table(
        "idx_token",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_token", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idx_token_lookup", ["res_type", "param", "code", "system"], unique=False
        )
        batch_op.create_index("ix_idx_token_owner", ["res_type", "res_id"], unique=False)

    op.create_table(
        "idx_uri",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("param", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    with op.batch_alter_table("idx_uri", schema=None) as batch_op:
        batch_op.create_index("ix_idx_uri_lookup", ["res_type", "param", "value"], unique=False)
        batch_op.create_index("ix_idx_uri_owner", ["res_type", "res_id"], unique=False)

    op.create_table(
        "resource",
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("res_type", "res_id"),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index("ix_resource_updated", ["res_type", "last_updated"], unique=False)

    op.create_table(
        "resource_version",
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("res_type", "res_id", "version_id"),
    )


def downgrade() -> None:
    op.drop_table("resource_version")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index("ix_resource_updated")

    op.drop_table("resource")
    with op.batch_alter_table("idx_uri", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_uri_owner")
        batch_op.drop_index("ix_idx_uri_lookup")

    op.drop_table("idx_uri")
    with op.batch_alter_table("idx_token", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_token_owner")
        batch_op.drop_index("ix_idx_token_lookup")

    op.drop_table("idx_token")
    with op.batch_alter_table("idx_string", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_string_owner")
        batch_op.drop_index("ix_idx_string_lookup")

    op.drop_table("idx_string")
    with op.batch_alter_table("idx_reference", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_reference_target")
        batch_op.drop_index("ix_idx_reference_owner")
        batch_op.drop_index("ix_idx_reference_lookup")

    op.drop_table("idx_reference")
    with op.batch_alter_table("idx_quantity", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_quantity_owner")
        batch_op.drop_index("ix_idx_quantity_lookup")

    op.drop_table("idx_quantity")
    with op.batch_alter_table("idx_number", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_number_owner")
        batch_op.drop_index("ix_idx_number_lookup")

    op.drop_table("idx_number")
    with op.batch_alter_table("idx_date", schema=None) as batch_op:
        batch_op.drop_index("ix_idx_date_owner")
        batch_op.drop_index("ix_idx_date_lookup")

    op.drop_table("idx_date")
