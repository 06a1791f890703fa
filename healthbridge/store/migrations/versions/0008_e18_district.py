"""Fill the typed rule-input table for the resources stored before it existed.

Migration 0005 created the table empty and marked it built only on an empty database; a
database that already held resources waited for ``healthbridge db reindex --rule-inputs``,
and meanwhile the district read and ``healthbridge evaluate`` read the stored documents. This
migration fills it from the current resources (:func:`healthbridge.store.rule_inputs.
backfill`, in keyset pages) and marks it built, so every reader can rely on it (issue 18).
On a large district this takes minutes (about the time of one cold read from the documents).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from healthbridge.store import rule_inputs as ri

    conn = op.get_bind()
    if not ri.is_current(conn):
        ri.backfill(conn)


def downgrade() -> None:
    # the rows stay valid for 0007 (they are written with every resource there too)
    pass
