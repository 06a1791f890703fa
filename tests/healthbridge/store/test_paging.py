"""``search_all`` pages through a search without counting it (``_total=none``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.paging import search_all


def _patients(repository: Any, n: int) -> None:
    with repository.transaction(SYSTEM_CONTEXT, write=True) as txn:
        for i in range(n):
            txn.create({"resourceType": "Patient", "id": f"p{i}", "gender": "female"})


def _counting(repository: Any) -> list[str]:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    event.listen(repository.engine, "before_cursor_execute", seen)
    return statements


def test_total_none_spares_the_count(repository: Any) -> None:
    _patients(repository, 5)
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        counted = txn.search_params("Patient", [("_count", "2")])
        assert counted.total == 5
        plain = txn.search_params("Patient", [("_count", "2"), ("_total", "none")])
        assert plain.total is None
        assert [s.id for s in plain.matches] == [s.id for s in counted.matches]
        # a short page still tells its total (no second query needed)
        assert txn.search_params("Patient", [("_count", "9"), ("_total", "none")]).total == 5


def test_search_all_reads_every_page_without_counting(repository: Any) -> None:
    _patients(repository, 7)
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.max_count = 3  # three pages: 3, 3, 1
        statements = _counting(repository)
        found = [s.id for s in search_all(txn, "Patient", [("gender", "female")])]
    assert len(found) == len(set(found)) == 7
    assert not [s for s in statements if "count(" in s.lower()]


def test_search_all_reads_a_larger_page_when_asked(repository: Any) -> None:
    """``page_size`` above the transaction's largest page: one search, not one per page
    (each page after the first re-runs the search to skip the ones before it)."""
    _patients(repository, 7)
    with repository.transaction(SYSTEM_CONTEXT) as txn:
        txn.max_count = 3
        statements = _counting(repository)
        found = [s.id for s in search_all(txn, "Patient", [("gender", "female")], page_size=50)]
        searches = [s for s in statements if "from resource" in s.lower()]
        assert txn.max_count == 3  # the API's largest page is left as it was
        assert txn.search_params("Patient", [("_count", "50")]).query.count == 3
    assert len(found) == len(set(found)) == 7
    assert len(searches) == 1


def test_searchset_without_total_still_links_the_next_page(client: Any) -> None:
    for _i in range(3):
        client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"})
    full = client.get("/fhir/Patient", params={"_count": "2", "_total": "none"}).json()
    assert "total" not in full
    assert [link["relation"] for link in full["link"]] == ["self", "next"]
    last = client.get("/fhir/Patient", params={"_count": "9", "_total": "none"}).json()
    assert last["total"] == 3  # a short page tells its total without a second query
    assert [link["relation"] for link in last["link"]] == ["self"]
