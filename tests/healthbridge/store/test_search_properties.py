"""Property test: date search through SQL agrees with the FHIR range semantics computed in
Python with datetimes (FHIR R4 search §3.1.1.4.2), on both backends."""

from __future__ import annotations

import calendar
import random
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository
from tests import factories as f

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def _span(text: str) -> tuple[datetime, datetime]:
    """Closed range of a partial date, computed independently of the server code."""
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 1:
        start, end = datetime(parts[0], 1, 1), datetime(parts[0] + 1, 1, 1)
    elif len(parts) == 2:
        days = calendar.monthrange(parts[0], parts[1])[1]
        start = datetime(parts[0], parts[1], 1)
        end = start + timedelta(days=days)
    else:
        start = datetime(parts[0], parts[1], parts[2])
        end = start + timedelta(days=1)
    return start, end - timedelta(microseconds=1)


def _matches(prefix: str, resource: str, query: str) -> bool:
    rl, rh = _span(resource)
    pl, ph = _span(query)
    return {
        "eq": rl >= pl and rh <= ph,
        "ne": not (rl >= pl and rh <= ph),
        "gt": rh > ph,
        "lt": rl < pl,
        "ge": rh >= pl,
        "le": rl <= ph,
        "sa": rl > ph,
        "eb": rh < pl,
    }[prefix]


def _partial(day: date, precision: int) -> str:
    return day.isoformat()[: (4, 7, 10)[precision]]


dates = st.dates(min_value=date(2022, 11, 1), max_value=date(2025, 2, 28))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query_day=dates, precision=st.integers(0, 2), prefix=st.sampled_from(PREFIXES))
def test_date_prefixes_match_reference(
    repository: Repository, query_day: date, precision: int, prefix: str
) -> None:
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        existing = txn.search_params("Patient", [("_count", "1")]).total
    if not existing:  # populate once per backend (hypothesis reuses the fixture)
        rng = random.Random(3)
        with repository.transaction(SYSTEM_CONTEXT) as txn:
            for i in range(40):
                day = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 760))
                txn.create(f.child(child_id=f"P{i}", birth_date=_partial(day, rng.randrange(3))))
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        everyone = txn.search_params("Patient", [("_count", "1000")]).matches
        query = _partial(query_day, precision)
        found = txn.search_params(
            "Patient", [("birthdate", f"{prefix}{query}"), ("_count", "1000")]
        )
    expected = {
        p.id for p in everyone if p.resource and _matches(prefix, p.resource["birthDate"], query)
    }
    assert {p.id for p in found.matches} == expected
