"""Patient-compartment membership and patient links (access control), with a backfill.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pk() -> sa.Column[int]:
    return sa.Column(
        "pk",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "compartment",
        _pk(),
        sa.Column("res_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("res_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_compartment_patient", "compartment", ["res_type", "patient_id", "res_id"])
    op.create_index("ix_compartment_owner", "compartment", ["res_type", "res_id", "patient_id"])
    op.create_table(
        "patient_link",
        _pk(),
        sa.Column("src_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("src_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("patient_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("party", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("start", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("end", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.PrimaryKeyConstraint("pk"),
    )
    op.create_index("ix_patient_link_party", "patient_link", ["party", "kind", "patient_id"])
    op.create_index("ix_patient_link_source", "patient_link", ["src_type", "src_id"])
    from healthbridge.store.access_tables import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("patient_link")
    op.drop_table("compartment")
