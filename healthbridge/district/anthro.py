"""A centre's measurements in WHO Anthro's CSV layout (:mod:`healthbridge.exchange.anthro_export`).

The rows identify children (``id`` is the Patient id), so the centre's children are read back
through the Transaction API with the caller's context first: the access layer's read hooks see
every child exported and may refuse.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pandas as pd

from healthbridge.district.gather import gather
from healthbridge.errors import BadRequestError
from healthbridge.exchange.anthro_export import anthro_csv
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository

_CHUNK: Final = 100


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
) -> pd.DataFrame:
    """Measurements of the children enrolled in ``centre`` (one row per visit), in reach."""
    oid = centre_id(centre)
    with repo.transaction(context, write=False) as txn:
        txn.read("Organization", oid)  # 404 / 410 for an unknown centre
    frames = gather(repo)
    children = frames.children.loc[frames.children["centre"] == oid, "child_id"].tolist()
    with repo.transaction(context, write=False) as txn:
        for i in range(0, len(children), _CHUNK):
            chunk = children[i : i + _CHUNK]
            txn.search_params("Patient", [("_id", ",".join(chunk)), ("_count", str(len(chunk)))])
    rows = frames.measurements.loc[frames.measurements["child_id"].isin(children)]
    if start is not None:
        rows = rows.loc[rows["date"] >= pd.Timestamp(start)]
    if end is not None:
        rows = rows.loc[rows["date"] <= pd.Timestamp(end)]
    return rows.sort_values(["child_id", "date"], kind="stable").reset_index(drop=True)


def centre_anthro_csv(
    repo: Repository,
    context: RequestContext,
    centre: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> str:
    """The centre's measurements as WHO Anthro CSV text."""
    rows = centre_measurements(repo, context, centre, start=start, end=end)
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
