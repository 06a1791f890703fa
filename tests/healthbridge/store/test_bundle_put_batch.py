"""A transaction Bundle's PUT entries read their targets with one query, with the results of
one read per entry (both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from healthbridge.store import bundle as bundles
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository, Transaction
from tests import factories as f


def _put(rtype: str, rid: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{rtype}/{rid}",
        "resource": {**resource, "id": rid},
        "request": {"method": "PUT", "url": f"{rtype}/{rid}"},
    }


def _seed(repo: Repository, p: str) -> None:
    with repo.transaction(SYSTEM_CONTEXT) as txn:
        for i in range(6):
            txn.update("Patient", f"{p}{i}", {**f.child(), "id": f"{p}{i}"})
        txn.update("Patient", f"{p}2", {**f.child(), "id": f"{p}2", "gender": "female"})
        txn.delete("Patient", f"{p}3")


def _bundle(p: str) -> dict[str, Any]:
    entries = [_put("Patient", f"{p}{i}", {**f.child(), "gender": "male"}) for i in range(8)]
    # runs first (DELETE before PUT): the PUT of p4 then creates it again
    entries.append({"request": {"method": "DELETE", "url": f"Patient/{p}4"}})
    entries.append(_put("Observation", f"{p}o1", f.observation(f"Patient/{p}1")))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _outcome(response: dict[str, Any], p: str) -> list[tuple[Any, ...]]:
    return [
        (
            r["response"]["status"],
            (r["response"].get("location") or "").replace(f"/{p}", "/"),
            r["response"].get("etag"),
        )
        for r in response["entry"]
    ]


def _resource_selects(repo: Repository) -> list[str]:
    seen: list[str] = []

    @event.listens_for(repo.engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split()).lower()
        if text.startswith("select") and "from resource " in text + " ":
            seen.append(text)

    return seen


def test_put_entries_are_read_in_one_query_with_the_same_results(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from healthbridge.store.db import make_engine

    outcomes = []
    for batched, p in ((True, "a"), (False, "b")):
        engine = make_engine(settings.resolved_database_url())
        repo = Repository(engine)
        try:
            _seed(repo, p)
            if not batched:
                monkeypatch.setattr(Transaction, "prefetch_current", lambda *_a, **_k: None)
            selects = _resource_selects(repo)
            response = bundles.process(
                repo, SYSTEM_CONTEXT, _bundle(p), max_entries=100, base="http://x/fhir"
            )
            outcomes.append(_outcome(response, p))
            reads = [s for s in selects if "resource.res_id" in s]
            if batched:
                # one read per type (Patient, Observation); the DELETE reads its own target
                assert len(reads) == 3, reads
            else:
                assert len(reads) == 10, reads
            with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
                assert txn.read("Patient", f"{p}2").version_id == 3
                assert txn.read("Patient", f"{p}4").version_id == 3
                assert txn.read("Patient", f"{p}3").version_id == 3
                assert txn.read("Patient", f"{p}7").version_id == 1
        finally:
            monkeypatch.undo()
            engine.dispose()
    assert outcomes[0] == outcomes[1]
    statuses = [o[0] for o in outcomes[0]]
    assert statuses == [
        *("200 OK", "200 OK", "200 OK", "201 Created", "201 Created", "200 OK"),
        *("201 Created", "201 Created", "204 No Content", "201 Created"),
    ]
