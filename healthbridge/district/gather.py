"""Read a whole district out of the store as the DataFrames the pure reports take.

:func:`gather` is one full read, from the typed rule-input table (:mod:`healthbridge.district.
read`: a few column scans) plus the Organizations. It reads as the district platform itself:
callers either return aggregates only (reports, gated by
:func:`healthbridge.district.roles.require_role`) or read the children they output back
through the Transaction API as the caller (WHO Anthro export). Reading and scoring a whole
district is the cost of every report, so the server keeps the frames of the last read in a
:class:`healthbridge.district.cache.DistrictCache` (on the app, made by its lifespan) and
refreshes only what changed; a command run once reads with :func:`gather`.

The layout of the frames and the rules of their rows: :mod:`healthbridge.district.frames`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine

from healthbridge.district import read
from healthbridge.district.admission import admission_checks
from healthbridge.district.frames import DistrictFrames, by_id, public
from healthbridge.district.frames import centres as centre_frames
from healthbridge.district.frames import children as frames_of_children
from healthbridge.district.pairing import measurements
from healthbridge.district.watermark import READ_TYPES, State, data_version, mark, revision
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository


def consistent(conn: Connection) -> Connection:
    """One consistent view for the whole read (PostgreSQL: REPEATABLE READ; SQLite: the read
    transaction the store's engine opens with ``BEGIN`` sees one snapshot in WAL mode)."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def ensure_rule_inputs(engine: Engine) -> bool:
    """Make the rule-input table current before it is read; returns whether it had to be
    rebuilt. Migrations keep it current (0008 filled it for resources stored before it
    existed); it is stale only when a rebuild was interrupted or a database was made by
    hand, and then it is rebuilt here as ``healthbridge db reindex --rule-inputs`` does
    (:func:`healthbridge.store.reindex.rebuild_rule_inputs`): the district is never read from
    an incomplete table."""
    with engine.connect() as conn:
        if ri.is_current(conn):
            return False
    from healthbridge.store.reindex import rebuild_rule_inputs

    for _ in rebuild_rule_inputs(engine):
        pass
    return True


def read_state(conn: Connection, version: tuple[object, ...], started: dt.datetime) -> State:
    """Read everything, with the watermark a later refresh starts from (the caller holds one
    consistent view, begun after ``started``, and a current rule-input table)."""
    marks = {rtype: mark(conn, rtype, started) for rtype in READ_TYPES}
    ordered = read.patients(conn)
    observations = by_id(read.growth(conn), "child_id")
    checkups = read.checkups(conn)
    vaccinations = read.vaccinations(conn)
    children = frames_of_children(ordered)
    centres, agreements = centre_frames(read.organizations(conn))
    frames = DistrictFrames(
        children=children,
        measurements=measurements(observations, children),
        checkups=public(checkups),
        vaccinations=public(vaccinations),
        centres=centres,
        agreements=agreements,
        admission_checks=admission_checks(ordered),
    )
    return State(version, revision(conn), marks, observations, checkups, vaccinations, frames)


def gather(repo: Repository) -> DistrictFrames:
    """Read the district (current versions, deleted resources excluded) into DataFrames,
    without a cache (a command run once; the server uses its
    :class:`~healthbridge.district.cache.DistrictCache`)."""
    ensure_rule_inputs(repo.engine)
    with repo.engine.connect() as raw:
        conn = consistent(raw)
        started = dt.datetime.now(dt.UTC)
        return read_state(conn, data_version(conn), started).frames
