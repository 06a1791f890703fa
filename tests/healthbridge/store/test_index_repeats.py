"""A resource's index rows are stored once each (issue 19, storage; migration 0008).

A repeated value (the same category twice, the same ``entity-type`` of each entity an
AuditEvent names) answers no search the first row does not; the store writes each distinct
row once, re-indexing writes the same rows, and migration 0008 removes the repeats an older
database holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from healthbridge.fhir.query import parse_search
from healthbridge.fhir.searchparams import distinct_rows
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.models import TOKEN_INDEX, ResourceRow, ResourceVersionRow
from healthbridge.store.reindex import reindex
from healthbridge.store.repository import Repository
from tests import factories as f

VITAL = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}
TOKEN = TOKEN_INDEX


def _category_rows(repository: Repository, obs_id: str) -> list[tuple[Any, ...]]:
    with repository.engine.connect() as conn:
        return list(
            conn.execute(
                select(TOKEN.c.system, TOKEN.c.code).where(
                    TOKEN.c.res_type == "Observation",
                    TOKEN.c.res_id == obs_id,
                    TOKEN.c.param == "category",
                )
            ).all()
        )


def _found(repository: Repository, params: list[tuple[str, str]]) -> list[str]:
    query = parse_search("Observation", params, default_count=50, max_count=100)
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        return [m.id for m in txn.search(query).matches]


def test_distinct_rows_keeps_the_first_of_each_in_order() -> None:
    a, b = {"param": "x", "code": "1"}, {"param": "x", "code": "2"}
    assert distinct_rows([a, b, dict(a), b, a]) == [a, b]
    assert distinct_rows([a]) == [a]


def test_a_repeated_value_is_one_index_row_and_still_found(repository: Repository) -> None:
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        child = txn.create(f.child()).stored
        obs = txn.create(f.observation(child.reference, category=[VITAL, VITAL, VITAL])).stored
    assert obs.resource is not None
    assert len(obs.resource["category"]) == 3  # the resource keeps what was sent
    system = VITAL["coding"][0]["system"]
    assert _category_rows(repository, obs.id) == [(system, "vital-signs")]
    assert _found(repository, [("category", "vital-signs")]) == [obs.id]
    assert _found(repository, [("category:not", "vital-signs")]) == []
    assert list(reindex(repository.engine, resource_types=["Observation"]))
    assert _category_rows(repository, obs.id) == [(system, "vital-signs")]


def test_migration_0010_removes_repeated_index_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0009")
    meta = {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00.000Z"}
    obs = {**f.observation("Patient/p1"), "id": "o1", "meta": meta}
    row = {
        "res_type": "Observation",
        "res_id": "o1",
        "version_id": 1,
        "last_updated": "2026-01-01T00:00:00.000000",
        "deleted": False,
        "content": json.dumps(obs),
    }
    token = {
        "res_type": "Observation",
        "res_id": "o1",
        "param": "category",
        "system": None,
        "code": "vital-signs",
    }
    res = ResourceRow.__table__  # type: ignore[attr-defined]
    ver = ResourceVersionRow.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(insert(res), [row])
        conn.execute(insert(ver), [{**row, "method": "POST"}])
        # as 0007 wrote them: the same row three times (system NULL: compared NULL-safely)
        conn.execute(insert(TOKEN), [token, token, {**token, "system": "s"}, token])
    upgrade(engine, "0010")
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT pk, system, code FROM idx_token WHERE param = 'category' ORDER BY pk")
        ).all()
    assert [tuple(r) for r in left] == [(1, None, "vital-signs"), (3, "s", "vital-signs")]
    upgrade(engine)
    assert _found(Repository(engine), [("category", "vital-signs")]) == ["o1"]
    engine.dispose()


def test_migration_0016_drops_the_rows_of_union_parameters(repository: Repository) -> None:
    """Observation's ``combo-*`` parameters are searched through their parts' rows: 0016
    deletes the rows an older database holds for them and keeps every other row."""
    from alembic import command

    from healthbridge.store.db import alembic_config
    from healthbridge.store.models import QUANTITY_INDEX

    quantity = QUANTITY_INDEX
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.create({**f.observation("Patient/p1"), "id": "o1"}, assigned_id="o1")
    command.downgrade(alembic_config(repository.engine), "0015")
    owner = {"res_type": "Observation", "res_id": "o1"}
    with repository.engine.begin() as conn:  # as 0015 wrote them
        conn.execute(
            insert(TOKEN),
            [{**owner, "param": "combo-code", "system": "http://loinc.org", "code": "29463-7"}],
        )
        conn.execute(
            insert(quantity),
            [{**owner, "param": "combo-value-quantity", "value": 9.5, "code": "kg"}],
        )
    upgrade(repository.engine)
    with repository.engine.connect() as conn:
        params = {
            str(p)
            for table in ("idx_token", "idx_quantity")
            for (p,) in conn.execute(text(f"SELECT param FROM {table} WHERE res_id = 'o1'"))
        }
    assert not {p for p in params if p.startswith("combo-")}
    assert {"code", "category", "value-quantity"} <= params
    assert _found(repository, [("combo-code", "29463-7")]) == ["o1"]
    assert _found(repository, [("combo-value-quantity", "9.5")]) == ["o1"]


def test_migration_0018_drops_the_rows_of_restricted_parameters(repository: Repository) -> None:
    """Observation's ``patient`` is searched through its ``subject`` rows naming a Patient:
    0018 deletes the ``patient`` rows an older database holds (of every restricted
    parameter) and keeps every other reference row."""
    from alembic import command

    from healthbridge.store.db import alembic_config
    from healthbridge.store.models import REFERENCE_INDEX

    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.create({**f.observation("Patient/p1"), "id": "o1"}, assigned_id="o1")
    command.downgrade(alembic_config(repository.engine), "0017")
    patient = {"target_type": "Patient", "target_id": "p1", "url": "Patient/p1"}
    with repository.engine.begin() as conn:  # as 0017 wrote them
        conn.execute(
            insert(REFERENCE_INDEX),
            [
                {"res_type": "Observation", "res_id": "o1", "param": "patient", **patient},
                {"res_type": "Flag", "res_id": "f1", "param": "patient", **patient},
                {"res_type": "Flag", "res_id": "f1", "param": "subject", **patient},
            ],
        )
    upgrade(repository.engine)
    with repository.engine.connect() as conn:
        left = conn.execute(text("SELECT res_type, param FROM idx_reference ORDER BY 1, 2")).all()
    assert [tuple(r) for r in left] == [("Flag", "subject"), ("Observation", "subject")]
    assert _found(repository, [("patient", "p1")]) == ["o1"]
