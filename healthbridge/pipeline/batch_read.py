"""The district read of ``healthbridge evaluate``: every child's rule inputs and what writing
alerts needs, from the database.

The rule inputs come from the typed rule-input table the store keeps with every write
(:mod:`healthbridge.store.rule_inputs`: plain column scans), or, when that table is not
current, field-wise from the stored documents (:mod:`healthbridge.inputs.dbframes`: only the
fields the rules use, straight into DataFrames); :mod:`healthbridge.pipeline.batch_frames`
shapes both into the input frames of :mod:`healthbridge.clinical.frames`. The open Flags and
Tasks are read as the parts reconciling reads. One process reads it all: a second read
process (waves 5–7) took an unchanged 100,000-child district from 45 to 34 s when the 60 s aim
was already met with one, at the price of two packing schemes; it was removed
(bench/results/evaluate.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection

from healthbridge import terminology as t
from healthbridge.clinical.records import DistrictData, cases_frame
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.inputs import screening
from healthbridge.pipeline import batch_frames as bf
from healthbridge.pipeline.engine import is_health_manager
from healthbridge.pipeline.errors import PipelineConfigError
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository

#: Where :func:`read` reads the rule inputs from.
Source = Literal["auto", "table", "documents"]


@dataclass(frozen=True)
class Scope:
    """Some children instead of the whole district (an outbox worker's batch,
    :mod:`healthbridge.pipeline.drain_vector`): the ids of the resources referring to them,
    by type (:func:`healthbridge.pipeline.drain_vector.scope_of`), and their centres' staff
    roles. Every reader below then reads only those ids (primary-key lookups)."""

    children: tuple[str, ...]
    ids: dict[str, list[str]]
    roles: tuple[str, ...]

    def of(self, rtype: str) -> list[str]:
        return self.ids.get(rtype, [])


@dataclass
class DistrictRead:
    """A district read for batch evaluation: the rule inputs plus what writing alerts needs
    (children, open Flags and Tasks, centre managers, each child's encounters and evidence
    id types)."""

    data: DistrictData
    patients: dict[str, x.ChildInfo]
    flags: defaultdict[str, list[dict[str, Any]]]
    tasks: dict[str, dict[str, Any]]
    managers: dict[str, str]
    encounters: pd.DataFrame  # res_id, child_id, doc (routing fields: dict or JSON, or None)
    evidence: pd.DataFrame  # child_id, res_id, res_type (non-Observation rule inputs)
    n_observations: int
    source: str = "documents"  # "table" (rule-input table) or "documents" (stored JSON)


def _children(conn: Connection) -> dict[str, x.ChildInfo]:
    patients = {}
    for doc in dbf.documents(conn, "Patient"):
        try:
            patients[str(doc["id"])] = x.child_info(doc)
        except x.NotAChildError:
            continue
    return patients


def _altitudes(conn: Connection) -> x.Altitudes:
    """Location altitudes (``position.altitude``) for the anaemia thresholds."""
    return x.altitudes(dbf.documents(conn, "Location"))


@dataclass
class _Inputs:
    """What the two readers (documents, rule-input table) produce; the rest is shared."""

    patients: dict[str, x.ChildInfo]
    observations: pd.DataFrame  # bf.OBS_COLUMNS
    encounters: pd.DataFrame  # see bf.checkups
    immunizations: pd.DataFrame  # see bf.doses
    responses: list[tuple[str, dict[str, Any]]]  # (child id, QuestionnaireResponse)
    n_observations: int


def _from_documents(repository: Repository) -> _Inputs:
    """Rule inputs extracted from the stored JSON documents (:mod:`.dbframes`)."""
    with repository.engine.connect() as conn:
        raw_obs = bf.compact_observations(
            dbf.fields(
                conn, "Observation", bf.OBSERVATION, exclude_containing=t.CS_GROWTH_INDICATOR
            )
        )
        patients = _children(conn)
        raw_enc = dbf.fields(conn, "Encounter", bf.ENCOUNTER)
        raw_imm = dbf.fields(conn, "Immunization", bf.IMMUNIZATION)
        responses_read = dbf.documents(conn, "QuestionnaireResponse")
    known = set(patients)
    responses = []
    for doc in responses_read:
        cid = x.subject_id(doc)
        if cid in known:
            responses.append((str(cid), doc))
    n_obs = sum(r is not None for r in dbf.ref_ids(raw_obs["subject"].tolist(), "Patient"))
    return _Inputs(
        patients,
        bf.observations(raw_obs, known),
        bf.encounters(raw_enc, known),
        bf.immunizations(raw_imm, known),
        responses,
        n_obs,
    )


def _columns(rows: list[tuple[Any, ...]], n: int) -> list[Any]:
    """The columns of fetched rows (object arrays; a C-level transpose)."""
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(n)]
    table = np.array(rows, dtype=object)
    return [table[:, k] for k in range(n)]


def _days(values: list[str | None]) -> pd.Series:
    """:func:`.dbframes.days` of values already cut to 10 characters (the table's ``day``)."""
    return pd.to_datetime(bf.series(values), format="%Y-%m-%d", errors="coerce")


def _of_known(ids: list[Any], known: set[str]) -> pd.Series:
    return pd.Series([i if i in known else None for i in ids], dtype=object)


_NOT_VOID = " AND (status IS NULL OR status NOT IN ({}))".format(
    ", ".join(f"'{s}'" for s in sorted(x.VOID_STATUSES))
)


_TRIGGERS = " AND code IN ({})".format(
    ", ".join(f"'{c}'" for c in sorted(x.TRIGGER_OBSERVATION_CODES))
)


def _ids(scope: Scope | None, rtype: str) -> list[str] | None:
    """The ids a scoped read reads of ``rtype`` (None: all)."""
    return None if scope is None else scope.of(rtype)


def _table_patients(conn: Connection, scope: Scope | None = None) -> dict[str, x.ChildInfo]:
    """The children (:func:`~.extract.child_info` on the Patients' stored elements)."""
    patients: dict[str, x.ChildInfo] = {}
    ids = None if scope is None else list(scope.children)
    for _rid, extra in ri.scan(conn, "Patient", "res_id, extra", res_ids=ids):
        try:
            info = x.child_info(orjson.loads(extra))
        except x.NotAChildError:
            continue
        patients[info.child_id] = info
    return patients


def _table_observations(
    conn: Connection, known: set[str], scope: Scope | None = None
) -> pd.DataFrame:
    """The rule-input Observations of known children (:data:`.batch_frames.OBS_COLUMNS`)
    with a code some rule reads."""
    rid, child, code, day, value, unit, enc, written, extra = _columns(
        ri.scan(
            conn,
            "Observation",
            "res_id, child_id, code, day, value, unit, encounter_id, written, extra",
            " AND child_id IS NOT NULL AND day IS NOT NULL" + _NOT_VOID + _TRIGGERS,
            res_ids=_ids(scope, "Observation"),
        ),
        9,
    )
    symptoms: list[tuple[str, ...]] = [()] * len(extra)
    for i, e in enumerate(extra):
        if e is not None:
            symptoms[i] = tuple(orjson.loads(e))
    obs = pd.DataFrame(
        {
            "res_id": bf.series(rid),
            "child_id": _of_known(child, known),
            "code": bf.series(code),
            "on": _days(day).to_numpy(),
            "number": np.array(value, dtype="float64"),
            "unit": bf.series(unit),
            "encounter_id": bf.series(enc),
            "written": bf.series(written),
            "symptoms": bf.series(symptoms),
        }
    )
    return obs.loc[obs["child_id"].notna() & obs["on"].notna()].reset_index(drop=True)


def _observation_count(conn: Connection, scope: Scope | None = None) -> int:
    """The number of Observations naming a child (rule inputs, measurements or not)."""
    if scope is not None:
        return len(scope.of("Observation"))
    (n,) = ri.scan(conn, "Observation", "count(*)", " AND child_id IS NOT NULL")[0]
    return int(n)


def _coded_frame(
    conn: Connection,
    rtype: str,
    code_name: str,
    known: set[str],
    *,
    with_doc: bool,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """One coded resource type's rule-input rows (Encounters: the checkup visit; Immunizations:
    the vaccine) with a child: ``res_id, child_id, status, <code_name>, date`` (+ ``doc``,
    the stored extra, with ``with_doc``)."""
    names = "res_id, child_id, status, code, day" + (", extra" if with_doc else "")
    scanned = ri.scan(conn, rtype, names, " AND child_id IS NOT NULL", res_ids=_ids(scope, rtype))
    cols = _columns(scanned, 6 if with_doc else 5)
    frame: dict[str, Any] = {
        "res_id": bf.series(cols[0]),
        "child_id": _of_known(cols[1], known),
        "status": bf.series(cols[2]),
        code_name: bf.series(cols[3]),
        "date": _days(cols[4]).to_numpy(),
    }
    if with_doc:
        frame["doc"] = bf.series(cols[5])
    return pd.DataFrame(frame)


def _from_table(
    conn: Connection, patients: dict[str, x.ChildInfo], scope: Scope | None = None
) -> _Inputs:
    """Rule inputs from the typed table kept at write time (:mod:`~healthbridge.store.rule_inputs`):
    column scans, no JSON parsed but the Patients' few elements (:func:`_table_patients`) and
    the QuestionnaireResponse answers; the Observations are read by
    :func:`_table_observations`."""
    known = set(patients)
    encounters = _coded_frame(conn, "Encounter", "visit", known, with_doc=True, scope=scope)
    immunizations = _coded_frame(
        conn, "Immunization", "vaccine", known, with_doc=False, scope=scope
    )
    responses = []
    for qid, cid, e in ri.scan(
        conn,
        "QuestionnaireResponse",
        "res_id, child_id, extra",
        " AND child_id IS NOT NULL",
        res_ids=_ids(scope, "QuestionnaireResponse"),
    ):
        if cid in known:
            doc = orjson.loads(e)
            item = [{"linkId": link, "answer": [{"valueBoolean": True}]} for link in doc["true"]]
            responses.append(
                (
                    str(cid),
                    {
                        "id": qid,
                        "questionnaire": doc["questionnaire"],
                        "status": doc["status"],
                        "authored": doc["authored"],
                        "item": item,
                    },
                )
            )
    observations = _table_observations(conn, known, scope)
    return _Inputs(
        patients,
        observations,
        encounters,
        immunizations,
        responses,
        _observation_count(conn, scope),
    )


#: The elements of the open Flags and their review Tasks that reconciling reads
#: (:func:`~healthbridge.pipeline.alerts.open_alerts`: status, kind, severity, the Task's
#: inputs). A district holds an alert per child or more, and parsing whole documents was a
#: fifth of the read; the actions' few Flags and Tasks are read whole before they are written
#: (:func:`.batch_write._alert_documents`), never rebuilt from these parts.
_FLAG_FIELDS: Final = {
    "status": "$.status",
    "subject": "$.subject.reference",
    "code": "$.code",
    "extension": "$.extension",
}
_TASK_FIELDS: Final = {"focus": "$.focus.reference", "input": "$.input"}


def _steps_of(paths: dict[str, str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Field name → the element names of its ``$.a.b`` path (split once, not per row)."""
    return tuple((name, tuple(path[2:].split("."))) for name, path in paths.items())


_FLAG_STEPS: Final = _steps_of(_FLAG_FIELDS)
_TASK_STEPS: Final = _steps_of(_TASK_FIELDS)


def _partial(
    row: Any, resource_type: str, steps: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Any]:
    """The read elements of one Flag or Task as a (partial) resource."""
    doc: dict[str, Any] = {"resourceType": resource_type, "id": row.res_id}
    for name, elements in steps:
        value = getattr(row, name)
        if value is None:
            continue
        if len(elements) == 2:  # $.subject.reference, $.focus.reference
            doc[elements[0]] = {elements[1]: value}
        else:
            doc[elements[0]] = value
    return doc


def rule_inputs_current(repository: Repository) -> bool:
    """Whether the rule-input table is complete for this extractor version (otherwise
    ``healthbridge db reindex --rule-inputs`` rebuilds it)."""
    with repository.engine.connect() as conn:
        return ri.is_current(conn)


@dataclass
class _ObservationFrames:
    """The input frames built from the Observations (the bulk of a district read)."""

    growth: pd.DataFrame
    daily_checks: pd.DataFrame
    haemoglobin: pd.DataFrame
    n_observations: int
    tb_tests: pd.DataFrame


def _observation_frames(
    obs: pd.DataFrame, children: pd.DataFrame, n: int, sessions: pd.DataFrame | None = None
) -> _ObservationFrames:
    return _ObservationFrames(
        bf.growth(bf.sessions(obs) if sessions is None else sessions, children),
        bf.daily_checks(obs, children),
        bf.haemoglobin(obs),
        n,
        bf.tb_tests(obs),
    )


def read(repository: Repository, source: Source) -> DistrictRead:
    """The district read of :func:`healthbridge.pipeline.batch.read_district` (which pauses the
    collector around it)."""
    engine = repository.engine
    with engine.connect() as conn:
        current = ri.is_current(conn)
        if source == "table" and not current:
            raise PipelineConfigError(
                "the rule-input table is not current: run 'healthbridge db reindex --rule-inputs'"
            )
        use_table = source == "table" or (source == "auto" and current)
        patients = _table_patients(conn) if use_table else None
        altitudes = _altitudes(conn)
    if patients is None:
        inputs = _from_documents(repository)
    else:
        with engine.connect() as conn:
            inputs = _from_table(conn, patients)
    children = bf.children_frame(inputs.patients, altitudes)
    observed = _observation_frames(inputs.observations, children, inputs.n_observations)
    with engine.connect() as conn:
        return _read_rest(
            conn, inputs, children, observed, "documents" if patients is None else "table"
        )


def read_scoped(conn: Connection, scope: Scope) -> tuple[DistrictRead, pd.DataFrame]:
    """The district read of ``scope``'s children only, from the rule-input table (the caller
    checks it is current), on ``conn`` (an outbox worker's transaction), and the children's
    growth sessions (:func:`.batch_frames.sessions`, for their derived scores)."""
    patients = _table_patients(conn, scope)
    inputs = _from_table(conn, patients, scope)
    children = bf.children_frame(patients, _altitudes(conn))
    sessions = bf.sessions(inputs.observations)
    observed = _observation_frames(inputs.observations, children, inputs.n_observations, sessions)
    return _read_rest(conn, inputs, children, observed, "table", scope), sessions


def _read_rest(
    conn: Connection,
    inputs: _Inputs,
    children: pd.DataFrame,
    frames: _ObservationFrames,
    source: str,
    scope: Scope | None = None,
) -> DistrictRead:
    """The read district: the Observation frames and everything else."""
    flags_raw = dbf.fields(conn, "Flag", _FLAG_FIELDS, res_ids=_ids(scope, "Flag"))
    tasks_raw = dbf.fields(conn, "Task", _TASK_FIELDS, res_ids=_ids(scope, "Task"))
    role_ids = None if scope is None else list(scope.roles)
    roles = dbf.documents(conn, "PractitionerRole", res_ids=role_ids)
    cases, case_ids = _managed_cases(conn, set(inputs.patients), scope)
    if source == "table":
        screening_results = screening.table_frame(
            conn, set(inputs.patients), _ids(scope, "Observation")
        )
    else:
        screening_results = screening.district_frame(conn, set(inputs.patients))
    patients = inputs.patients
    checkups, encounters = bf.checkups(inputs.encounters)
    imm = inputs.immunizations
    doses = bf.doses(imm)
    screenings: list[tuple[Any, ...]] = []
    qr_ids: list[tuple[str, str]] = []
    by_child: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for cid, doc in inputs.responses:
        by_child[cid].append(doc)
    for cid, docs in by_child.items():
        qr_ids += [(cid, str(d["id"])) for d in docs]
        screenings += [
            (cid, s.screening_id, s.on, s.positive_items, s.regression) for s in x.screenings(docs)
        ]
    enrolments = [
        (i.child_id, e.centre_id, e.entry_date, e.check_state.value)
        for i in patients.values()
        for e in i.enrolments
    ]
    flags: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in flags_raw.itertuples(index=False):
        if row.status == "active" and isinstance(row.subject, str) and row.subject:
            flags[row.subject].append(_partial(row, "Flag", _FLAG_STEPS))
    tasks: dict[str, dict[str, Any]] = {}
    active = {str(f["id"]) for fs in flags.values() for f in fs}
    focus_ids = dbf.ref_ids(tasks_raw["focus"].tolist(), "Flag")
    for fid, row in zip(focus_ids, tasks_raw.itertuples(index=False), strict=True):
        if fid and fid in active:
            tasks[fid] = _partial(row, "Task", _TASK_STEPS)
    managers: dict[str, str] = {}
    for role in roles:
        org = x.ref_id(role.get("organization"), "Organization")
        if org and is_health_manager(role) and org not in managers:
            managers[org] = f"PractitionerRole/{role['id']}"
    given = imm.loc[imm["child_id"].notna()]
    evidence = pd.concat(
        [
            pd.DataFrame(
                {"child_id": encounters["child_id"], "res_id": encounters["res_id"],
                 "res_type": "Encounter"}
            ),
            pd.DataFrame(
                {"child_id": given["child_id"], "res_id": given["res_id"],
                 "res_type": "Immunization"}
            ),
            pd.DataFrame(qr_ids, columns=["child_id", "res_id"]).assign(
                res_type="QuestionnaireResponse"
            ),
            pd.DataFrame(case_ids, columns=["child_id", "res_id"]).assign(
                res_type="EpisodeOfCare"
            ),
        ],
        ignore_index=True,
    )  # fmt: skip
    data = DistrictData(
        children=children,
        growth=frames.growth,
        checkups=checkups,
        doses=doses,
        daily_checks=frames.daily_checks,
        haemoglobin=frames.haemoglobin,
        screenings=bf.frame(
            screenings,
            ("child_id", "screening_id", "date", "positive_items", "regression"),
            ("date",),
        ),
        enrolments=bf.frame(
            enrolments, ("child_id", "centre_id", "entry_date", "check_state"), ("entry_date",)
        ),
        tb_tests=frames.tb_tests,
        cases=cases,
        screening_results=screening_results,
    )
    return DistrictRead(
        data,
        patients,
        flags,
        tasks,
        managers,
        encounters,
        evidence,
        frames.n_observations,
        source,
    )


def _managed_cases(
    conn: Connection, known: set[str], scope: Scope | None = None
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The ``cases`` frame (:func:`healthbridge.inputs.extract.managed_cases` per child, the
    function the per-write path uses) and ``(child id, episode id)`` of every EpisodeOfCare.
    The Encounters are read only when there are episodes (few districts manage many cases)."""
    episodes = dbf.documents(conn, "EpisodeOfCare", res_ids=_ids(scope, "EpisodeOfCare"))
    by_child: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for ep in episodes:
        cid = x.subject_id(ep)
        if cid is not None and cid in known:
            by_child[cid].append(ep)
    if not by_child:
        return cases_frame(()), []
    raw = dbf.fields(
        conn,
        "Encounter",
        {
            "episode": "$.episodeOfCare",
            "start": "$.period.start",
            "status": "$.status",
            "subject": "$.subject",
        },
        res_ids=_ids(scope, "Encounter"),
    )
    visits: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for e, start, status, subject in zip(
        raw["episode"], raw["start"], raw["status"], raw["subject"], strict=True
    ):
        if e is None or not isinstance(start, str):
            continue
        subject = subject if isinstance(subject, dict | None) else orjson.loads(subject)
        enc = {
            "episodeOfCare": e if isinstance(e, list) else orjson.loads(e),
            "period": {"start": start},
            "status": status,
            "subject": subject,
        }
        cid = x.subject_id(enc)
        if cid is not None and cid in by_child:
            visits[cid].append(enc)
    rows = [
        (cid, case)
        for cid, eps in sorted(by_child.items())
        for case in x.managed_cases(eps, visits.get(cid, []))
    ]
    ids = [(cid, str(ep["id"])) for cid, eps in by_child.items() for ep in eps]
    return cases_frame(rows), ids
