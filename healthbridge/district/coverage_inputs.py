"""The coverage inputs read from the whole database — managed cases, frail identifications,
screening results — kept up to date by re-reading only what was written since.

The coverage figures 体弱儿管理率, 结案率 and the screening rates
(:func:`healthbridge.district.figures.coverage_figures`) need every EpisodeOfCare, every Flag
of a managed condition, every screening and haemoglobin Observation and every warning-sign
QuestionnaireResponse (:mod:`healthbridge.district.cases`,
:mod:`healthbridge.district.screening`). Read whole, that is most of the first district view
after a write (9–10 s at 10,000 children, docs/reports.md §2c). Every row of these frames
comes from exactly one resource (its ``key``, ``<type>/<id>``), so after writes they are
brought up to date like the district frames (:mod:`healthbridge.district.refresh`): the
resources of :data:`INPUT_TYPES` changed since the watermark
(:func:`healthbridge.district.watermark.changes`, the same checks: anything it cannot vouch
for reads everything again) are re-read by id, their old rows dropped and their new rows (none
for a deleted resource, or one no longer coded as a screening) spliced in where their keys
sort. The frames equal a full read's
(tests/healthbridge/district/test_coverage_inputs_refresh.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import pandas as pd
from sqlalchemy import Connection

from healthbridge.district.cases import case_rows, frail_rows
from healthbridge.district.refresh import splice
from healthbridge.district.screening import observation_rows, response_rows, screening_rows
from healthbridge.district.watermark import Mark, mark, revision

#: Resource types the coverage inputs are read from.
INPUT_TYPES: Final = ("EpisodeOfCare", "Flag", "Observation", "QuestionnaireResponse")


@dataclass(frozen=True)
class InputsState:
    """The kept coverage inputs (each with its rows' ``key``, in ``key`` order) and the
    watermark they were read at."""

    version: tuple[object, ...]
    revision: str | None
    marks: dict[str, Mark]
    cases: pd.DataFrame
    frail: pd.DataFrame
    screenings: pd.DataFrame

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """``cases``, ``frail`` and ``screenings`` as :func:`~healthbridge.district.cases.
        case_frames` and :func:`~healthbridge.district.screening.screening_frames` give them
        (without ``key``; new frames, the caller may change them)."""
        return tuple(  # type: ignore[return-value]
            f.drop(columns="key") for f in (self.cases, self.frail, self.screenings)
        )


def _marks(conn: Connection, started: dt.datetime) -> dict[str, Mark]:
    return {rtype: mark(conn, rtype, started) for rtype in INPUT_TYPES}


def read_inputs(conn: Connection, version: tuple[object, ...], started: dt.datetime) -> InputsState:
    """Everything read whole (``started``: before the read's first statement)."""
    return InputsState(
        version=version,
        revision=revision(conn),
        marks=_marks(conn, started),
        cases=case_rows(conn),
        frail=frail_rows(conn),
        screenings=screening_rows(conn),
    )


def refresh_inputs(
    conn: Connection,
    state: InputsState,
    version: tuple[object, ...],
    changed: dict[str, list[str]],
    started: dt.datetime,
) -> InputsState:
    """``state`` with the rows of the ``changed`` resources re-read; every other row kept."""

    def keys(rtype: str) -> set[str]:
        return {f"{rtype}/{rid}" for rid in changed.get(rtype, ())}

    cases, frail, screenings = state.cases, state.frail, state.screenings
    if episodes := changed.get("EpisodeOfCare"):
        cases = splice(cases, "key", keys("EpisodeOfCare"), case_rows(conn, episodes))
    if changed.get("Flag"):
        frail = splice(frail, "key", keys("Flag"), frail_rows(conn, changed["Flag"]))
    if changed.get("Observation") or changed.get("QuestionnaireResponse"):
        obs, qrs = changed.get("Observation", []), changed.get("QuestionnaireResponse", [])
        new = pd.concat([observation_rows(conn, obs), response_rows(conn, qrs)], ignore_index=True)
        new = new.sort_values("key", kind="stable", ignore_index=True)
        screenings = splice(
            screenings, "key", keys("Observation") | keys("QuestionnaireResponse"), new
        )
    return InputsState(version, state.revision, _marks(conn, started), cases, frail, screenings)
