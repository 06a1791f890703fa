"""Migration 0003 fills the compartment and patient-link tables from existing resources;
0007 re-derives the links (consent purposes, dated referrals)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import insert, select

from healthbridge.store.access_tables import COMPARTMENT, LINK
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.models import ResourceRow
from tests.healthbridge.access import world


def test_backfill_of_existing_data(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0002")
    res = ResourceRow.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "res_type": r["resourceType"],
            "res_id": r["id"],
            "version_id": 1,
            "last_updated": "2026-01-01T00:00:00.000",
            "deleted": False,
            "content": json.dumps(r),
        }
        for r in world.resources()
    ]
    with engine.begin() as conn:
        conn.execute(insert(res), rows)
    upgrade(engine)
    with engine.connect() as conn:
        comp = set(conn.execute(select(COMPARTMENT.c.res_id, COMPARTMENT.c.patient_id)).all())
        links = set(conn.execute(select(LINK.c.kind, LINK.c.party, LINK.c.patient_id)).all())
    engine.dispose()
    assert ("obs-a-focus", "kid-a") in comp
    assert ("kid-b", "kid-b") in comp
    assert ("obs-b", "kid-b") in comp
    assert links == {
        ("guardian", "RelatedPerson/rp-a", "kid-a"),
        ("guardian", "RelatedPerson/rp-b", "kid-b"),
        ("enrolment", "Organization/centre-a", "kid-a"),
        ("enrolment", "Organization/centre-b", "kid-b"),
        ("enrolment", "Organization/centre-a", "kid-old"),
        ("consent:TREAT", "Organization/hosp-h", "kid-a"),
        ("consent:COC", "Organization/hosp-g", "kid-b"),
        ("referral", "Organization/hosp-g", "kid-b"),
    }


def test_0007_rederives_old_link_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0006")
    res = ResourceRow.__table__  # type: ignore[attr-defined]
    completed = {
        "resourceType": "ServiceRequest",
        "id": "done",
        "status": "completed",
        "subject": {"reference": "Patient/kid-a"},
        "performer": [{"reference": "Organization/hosp-g"}],
    }
    with engine.begin() as conn:
        conn.execute(
            insert(res),
            [
                {
                    "res_type": r["resourceType"],
                    "res_id": r["id"],
                    "version_id": 1,
                    "last_updated": "2026-01-01T00:00:00.000",
                    "deleted": False,
                    "content": json.dumps(r),
                }
                for r in (world.consent("c", "kid-a", "hosp-h"), completed)
            ],
        )
        # the rows the old code wrote: an undated "consent", a referral for a completed request
        old = {"src_type": "Consent", "src_id": "c", "patient_id": "kid-a"}
        conn.execute(insert(LINK), [{**old, "kind": "consent", "party": "Organization/hosp-h"}])
        conn.execute(
            insert(LINK),
            [
                {
                    "src_type": "ServiceRequest",
                    "src_id": "done",
                    "patient_id": "kid-a",
                    "kind": "referral",
                    "party": "Organization/hosp-g",
                }
            ],
        )
    upgrade(engine)
    with engine.connect() as conn:
        links = set(conn.execute(select(LINK.c.kind, LINK.c.party, LINK.c.patient_id)).all())
    engine.dispose()
    assert links == {("consent:TREAT", "Organization/hosp-h", "kid-a")}
