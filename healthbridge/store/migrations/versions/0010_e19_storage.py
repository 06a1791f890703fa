"""The current version's JSON is stored once (issue 19, storage).

Until 0007 every write stored the resource's JSON twice: in its ``resource`` row and in its
``resource_version`` row (about 105 MB each in the 600-child demo). From 0008 the version row
of the *current* version holds NULL and reads take the JSON from the ``resource`` row
(``store.stored.versions``); replacing or deleting a resource moves the former JSON into its
version row. This migration converts a database in place: ``content`` becomes nullable and
the version rows of current versions are emptied. The space is reused by later writes; it is
returned to the file system only by ``VACUUM`` (SQLite) or ``VACUUM FULL resource_version`` /
pg_repack (PostgreSQL) — docs/capacity.md.

It also removes repeated index rows: from 0008 the store writes each distinct row of a
resource once (``searchparams.distinct_rows``: a search asks whether a resource has a value,
never how many times; an AuditEvent naming 20 Observations repeated its ``entity-type`` token
20 times — 41 % of the token rows of an audited database). The first row (lowest ``pk``) of
each repeat is kept.

And ``ix_compartment_patient`` leads with ``patient_id`` instead of ``res_type``: the access
rules select the members of the children in a caller's reach by ``patient_id IN (…)`` for
any type, which SQLite answered by scanning the whole ``compartment`` table on every
restricted read (the index was used by no query plan of the test suites,
bench/results/storage.md "Index use"); the same index, reordered, is sought per child.

Downgrade copies the current JSON back into the version rows and restores ``NOT NULL``; the
removed repeats are not put back (they answered nothing; 0007 searches give the same results
without them).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the version rows of current versions (the ``resource`` row has the same version)
_CURRENT = (
    "EXISTS (SELECT 1 FROM resource r WHERE r.res_type = resource_version.res_type"
    " AND r.res_id = resource_version.res_id AND r.version_id = resource_version.version_id)"
)


#: the value columns of each index table (searchparams.ROW_KEYS as of 0008)
_INDEX_VALUES = {
    "idx_token": ("system", "code"),
    "idx_string": ("value", "exact"),
    "idx_date": ("low", "high"),
    "idx_reference": ("target_type", "target_id", "url"),
    "idx_quantity": ("value", "system", "code"),
    "idx_number": ("value",),
    "idx_uri": ("value",),
}


def _remove_repeats(dialect: str) -> None:
    # NULL-safe equality: SQLite's IS, PostgreSQL's IS NOT DISTINCT FROM
    same = " IS " if dialect == "sqlite" else " IS NOT DISTINCT FROM "
    for table, values in _INDEX_VALUES.items():
        match = " AND ".join(f"b.{c}{same}a.{c}" for c in values)
        op.execute(
            sa.text(
                f"DELETE FROM {table} AS a WHERE EXISTS (SELECT 1 FROM {table} b"
                " WHERE b.res_type = a.res_type AND b.res_id = a.res_id"
                f" AND b.param = a.param AND {match} AND b.pk < a.pk)"
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("resource_version") as batch:
        batch.alter_column("content", existing_type=sa.Text(), nullable=True)
    op.execute(sa.text(f"UPDATE resource_version SET content = NULL WHERE {_CURRENT}"))
    _remove_repeats(op.get_bind().dialect.name)
    op.drop_index("ix_compartment_patient", table_name="compartment")
    op.create_index("ix_compartment_patient", "compartment", ["patient_id", "res_type", "res_id"])


def downgrade() -> None:
    op.drop_index("ix_compartment_patient", table_name="compartment")
    op.create_index("ix_compartment_patient", "compartment", ["res_type", "patient_id", "res_id"])
    op.execute(
        sa.text(
            "UPDATE resource_version SET content = (SELECT r.content FROM resource r"
            " WHERE r.res_type = resource_version.res_type AND r.res_id = resource_version.res_id"
            " AND r.version_id = resource_version.version_id) WHERE content IS NULL"
        )
    )
    with op.batch_alter_table("resource_version") as batch:
        batch.alter_column("content", existing_type=sa.Text(), nullable=False)
