"""Drop the index rows of Observation's ``combo-*`` search parameters.

Each of them is the union of two others (``combo-code`` = ``code`` + ``component-code``, and
so on: :func:`healthbridge.fhir.searchparam_defs._unions`), and a search on one now reads its
parts' rows, so the store writes no rows for them any more. The rows written before are
never read again; this deletes them (about a quarter of a growth Observation's index rows;
on a large district this takes minutes). The parameter codes are written out here: a
migration must not depend on code that may change later.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: index table → the union parameters whose rows it held
_UNIONS = {
    "idx_token": ("combo-code", "combo-value-concept", "combo-data-absent-reason"),
    "idx_quantity": ("combo-value-quantity",),
}


def upgrade() -> None:
    conn = op.get_bind()
    for table, params in _UNIONS.items():
        conn.execute(
            sa.text(
                f"DELETE FROM {table} WHERE res_type = 'Observation' AND param IN :params"
            ).bindparams(sa.bindparam("params", expanding=True)),
            {"params": list(params)},
        )


def downgrade() -> None:
    # 0015's code searches these parameters through their own rows: rebuild the index
    # (`healthbridge db reindex`) after downgrading
    pass
