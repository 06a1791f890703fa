"""Rebuild the typed rule-input table with the screening results' elements (extractor 5).

A screening-result Observation's rule-input row now holds, in ``extra``, the elements the
screening reader reads (``code``, ``valueCodeableConcept``, ``component``), so
``healthbridge evaluate`` and the outbox workers build the screening frame from the table
instead of reading every screening Observation whole (docs/pipeline.md). Rows written by
extractor 4 lack them: the table is rebuilt from the current resources
(:func:`healthbridge.store.rule_inputs.backfill`, keyset pages, as migration 0008 did).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from healthbridge.store import rule_inputs as ri

    conn = op.get_bind()
    if not ri.is_current(conn):
        ri.backfill(conn)


def downgrade() -> None:
    # nothing to undo: 0014's code finds the table built by another extractor version, so it
    # reads the documents until `healthbridge db reindex --rule-inputs` rebuilds it
    pass
