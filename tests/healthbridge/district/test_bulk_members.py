"""Group-level export members come from the ``enrollment-centre`` search: exactly the children
a scan of every Patient finds (past enrolments included, other centres' children excluded)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from healthbridge import terminology as t
from healthbridge.demo.load import load_demo
from healthbridge.district.bulk import centre_members
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository
from tests.healthbridge.district.conftest import AS_OF

CONTEXT = RequestContext(principal="test", roles=frozenset({"system"}))
ENROLLMENT = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"


def _scan(repo: Repository, centre: str) -> list[str]:
    """The reference: every current Patient whose enrolment extension names the centre."""
    with repo.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT content FROM resource WHERE res_type = 'Patient' AND NOT deleted")
        ).all()
    found = []
    for (content,) in rows:
        patient = json.loads(content)
        for ext in patient.get("extension", []):
            if ext.get("url") != ENROLLMENT:
                continue
            refs = [
                sub.get("valueReference", {}).get("reference")
                for sub in ext.get("extension", [])
                if sub.get("url") == "centre"
            ]
            if f"Organization/{centre}" in refs:
                found.append(patient["id"])
                break
    return sorted(found)


def _enrolment(centre: str, start: str) -> dict[str, Any]:
    return {
        "url": ENROLLMENT,
        "extension": [
            {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
            {"url": "period", "valuePeriod": {"start": start}},
        ],
    }


def test_centre_members_equal_a_scan_of_every_patient(repository: Repository) -> None:
    load_demo(repository, children=40, as_of=AS_OF)
    with repository.engine.connect() as conn:
        centres = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT res_id FROM resource WHERE res_type = 'Organization'"
                    " AND content LIKE '%childcare-centre%' ORDER BY res_id"
                )
            ).all()
        ]
    assert len(centres) >= 2
    # a child who moved: a past enrolment at the first centre, the current one at the second;
    # a child deleted; an inactive child
    with repository.transaction(CONTEXT) as txn:
        patients = sorted(
            (s.resource for s in txn.search_params("Patient", [("_count", "200")]).matches),
            key=lambda p: p["id"] if p else "",
        )
        moved = dict(patients[0] or {})
        moved["extension"] = [
            e for e in moved.get("extension", []) if e.get("url") != ENROLLMENT
        ] + [_enrolment(centres[0], "2025-01-01"), _enrolment(centres[1], "2026-02-01")]
        moved.pop("meta", None)
        txn.update("Patient", moved["id"], moved)
        inactive = {k: v for k, v in (patients[1] or {}).items() if k != "meta"}
        inactive["active"] = False
        txn.update("Patient", inactive["id"], inactive)
        txn.delete("Patient", str((patients[2] or {})["id"]))
    with repository.transaction(CONTEXT, write=False) as txn:
        for centre in [*centres, "no-such-centre"]:
            assert centre_members(txn, centre) == _scan(repository, centre), centre
        assert moved["id"] in centre_members(txn, centres[0])
        assert moved["id"] in centre_members(txn, centres[1])
    assert any(_scan(repository, c) for c in centres)
