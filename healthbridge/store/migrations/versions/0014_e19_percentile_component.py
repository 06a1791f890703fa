"""Queue the children whose growth scores still include percentile Observations of their own.

Since 2026-12 the pipeline writes one ``hb-growth-score`` Observation per indicator: the
z-score, with its percentile as the one ``component`` (healthbridge.pipeline.scoring). Before,
each percentile was an Observation of its own (``gs-…-{indicator}-p``). This migration changes
no resource: it queues one "re-score everything" outbox row (a ``source`` that names no
resource version, healthbridge.pipeline.drain_changes.changes_of) per child that still has
such an Observation, and the workers then write each z-score with its component and retract
the old percentile Observation (``entered-in-error``, as any score no longer derived),
through the same code as every other write — versioned, indexed and audited.

With ``HEALTHBRIDGE_PIPELINE_MODE=inline`` no worker runs in the server: run ``healthbridge
worker --once`` after the upgrade. The fold re-scores each child in full (about 19 children a
second on SQLite, measured on the demo: docs/pipeline.md, "Derived growth scores"), so upgrade
a large district outside centre hours. The downgrade drops the queued rows that are still
waiting; it cannot split the components back into Observations.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the ``source`` of this migration's rows: no ``Type/id/_history/n``, so "everything"
QUEUED_BY = "migration/0014"


def upgrade() -> None:
    now = dt.datetime.now(dt.UTC)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO pipeline_outbox"
            " (kind, child_id, day, source, queued_at, attempts, next_attempt, last_error)"
            " SELECT DISTINCT 'child', c.patient_id, :day, :marker, :now, 0, '', ''"
            " FROM compartment c JOIN resource r"
            " ON r.res_type = c.res_type AND r.res_id = c.res_id"
            " WHERE r.res_type = 'Observation' AND r.res_id LIKE 'gs-%-p'"
            " AND NOT r.deleted AND r.content NOT LIKE '%entered-in-error%'"
            " ORDER BY c.patient_id"
        ),
        {
            "day": now.date().isoformat(),
            "now": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "marker": QUEUED_BY,
        },
    )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM pipeline_outbox WHERE source = :marker"), {"marker": QUEUED_BY}
    )
