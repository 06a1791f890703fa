"""A centre's measurements in WHO Anthro's CSV layout (:mod:`healthbridge.exchange.anthro_export`).

The rows identify children (``id`` is the Patient id), so the centre's children are searched
through the Transaction API with the caller's context: the store's reach (docs/access.md)
decides which of them are exported — a paediatrician gets only the children shared with their
organisation — and the export is audited naming every child in the file
(:func:`healthbridge.access.auditing.record_access`). A health manager or centre staff member
asking for another centre is refused (403).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pandas as pd

from healthbridge.access.auditing import record_access
from healthbridge.access.control import principal_of
from healthbridge.access.errors import PermissionDeniedError
from healthbridge.access.tokens import Role
from healthbridge.district.cache import DistrictCache
from healthbridge.district.gather import gather
from healthbridge.errors import BadRequestError
from healthbridge.exchange.anthro_export import anthro_csv
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository

_CHUNK: Final = 100
#: Roles that export only their own centre's children (their reach is their centre's).
CENTRE_ROLES: Final = frozenset({Role.HEALTH_MANAGER, Role.CENTRE_STAFF})


def centre_id(reference: str) -> str:
    """``Organization/x`` (or ``x``) → ``x``; 400 for another type."""
    rtype, _, rid = reference.rpartition("/")
    if rtype not in ("", "Organization") or not rid:
        raise BadRequestError(f"centre must be an Organization reference, not {reference!r}")
    return rid


def centre_measurements(
    repo: Repository,
    context: RequestContext,
    centre: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    cache: DistrictCache | None = None,
) -> pd.DataFrame:
    """Measurements of the children enrolled in ``centre`` (one row per visit), in reach
    (the district read through ``cache`` when given: the server's)."""
    oid = centre_id(centre)
    with repo.transaction(context, write=False) as txn:
        txn.read("Organization", oid)  # 404 / 410 for an unknown centre
        who = principal_of(txn)
        if (
            who is not None
            and who.role in CENTRE_ROLES
            and who.organization != f"Organization/{oid}"
        ):
            raise PermissionDeniedError(
                f"Role {who.role.value} exports only the children of its own centre"
            )
    frames = gather(repo) if cache is None else cache.gather(repo)
    enrolled = frames.children.loc[frames.children["centre"] == oid, "child_id"].tolist()
    children: list[str] = []
    with repo.transaction(context, write=False) as txn:
        # the store's reach decides which of them the caller may export (docs/access.md)
        for i in range(0, len(enrolled), _CHUNK):
            chunk = enrolled[i : i + _CHUNK]
            found = txn.search_params(
                "Patient", [("_id", ",".join(chunk)), ("_count", str(len(chunk)))]
            )
            children += [m.id for m in found.matches]
        rows = _in_period(
            frames.measurements.loc[frames.measurements["child_id"].isin(children)], start, end
        )
        record_access(txn, "export", [f"Patient/{c}" for c in sorted(set(rows["child_id"]))])
    return rows.sort_values(["child_id", "date"], kind="stable").reset_index(drop=True)


def _in_period(rows: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    if start is not None:
        rows = rows.loc[rows["date"] >= pd.Timestamp(start)]
    if end is not None:
        rows = rows.loc[rows["date"] <= pd.Timestamp(end)]
    return rows


def centre_anthro_csv(
    repo: Repository,
    context: RequestContext,
    centre: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    cache: DistrictCache | None = None,
) -> str:
    """The centre's measurements as WHO Anthro CSV text."""
    rows = centre_measurements(repo, context, centre, start=start, end=end, cache=cache)
    columns = [
        "child_id",
        "sex",
        "birth_date",
        "date",
        "weight_kg",
        "lenhei_cm",
        "measure",
        "headc_cm",
        "centre",
    ]
    return anthro_csv(rows[columns])
