"""Re-derive the patient links: consent rows per purpose, dated referral windows.

Consent facts are now stored per permitted purpose (``consent:TREAT``, ``consent:COC``, …;
a Consent without ``provision.purpose`` is care only) and referral facts only for *active*
ServiceRequests, dated by their occurrence window plus grace (issue 20, docs/access.md
"Referral reach"). The rows are recomputed from the stored current versions.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from healthbridge.store.access_tables import backfill

    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM patient_link"))
    backfill(conn, compartment=False)


def downgrade() -> None:
    # the old reader expects one "consent" row per organisation: rename the care rows back
    conn = op.get_bind()
    conn.execute(
        sa.text("DELETE FROM patient_link WHERE kind LIKE 'consent:%' AND kind <> 'consent:TREAT'")
    )
    conn.execute(sa.text("UPDATE patient_link SET kind = 'consent' WHERE kind = 'consent:TREAT'"))
