"""PostgreSQL: large flushes go through COPY and store exactly what the INSERT path stores;
a conflict in a COPY is the same 409."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from healthbridge.errors import ConflictError
from healthbridge.fhir.searchparams import INDEXED_TYPES
from healthbridge.store import inserts
from healthbridge.store import search as sql
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import RES, Repository
from tests import factories as f


def _stored(repo: Repository, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with repo.engine.connect() as conn:
        rows = conn.execute(
            select(RES.c.res_id, RES.c.version_id, RES.c.deleted, RES.c.content).where(
                RES.c.res_id.startswith(prefix)
            )
        ).all()
        out["resource"] = sorted(
            (r.res_id.removeprefix(prefix), r.version_id, r.deleted, len(r.content)) for r in rows
        )
        for kind in INDEXED_TYPES:
            table = sql.index_table(kind)
            cols = [c for c in table.c if not c.primary_key]
            found = conn.execute(select(*cols).where(table.c.res_id.startswith(prefix))).all()
            out[kind] = sorted(
                (repr(tuple(v.replace(prefix, "") if isinstance(v, str) else v for v in r)))
                for r in found
            )
    return out


def test_copy_stores_what_insert_stores(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if not settings.resolved_database_url().startswith("postgresql"):
        pytest.skip("COPY is the PostgreSQL path")
    from healthbridge.store.db import make_engine

    engine = make_engine(settings.resolved_database_url())
    repo = Repository(engine)
    results = []
    try:
        for prefix, threshold in (("c-", 1), ("i-", 10**9)):
            monkeypatch.setattr(inserts, "COPY_MIN_ROWS", threshold)
            with repo.transaction(SYSTEM_CONTEXT) as txn:
                txn.create(f.child(family="王", child_id="X1"), assigned_id=f"{prefix}p")
                for i in range(30):
                    obs = f.observation(f"Patient/{prefix}p", value=9.0 + i / 10)
                    txn.create(obs, assigned_id=f"{prefix}o{i}")
            results.append(_stored(repo, prefix))
        assert results[0] == results[1]
        assert len(results[0]["token"]) >= 90  # category, code, status: 3 per Observation
        with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
            found = txn.search_params("Observation", [("subject", "Patient/c-p")])
        assert found.total == 30
        # a unique violation inside a COPY is the same conflict as inside an INSERT
        monkeypatch.setattr(inserts, "COPY_MIN_ROWS", 1)
        with pytest.raises(ConflictError), repo.transaction(SYSTEM_CONTEXT) as txn:
            txn.create(f.child(), assigned_id="c-p")
    finally:
        engine.dispose()
