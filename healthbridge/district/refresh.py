"""Bring a cached district up to date by re-reading only what was written since.

:func:`refresh` takes the resources :func:`healthbridge.district.watermark.changes` found
changed, re-reads them from the rule-input table (:mod:`healthbridge.district.read`) and
splices their rows into the cached frames: the children of changed Patients and every
measurement of theirs re-scored, the children changed growth Observations belonged to or now
belong to re-paired and re-scored, changed Encounters' and Immunizations' rows replaced, the
centres re-read. Every other row is kept as is, so the frames equal a full read's
(tests/healthbridge/district/test_gather_refresh.py).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from healthbridge.district import read
from healthbridge.district.admission import admission_checks
from healthbridge.district.frames import DistrictFrames, by_id, public
from healthbridge.district.frames import centres as centre_frames
from healthbridge.district.frames import children as frames_of_children
from healthbridge.district.pairing import measurements as measurements_of
from healthbridge.district.watermark import READ_TYPES, State, mark


def _ranges(frame: pd.DataFrame, key: str, keys: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end positions of each of ``keys`` (in sorted order) in ``frame``, which is
    in ``key`` order (binary search: no pass over the whole column)."""
    values = frame[key].to_numpy(dtype=object)
    wanted = np.array(sorted(keys), dtype=object)
    return (
        np.searchsorted(values, wanted, side="left"),
        np.searchsorted(values, wanted, side="right"),
    )


def _rows(frame: pd.DataFrame, key: str, keys: set[str]) -> pd.DataFrame:
    """The rows of ``frame`` (in ``key`` order) whose ``key`` is one of ``keys``."""
    if not keys or frame.empty:
        return frame.iloc[:0]
    lo, hi = _ranges(frame, key, keys)
    return frame.take(np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)]))


def splice(frame: pd.DataFrame, key: str, drop: set[str], new: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (in ``key`` order) without the rows whose ``key`` is in ``drop``, with ``new``
    (in ``key`` order, every key in ``drop``) inserted where its keys sort: the rows kept are
    sliced, not filtered, so the frame is copied once."""
    if frame.empty:
        return new.reset_index(drop=True)
    if not drop:
        return frame
    lo, hi = _ranges(frame, key, drop)
    keys = sorted(drop)
    if new.empty:
        new_lo = new_hi = np.zeros(len(keys), dtype=np.int64)
    else:
        new = new.astype(frame.dtypes.to_dict())
        new_keys = new[key].to_numpy(dtype=object)
        wanted = np.array(keys, dtype=object)
        new_lo = np.searchsorted(new_keys, wanted, side="left")
        new_hi = np.searchsorted(new_keys, wanted, side="right")
    pieces, start = [], 0
    for a, b, c, d in zip(lo, hi, new_lo, new_hi, strict=True):
        if a > start:
            pieces.append(frame.iloc[start:a])
        if d > c:
            pieces.append(new.iloc[c:d])
        start = max(start, int(b))
    if start < len(frame):
        pieces.append(frame.iloc[start:])
    if not pieces:
        return frame.iloc[:0].reset_index(drop=True)
    return pd.concat(pieces, ignore_index=True)


def refresh(
    conn: Connection,
    state: State,
    version: tuple[object, ...],
    changed: dict[str, list[str]],
    started: dt.datetime,
) -> State:
    """``state`` brought up to date by re-reading only the ``changed`` resources: Patients
    (their children, entry checks and every measurement of theirs re-scored), growth
    Observations (the children they belonged to or now belong to re-paired and re-scored),
    Encounters and Immunizations (their rows replaced), Organizations (the centres re-read:
    a handful of rows). Every other row is kept as is."""
    frames = state.frames
    patient_ids = set(changed["Patient"])
    children, checks = frames.children, frames.admission_checks
    if patient_ids:
        now = read.patients(conn, sorted(patient_ids))
        children = splice(children, "child_id", patient_ids, frames_of_children(now))
        checks = splice(checks, "child_id", patient_ids, admission_checks(now))

    observations = state.observations  # in child order
    affected = set(patient_ids)
    if changed["Observation"]:
        ids = changed["Observation"]
        gone = observations["res_id"].isin(ids)
        fresh = read.growth(conn, ids)
        owners = set(observations.loc[gone, "child_id"]) | set(fresh["child_id"])
        theirs = _rows(observations, "child_id", owners)
        theirs = pd.concat([theirs.loc[~theirs["res_id"].isin(ids)], fresh], ignore_index=True)
        observations = splice(observations, "child_id", owners, by_id(theirs, "child_id"))
        affected |= owners
    measurements = frames.measurements
    if affected:
        new = measurements_of(
            _rows(observations, "child_id", affected), _rows(children, "child_id", affected)
        )
        lo, hi = _ranges(measurements, "child_id", affected)
        if int((hi - lo).sum()) == len(measurements):  # nothing else left: as a full read
            measurements = measurements_of(observations, children)
        else:
            measurements = splice(measurements, "child_id", affected, new)

    checkups, vaccinations = state.checkups, state.vaccinations
    if changed["Encounter"]:
        ids = changed["Encounter"]
        checkups = splice(checkups, "res_id", set(ids), read.checkups(conn, ids))
    if changed["Immunization"]:
        ids = changed["Immunization"]
        vaccinations = splice(vaccinations, "res_id", set(ids), read.vaccinations(conn, ids))
    centres, agreements = frames.centres, frames.agreements
    if changed["Organization"]:
        centres, agreements = centre_frames(read.organizations(conn))
    return State(
        version=version,
        revision=state.revision,
        marks={rtype: mark(conn, rtype, started) for rtype in READ_TYPES},
        observations=observations,
        checkups=checkups,
        vaccinations=vaccinations,
        frames=DistrictFrames(
            children=children,
            measurements=measurements,
            checkups=public(checkups) if changed["Encounter"] else frames.checkups,
            vaccinations=public(vaccinations) if changed["Immunization"] else frames.vaccinations,
            centres=centres,
            agreements=agreements,
            admission_checks=checks,
        ),
    )
