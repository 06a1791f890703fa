"""Load the synthetic district into a repository, one FHIR transaction per Bundle.

Loading goes through the same path as a client's ``POST /fhir`` transaction (validation,
profile checks, indexing and every write hook), so the demo exercises the real server.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from healthbridge.demo.bundles import bundles
from healthbridge.demo.population import generate
from healthbridge.store.bundle import process
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository

#: The identity demo loading runs as (the district platform's integration client).
DEMO_CONTEXT = RequestContext(principal="system:demo-loader", roles=frozenset({"system"}))


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """What was loaded and how long it took."""

    children: int
    bundles: int
    resources: int
    seconds: float


def is_empty(repo: Repository) -> bool:
    """Whether the database holds no Patient yet."""
    with repo.transaction(DEMO_CONTEXT, write=False) as txn:
        return txn.search_params("Patient", [("_summary", "count")]).total == 0


def load_demo(
    repo: Repository,
    *,
    children: int = 600,
    seed: int = 20261122,
    as_of: dt.date | None = None,
    max_entries: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> LoadSummary:
    """Generate the district and post it as transaction Bundles (idempotent: PUT by id)."""
    started = time.perf_counter()
    district = generate(children=children, seed=seed, as_of=as_of)
    count = resources = 0
    for bundle in bundles(district):
        entries = bundle["entry"]
        for start in range(0, len(entries), max_entries):
            part = {**bundle, "entry": entries[start : start + max_entries]}
            process(repo, DEMO_CONTEXT, part, max_entries=max_entries, base="", minimal=True)
        count += 1
        resources += len(entries)
        if progress is not None and count > 1:  # the first Bundle is the organisations
            progress(count - 1, children)
    return LoadSummary(children, count, resources, time.perf_counter() - started)
