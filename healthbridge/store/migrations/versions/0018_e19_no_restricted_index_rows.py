"""Drop the index rows of the reference parameters that are others restricted by type.

``patient`` of Observation, Flag, Task, Condition, Encounter… is ``subject.where(resolve()
is Patient)`` (AuditEvent's: ``agent`` and ``entity``; Provenance's: ``target``; Encounter's
``practitioner``: ``participant`` naming a Practitioner), and a search on one now reads
those parameters' rows whose ``target_type`` is the named type
(:func:`healthbridge.fhir.searchparam_defs._restrictions`), so the store writes no rows for
them any more. The rows written before repeat those and are never read again; this deletes
them (a quarter of the reference rows of a growth district: 5.7 of 23.6 million at
100,000 children on PostgreSQL, in 16 s). The pairs are written out here: a migration must
not depend on code that may change later.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: resource type → its restricted parameters (R4 search parameters, 13 of them)
_RESTRICTED = {
    "AuditEvent": ("patient",),
    "CarePlan": ("patient",),
    "Communication": ("patient",),
    "Composition": ("patient",),
    "Condition": ("patient",),
    "Encounter": ("patient", "practitioner"),
    "Flag": ("patient",),
    "Observation": ("patient",),
    "Provenance": ("patient",),
    "QuestionnaireResponse": ("patient",),
    "ServiceRequest": ("patient",),
    "Task": ("patient",),
}


def upgrade() -> None:
    conn = op.get_bind()
    for res_type, params in _RESTRICTED.items():
        conn.execute(
            sa.text(
                "DELETE FROM idx_reference WHERE res_type = :res_type AND param IN :params"
            ).bindparams(sa.bindparam("params", expanding=True)),
            {"res_type": res_type, "params": list(params)},
        )


def downgrade() -> None:
    # 0017's code searches these parameters through their own rows: rebuild the index
    # (`healthbridge db reindex`) after downgrading
    pass
