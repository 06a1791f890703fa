"""PostgreSQL: analyse the search-index tables after 1 % of their rows change, not 10 %.

PostgreSQL plans a search from the statistics autovacuum last took. With the default
``autovacuum_analyze_scale_factor`` (10 % of a table's rows changed), a district's first
morning of checks — thousands of Observations of a type the statistics say does not exist
yet — was planned as if there were none: nested loops that rescanned the day's index rows for
every candidate, 2–77 s per write for minutes on end until autovacuum analysed the tables
(bench/results/burst.md; docs/pipeline.md, "The morning burst on PostgreSQL"). With 1 %
(and at least 1,000 rows) the tables the searches read are analysed within a minute of such
a change; ``ANALYZE`` samples a fixed number of rows (30,000 by default) whatever the
table's size, so analysing more often stays cheap at a province's size. SQLite has no
autovacuum statistics: nothing to do there.

PostgreSQL documentation, "The Autovacuum Daemon" (§25.1.6) and the per-table storage
parameters of ``CREATE TABLE`` (``autovacuum_analyze_scale_factor``,
``autovacuum_analyze_threshold``).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the tables a search reads (the current resources, the index tables, the compartment rows
#: the reach rules read, the rule-input table the worker's scoped reads use)
TABLES = (
    "resource",
    "idx_reference",
    "idx_token",
    "idx_date",
    "idx_string",
    "idx_uri",
    "idx_quantity",
    "idx_number",
    "compartment",
    "rule_input",
)


def upgrade() -> None:
    _alter("SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000)")


def downgrade() -> None:
    _alter("RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)")


def _alter(change: str) -> None:
    """``ALTER TABLE <table> <change>`` for each of :data:`TABLES` (PostgreSQL only) — for a
    table ``healthbridge db partition`` made a partitioned parent (``resource``), for each of
    its leaf partitions: a parent has no storage, and takes no autovacuum parameter."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in TABLES:
        leaves = list(
            bind.execute(
                sa.text(
                    "SELECT relid::regclass::text FROM pg_partition_tree(CAST(:t AS regclass))"
                    " WHERE isleaf"
                ),
                {"t": table},
            ).scalars()
        )  # no rows for a plain table
        for leaf in leaves or [table]:
            op.execute(f"ALTER TABLE {leaf} {change}")
