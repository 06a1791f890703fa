"""Values the district cache keeps per data version (:meth:`DistrictCache.kept`): the
screening and case frames of the coverage figures are read once until the data changes."""

from __future__ import annotations

from typing import Any

from healthbridge.district.cache import DistrictCache
from healthbridge.store.hooks import SYSTEM_CONTEXT


def test_kept_until_a_write_then_read_again(repository: Any, cache: DistrictCache) -> None:
    reads: list[int] = []

    def read() -> int:
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            found = txn.search_params("Patient", [("_count", "100")]).matches
        reads.append(len(found))
        return len(found)

    assert cache.kept(repository, "patients", read) == 0
    assert cache.kept(repository, "patients", read) == 0
    assert reads == [0]  # kept: the data did not change
    with repository.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.create({"resourceType": "Patient", "gender": "female", "birthDate": "2025-01-02"})
    assert cache.kept(repository, "patients", read) == 1  # a write: read again, never stale
    assert cache.kept(repository, "other", read) == 1  # each name has its own value
    assert reads == [0, 1, 1]
