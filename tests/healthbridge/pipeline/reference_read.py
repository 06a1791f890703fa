"""The per-resource reference for the batch reader's frames (a test oracle).

This is how ``healthbridge evaluate`` read a district before the field-wise reader
(:mod:`healthbridge.inputs.dbframes`): every current resource parsed whole and turned into
rule inputs by the per-resource functions of :mod:`healthbridge.inputs.extract` — the same
functions the write interceptor uses. The tests check the batch reader gives the same frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import select

from healthbridge import terminology as t
from healthbridge.clinical.records import GROWTH_FIELDS, DistrictData, screening_results_frame
from healthbridge.inputs import extract as x
from healthbridge.inputs.screening import screening_results
from healthbridge.pipeline.scoring import (
    point_columns,
    points_from_columns,
    score_columns,
    session_columns,
)
from healthbridge.store.repository import RES, Repository

_TYPES = ("Patient", "Observation", "Encounter", "Immunization", "QuestionnaireResponse")


@dataclass
class _District:
    patients: dict[str, x.ChildInfo] = field(default_factory=dict)
    observations: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    encounters: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    immunizations: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    responses: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    n_observations: int = 0
    altitudes: x.Altitudes = field(default_factory=lambda: x.Altitudes({}, {}))


def _rows(repository: Repository, rtype: str) -> Iterator[tuple[str, str]]:
    stmt = (
        select(RES.c.res_id, RES.c.content)
        .where(RES.c.res_type == rtype, RES.c.deleted.is_(False))
        .execution_options(yield_per=5000)
    )
    with repository.engine.connect() as conn:
        for row in conn.execute(stmt):
            yield row.res_id, row.content


def read_district(repository: Repository) -> _District:
    """Every current resource the rules read, grouped by child (one pass per type)."""
    d = _District()
    derived_marker = t.CS_GROWTH_INDICATOR
    for rtype in _TYPES:
        for _rid, content in _rows(repository, rtype):
            if rtype == "Observation" and derived_marker in content:
                continue  # a derived score: not a rule input
            resource = orjson.loads(content)
            if rtype == "Patient":
                try:
                    d.patients[str(resource["id"])] = x.child_info(resource)
                except x.NotAChildError:
                    continue
            else:
                child = x.subject_id(resource)
                if child is None:
                    continue
                if rtype == "Observation":
                    d.observations[child].append(resource)
                    d.n_observations += 1
                elif rtype == "Encounter":
                    d.encounters[child].append(resource)
                elif rtype == "Immunization":
                    d.immunizations[child].append(resource)
                else:
                    d.responses[child].append(resource)
    d.altitudes = x.altitudes(orjson.loads(c) for _r, c in _rows(repository, "Location"))
    return d


def _frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...], dates: tuple[str, ...]) -> Any:
    frame = pd.DataFrame(rows, columns=list(columns))
    for c in dates:
        frame[c] = pd.to_datetime(frame[c])
    return frame


def district_data(d: _District) -> DistrictData:
    """The batch evaluator's input frames (schemas in healthbridge.clinical.frames)."""
    children: list[tuple[Any, ...]] = []
    growth_children: list[tuple[x.ChildInfo, list[x.Session]]] = []
    inputs: dict[str, list[Any]] = {}
    checkups, doses, checks, hb, screenings, enrolments, tst = [], [], [], [], [], [], []
    for cid, info in d.patients.items():
        children.append(
            (
                cid,
                info.birth_date,
                info.sex.value,
                info.centre_id,
                info.class_id,
                info.gestational_weeks,
                d.altitudes.of(info),
            )
        )
        obs = d.observations.get(cid, [])
        sessions = x.growth_sessions(obs)
        if sessions:
            growth_children.append((info, sessions))
            for name, values in session_columns(info, sessions).items():
                inputs.setdefault(name, []).extend(values)
        checkups += [
            (cid, c.checkup_id, c.on, c.visit_type) for c in x.checkups(d.encounters.get(cid, []))
        ]
        doses += [
            (cid, g.immunization_id, g.vaccine, g.on) for g in x.doses(d.immunizations.get(cid, []))
        ]
        checks += [
            (c.check_id, cid, c.centre_id, c.class_id, c.on, c.temperature_c, c.symptoms)
            for c in x.daily_checks(info, obs)
        ]
        hb += [(cid, h.observation_id, h.on, h.hb_g_l) for h in x.haemoglobin(obs)]
        tst += [(cid, r.observation_id, r.on, r.negative) for r in x.tb_tests(obs)]
        screenings += [
            (cid, s.screening_id, s.on, s.positive_items, s.regression)
            for s in x.screenings(d.responses.get(cid, []))
        ]
        enrolments += [
            (cid, e.centre_id, e.entry_date, e.check_state.value) for e in info.enrolments
        ]
    growth_rows = []
    if growth_children:
        cols = point_columns(score_columns(inputs))
        start = 0
        for info, sessions in growth_children:
            for p in points_from_columns(info, sessions, cols, start):
                growth_rows.append(
                    (
                        info.child_id, p.observation_id, p.on, p.age_days, p.zwei, p.zlen,
                        p.zwfl, p.zbmi, p.zhc, p.fwei, p.flen, p.fwfl, p.fbmi, p.fhc, p.weight,
                        p.corrected,
                    )
                )  # fmt: skip
            start += len(sessions)
    return DistrictData(
        children=_frame(
            children,
            (
                "child_id",
                "birth_date",
                "sex",
                "centre_id",
                "class_id",
                "gestational_weeks",
                "altitude_m",
            ),
            ("birth_date",),
        ),
        growth=_frame(
            growth_rows,
            (
                "child_id",
                "observation_id",
                "date",
                "age_days",
                *GROWTH_FIELDS,
            ),
            ("date",),
        ).astype({"zwei": float, "zlen": float, "zwfl": float, "zbmi": float, "zhc": float}),
        checkups=_frame(checkups, ("child_id", "checkup_id", "date", "visit_type"), ("date",)),
        doses=_frame(doses, ("child_id", "immunization_id", "vaccine", "date"), ("date",)),
        daily_checks=_frame(
            checks,
            ("check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms"),
            ("date",),
        ),
        haemoglobin=_frame(hb, ("child_id", "observation_id", "date", "hb_g_l"), ("date",)),
        screenings=_frame(
            screenings,
            ("child_id", "screening_id", "date", "positive_items", "regression"),
            ("date",),
        ),
        enrolments=_frame(
            enrolments, ("child_id", "centre_id", "entry_date", "check_state"), ("entry_date",)
        ),
        tb_tests=_frame(tst, ("child_id", "observation_id", "date", "negative"), ("date",)),
        screening_results=screening_results_frame(
            [
                (cid, r)
                for cid in sorted(d.patients)
                for r in screening_results(d.observations.get(cid, []))
            ]
        ),
    )
