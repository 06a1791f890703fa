"""Drop the surrogate key ``pk`` of the search-index and compartment tables.

No query reads it: a row is found by its resource (the ``owner`` indexes) or by its value
(the ``lookup`` indexes). On PostgreSQL each row still drew a number from a sequence and
added an entry to a unique index of its own: about a tenth of the time of copying index rows
in, and 1.4 GB of the 39.8 GB of a 100,000-child district (bench/results/storage.md).

* PostgreSQL: ``ALTER TABLE … DROP COLUMN pk`` drops the primary key's index and the
  sequence with the column. It changes the catalogue only (seconds, whatever the size): the
  index files are removed at once; the 8 bytes the old rows hold are reused as rows are
  rewritten, or returned by ``VACUUM FULL`` / pg_repack (docs/capacity.md).
* SQLite: the column was the ``rowid`` (``INTEGER PRIMARY KEY``), which every table has
  anyway, so nothing is saved; SQLite cannot drop a primary-key column in place, so each
  table is copied without it (Alembic's batch mode: 4.7 s for the demo's 840,000 rows, about
  6 s per million).

Downgrade adds the column back, numbered in the table's order.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the tables whose rows had a surrogate key (``patient_link`` keeps its own: it is small)
_TABLES = (
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_reference",
    "idx_quantity",
    "idx_number",
    "idx_uri",
    "compartment",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} DROP COLUMN pk")
        return
    for table in _TABLES:
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_column("pk")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ADD COLUMN pk BIGSERIAL PRIMARY KEY")
        return
    for table in _TABLES:
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.add_column(sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True))
