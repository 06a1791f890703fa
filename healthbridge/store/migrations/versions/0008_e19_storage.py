"""The current version's JSON is stored once (issue 19, storage).

Until 0007 every write stored the resource's JSON twice: in its ``resource`` row and in its
``resource_version`` row (about 105 MB each in the 600-child demo). From 0008 the version row
of the *current* version holds NULL and reads take the JSON from the ``resource`` row
(``store.stored.versions``); replacing or deleting a resource moves the former JSON into its
version row. This migration converts a database in place: ``content`` becomes nullable and
the version rows of current versions are emptied. The space is reused by later writes; it is
returned to the file system only by ``VACUUM`` (SQLite) or ``VACUUM FULL resource_version`` /
pg_repack (PostgreSQL) — docs/capacity.md.

Downgrade copies the current JSON back into the version rows and restores ``NOT NULL``.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the version rows of current versions (the ``resource`` row has the same version)
_CURRENT = (
    "EXISTS (SELECT 1 FROM resource r WHERE r.res_type = resource_version.res_type"
    " AND r.res_id = resource_version.res_id AND r.version_id = resource_version.version_id)"
)


def upgrade() -> None:
    with op.batch_alter_table("resource_version") as batch:
        batch.alter_column("content", existing_type=sa.Text(), nullable=True)
    op.execute(sa.text(f"UPDATE resource_version SET content = NULL WHERE {_CURRENT}"))


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE resource_version SET content = (SELECT r.content FROM resource r"
            " WHERE r.res_type = resource_version.res_type AND r.res_id = resource_version.res_id"
            " AND r.version_id = resource_version.version_id) WHERE content IS NULL"
        )
    )
    with op.batch_alter_table("resource_version") as batch:
        batch.alter_column("content", existing_type=sa.Text(), nullable=False)
