"""Loading the demo district through the real write path, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from healthbridge.config import Settings
from healthbridge.demo.load import DEMO_CONTEXT, is_empty, load_demo
from healthbridge.server.app import default_hooks
from healthbridge.store.db import make_engine
from healthbridge.store.repository import Repository

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture
def repo(settings: Settings) -> Iterator[Repository]:
    engine = make_engine(settings.resolved_database_url())
    yield Repository(engine, hooks=default_hooks(settings))
    engine.dispose()


def _count(repo: Repository, rtype: str, params: list[tuple[str, str]] | None = None) -> int:
    with repo.transaction(DEMO_CONTEXT, write=False) as txn:
        result: Any = txn.search_params(rtype, [*(params or []), ("_summary", "count")])
        return int(result.total)


def test_load_is_complete_and_idempotent(repo: Repository) -> None:
    assert is_empty(repo)
    summary = load_demo(repo, children=6, seed=3, as_of=AS_OF)
    assert summary.children == 6
    assert not is_empty(repo)
    assert _count(repo, "Patient") == 6
    # 2 hospitals and 6 centres, in a province of 2 cities and 5 districts (issue 19)
    assert _count(repo, "Organization") == 8 + 8
    assert _count(repo, "Organization", [("partof", "Organization/area-hz-binjiang")]) == 4
    observations = _count(repo, "Observation")
    immunizations = _count(repo, "Immunization")
    assert observations > 6 * 3
    assert immunizations > 6
    again = load_demo(repo, children=6, seed=3, as_of=AS_OF)
    assert again.resources == summary.resources
    assert _count(repo, "Observation") == observations
    assert _count(repo, "Immunization") == immunizations


def test_loaded_children_are_searchable_by_record_number(repo: Repository) -> None:
    load_demo(repo, children=3, seed=5, as_of=AS_OF)
    with repo.transaction(DEMO_CONTEXT, write=False) as txn:
        child = txn.read("Patient", "child-000002").resource
    number = child["identifier"][0]["value"]
    system = child["identifier"][0]["system"]
    assert _count(repo, "Patient", [("identifier", f"{system}|{number}")]) == 1
    weights = _count(
        repo,
        "Observation",
        [("subject", "Patient/child-000002"), ("code", "http://loinc.org|29463-7")],
    )
    assert weights >= 2


def test_everything_the_demo_and_the_server_write_is_valid_r4(repo: Repository) -> None:
    """The demo data goes through the door; the z-scores derived from it are written on the
    trusted path and must pass the door's validator too."""
    from sqlalchemy import text

    from healthbridge.fhir.base_validation import validate_base

    load_demo(repo, children=6, seed=3, as_of=AS_OF)
    seen: dict[str, int] = {}
    with repo.engine.connect() as conn:
        rows = conn.execute(text("SELECT res_type, content FROM resource WHERE NOT deleted"))
        for rtype, content in rows:
            resource = json.loads(content)
            seen[rtype] = seen.get(rtype, 0) + 1
            assert validate_base(resource) == [], (rtype, resource.get("id"))
    assert {"Patient", "Observation", "Encounter", "Immunization", "Consent"} <= set(seen)
