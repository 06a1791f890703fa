"""Batch re-evaluation of a whole database (``healthbridge evaluate``).

After a rule-table change (or nightly, for date-dependent statuses) every child and centre is
evaluated again. The rule inputs are read from the typed rule-input table the store keeps
with every write (:mod:`healthbridge.store.rule_inputs`: plain column scans), or, when that
table is not current, field-wise from the stored documents
(:mod:`healthbridge.pipeline.dbframes`: only the fields the rules use, straight into
DataFrames), and turned into the input frames of :mod:`healthbridge.clinical.frames` with vectorised
versions of the per-resource rules of :mod:`healthbridge.pipeline.extract` (the tests check
both give the same frames); every growth session is scored with one ``growth_standards.score``
call, the pure batch evaluator (:func:`~healthbridge.clinical.evaluate.evaluate_district`)
gives the findings, and they are reconciled with the open alerts: only the differences (new,
changed, cleared) are written, through the repository, a few hundred subjects per
transaction — an unchanged district writes nothing. Derived growth Observations are
not rewritten here: they depend on the WHO standards and the measurements, not on the rule
tables, and the interceptor keeps them current.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from typing import Any, Final, Literal, cast

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection

from healthbridge import terminology as t
from healthbridge.clinical.alerts import AlertAction, OpenAlert, reconcile
from healthbridge.clinical.evaluate import CENTRE_KINDS, CHILD_KINDS, evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import GROWTH_FIELDS, DistrictData, cases_frame
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.vocab import SubjectType
from healthbridge.fhir import facts
from healthbridge.pipeline import dbframes as dbf
from healthbridge.pipeline import extract as x
from healthbridge.pipeline import screening
from healthbridge.pipeline.alerts import Routing, apply_actions, current_rules, open_alerts
from healthbridge.pipeline.engine import child_routing, is_health_manager, now_instant
from healthbridge.pipeline.errors import PipelineConfigError
from healthbridge.pipeline.scoring import score_columns
from healthbridge.store import rule_inputs as ri
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.repository import Repository, collector_paused

#: Where :func:`read_district` reads the rule inputs from.
Source = Literal["auto", "table", "documents"]

#: Observation fields the rules read (JSON paths; see :mod:`healthbridge.pipeline.extract`).
_OBSERVATION = {
    "status": "$.status",
    "coding": "$.code.coding",
    "subject": "$.subject.reference",
    "effective": "$.effectiveDateTime",
    "period_start": "$.effectivePeriod.start",
    "value": "$.valueQuantity.value",
    "unit": "$.valueQuantity.code",
    "concept": "$.valueCodeableConcept.coding",
    "interpretation": "$.interpretation",
    "encounter": "$.encounter.reference",
    "written": "$.meta.lastUpdated",
}
_ENCOUNTER = {
    "status": "$.status",
    "type": "$.type",
    "subject": "$.subject.reference",
    "start": "$.period.start",
    "provider": "$.serviceProvider.reference",
    "participant": "$.participant",
}
_IMMUNIZATION = {
    "status": "$.status",
    "coding": "$.vaccineCode.coding",
    "patient": "$.patient.reference",
    "occurrence": "$.occurrenceDateTime",
}
#: Integer slot of each growth quantity in a session.
_SLOTS = {"weight": 0, "lenhei": 1, "headc": 2}
_QUANTITY = {
    t.LOINC_BODY_WEIGHT: "weight",
    t.LOINC_BODY_LENGTH: "lenhei",
    t.LOINC_BODY_HEIGHT: "lenhei",
    t.LOINC_HEAD_CIRCUMFERENCE: "headc",
}


@dataclass
class BatchReport:
    """What ``healthbridge evaluate`` did."""

    children: int = 0
    observations: int = 0
    findings: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    open_alerts: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    source: str = ""  # where the inputs were read from (see read_district)


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


def _frame(
    rows: list[tuple[Any, ...]], columns: tuple[str, ...], dates: tuple[str, ...]
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for c in dates:
        frame[c] = pd.to_datetime(frame[c])
    return frame


def _series(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype=object)


def _subjects(frame: pd.DataFrame, column: str, known: set[str]) -> pd.Series:
    ids = pd.Series(dbf.ref_ids(frame[column].tolist(), "Patient"), index=frame.index, dtype=object)
    return ids.where(ids.isin(known))


def _children(conn: Connection) -> dict[str, x.ChildInfo]:
    patients = {}
    for doc in dbf.parse(dbf.fields(conn, "Patient", {"doc": "$"})["doc"].tolist()):
        try:
            patients[str(doc["id"])] = x.child_info(doc)
        except x.NotAChildError:
            continue
    return patients


def _altitudes(conn: Connection) -> x.Altitudes:
    """Location altitudes (``position.altitude``) for the anaemia thresholds."""
    raw = dbf.fields(conn, "Location", {"doc": "$"})
    return x.altitudes(dbf.parse(raw["doc"].tolist()))


def _children_frame(
    patients: dict[str, x.ChildInfo], altitudes: x.Altitudes | None = None
) -> pd.DataFrame:
    at = altitudes or x.Altitudes({}, {})
    rows = [
        (
            i.child_id,
            i.birth_date,
            i.sex.value,
            i.centre_id,
            i.class_id,
            i.gestational_weeks,
            at.of(i),
            i.maternal_hbsag,
            i.birth_weight_g,
        )
        for i in patients.values()
    ]
    return _frame(
        rows,
        (
            "child_id",
            "birth_date",
            "sex",
            "centre_id",
            "class_id",
            "gestational_weeks",
            "altitude_m",
            "maternal_hbsag",
            "birth_weight_g",
        ),
        ("birth_date",),
    )


def _compact_observations(raw: pd.DataFrame) -> pd.DataFrame:
    """The rule code (:func:`healthbridge.fhir.facts.rule_code`) and the symptom codes in
    place of the coding arrays (in the reading worker: the arrays are the bulk of what would
    travel back); a tuberculin skin test's result as its value (1.0 negative, 0.0 positive,
    as the rule-input table holds it)."""
    codings = raw["coding"].tolist()
    tst = [facts.is_tb_skin_test(c) for c in codings]
    code = [
        facts.TB_SKIN_TEST if is_tst else c
        for is_tst, c in zip(tst, dbf.coded(codings, t.LOINC), strict=True)
    ]
    symptoms = [
        dbf.all_codes(concept, t.CS_SYMPTOM) if c == x.LOINC_SYMPTOM else ()
        for c, concept in zip(code, raw["concept"].tolist(), strict=True)
    ]
    out = raw.drop(columns=["coding", "concept", "interpretation"])
    if any(tst):
        results = [
            facts.tb_test_negative(concept, interp) if is_tst else None
            for is_tst, concept, interp in zip(
                tst, raw["concept"].tolist(), raw["interpretation"].tolist(), strict=True
            )
        ]
        value = out["value"].astype(object).copy()
        for i, (is_tst, negative) in enumerate(zip(tst, results, strict=True)):
            if is_tst:
                value.iat[i] = None if negative is None else float(negative)
        out["value"] = value
    out["code"] = pd.Series(code, dtype=object, index=raw.index)
    out["symptoms"] = pd.Series(symptoms, dtype=object, index=raw.index)
    return out


#: Columns of the Observation frame both readers build (one row per rule-input Observation).
_OBS_COLUMNS = (
    "res_id",
    "child_id",
    "code",
    "on",
    "number",
    "unit",
    "encounter_id",
    "written",
    "symptoms",
)


def _observations(raw: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """Current, non-void Observations of known children with their LOINC code and date
    (from the documents)."""
    obs = raw.assign(
        child_id=_subjects(raw, "subject", known),
        on=dbf.days(
            [
                e if isinstance(e, str) and e else p
                for e, p in zip(raw["effective"], raw["period_start"], strict=True)
            ]
        ).to_numpy(),
        number=dbf.numbers(raw["value"].tolist()).to_numpy(),
    )
    keep = obs["child_id"].notna() & ~obs["status"].isin(x.VOID_STATUSES) & obs["on"].notna()
    obs = obs.loc[keep & obs["code"].isin(x.TRIGGER_OBSERVATION_CODES)]
    return obs.assign(
        unit=_series([u if isinstance(u, str) else None for u in obs["unit"]]).to_numpy(),
        encounter_id=_series(dbf.ref_ids(obs["encounter"].tolist(), "Encounter")).to_numpy(),
        written=_series(["" if w is None else str(w) for w in obs["written"]]).to_numpy(),
    )[list(_OBS_COLUMNS)].reset_index(drop=True)


def _sort_key(column: pd.Series) -> np.ndarray[Any, Any] | None:
    """Integer codes ordered as the column's values (None: it has missing values)."""
    if column.isna().any():
        return None
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or pd.api.types.is_bool_dtype(
        column.dtype
    ):
        return column.to_numpy().astype("int64")
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_float_dtype(column.dtype):
        return column.to_numpy()
    codes, _uniques = pd.factorize(column, sort=True)
    return codes


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame.sort_values(columns)``, the same rows in the same order, cheaper: the leading
    columns are sorted as integer codes (child ids have few distinct values) and the last
    one (the record ids, nearly all distinct: sorting them as text was most of the cost)
    only compared among the rows equal in all the others. Falls back to ``sort_values`` when
    a key column has missing values."""
    keys = [_sort_key(frame[c]) for c in columns[:-1]]
    last = frame[columns[-1]]
    if any(k is None for k in keys) or last.isna().any() or len(frame) < 2:
        return frame.sort_values(columns)
    ints = cast(list[np.ndarray[Any, Any]], keys)
    order = np.lexsort(ints[::-1]) if ints else np.arange(len(frame))
    same = np.ones(len(frame) - 1, dtype=bool)
    for k in ints:
        ranked = k[order]
        same &= ranked[1:] == ranked[:-1]
    if same.any():  # runs of rows equal in the leading columns: order them by the last
        tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
        run = np.cumsum(np.r_[True, ~same])[tied]
        text = last.to_numpy(dtype=object)[order[tied]]
        within = sorted(range(len(tied)), key=lambda i: (run[i], text[i]))
        order[tied] = order[tied][within]
    return frame.iloc[order]


def _session_keys(g: pd.DataFrame) -> pd.Series:
    """``enc:<encounter id>``, or ``day:<date>`` without an encounter (the session key of
    :func:`~.extract.growth_sessions`); dates formatted once per distinct day."""
    enc = g["encounter_id"]
    has = enc.notna()
    key = pd.Series(None, index=g.index, dtype=object)
    key[has] = "enc:" + enc[has].astype(str)
    days = g.loc[~has, "on"]
    if len(days):
        uniq = pd.Series(days.unique())
        names = dict(zip(uniq, "day:" + uniq.dt.strftime("%Y-%m-%d"), strict=True))
        key[~has] = days.map(names)
    return key


_SESSION_COLUMNS = (
    "child_id",
    "key",
    "weight",
    "weight_id",
    "lenhei",
    "lenhei_id",
    "headc",
    "headc_id",
    "measure",
    "observation_id",
    "session_on",
)


def _sessions(obs: pd.DataFrame) -> pd.DataFrame:
    """Growth sessions (:func:`healthbridge.pipeline.extract.growth_sessions`, vectorised):
    one row per child and encounter (or day) with the latest-written value of each quantity
    (by ``meta.lastUpdated``, then id), in (child, date, key) order. Sessions and quantities
    are integer-coded once; only repeated measurements of a quantity are sorted."""
    g = obs.loc[obs["code"].isin(x.GROWTH_CODES) & obs["number"].notna()]
    # in kg/cm; a measurement in an unknown unit is left out, as extract.growth_sessions does
    converted = facts.growth_values(
        g["code"].map(facts.GROWTH_QUANTITY).tolist(),
        g["number"].to_numpy("float64"),
        g["unit"].tolist(),
    )
    g = g.loc[~np.isnan(converted)]
    value = converted[~np.isnan(converted)]
    if g.empty:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in _SESSION_COLUMNS})
        return empty.assign(session_on=pd.Series(dtype="datetime64[ns]"))
    code = g["code"].to_numpy(dtype=object)
    quantity = g["code"].map({c: _SLOTS[q] for c, q in _QUANTITY.items()}).to_numpy("int64")
    child = g["child_id"].to_numpy(dtype=object)
    key = _session_keys(g).to_numpy(dtype=object)
    # child ids are FHIR ids (no control characters): the joined text names one session
    sid, _names = pd.factorize(cast(Any, child) + "\x1f" + key)
    n = int(sid.max()) + 1
    session_on = g["on"].groupby(sid).min()
    slot = sid * 3 + quantity
    repeated = pd.Series(slot).duplicated(keep=False).to_numpy()
    chosen = np.flatnonzero(~repeated)
    if repeated.any():
        again = pd.DataFrame(
            {
                "slot": slot[repeated],
                "written": g["written"].to_numpy(dtype=object)[repeated],
                "res_id": g["res_id"].to_numpy(dtype=object)[repeated],
                "at": np.flatnonzero(repeated),
            }
        )
        latest = again.sort_values(["written", "res_id"], kind="stable").drop_duplicates(
            "slot", keep="last"
        )
        chosen = np.concatenate([chosen, latest["at"].to_numpy("int64")])
    res_id = g["res_id"].to_numpy(dtype=object)
    out: dict[str, Any] = {}
    for name, q in _SLOTS.items():
        rows = chosen[quantity[chosen] == q]
        values = np.full(n, np.nan)
        values[sid[rows]] = value[rows]
        ids = np.full(n, None, dtype=object)
        ids[sid[rows]] = res_id[rows]
        out[name], out[f"{name}_id"] = values, ids
        if name == "lenhei":
            measure = np.full(n, None, dtype=object)
            measure[sid[rows]] = np.where(code[rows] == t.LOINC_BODY_LENGTH, "l", "h")
            out["measure"] = measure
    first = np.empty(n, dtype="int64")
    first[sid[::-1]] = np.arange(len(sid) - 1, -1, -1)
    out["child_id"], out["key"] = child[first], key[first]
    observation = out["weight_id"].copy()
    for other in ("lenhei_id", "headc_id"):
        missing = pd.isna(observation)
        observation[missing] = out[other][missing]
    out["observation_id"] = observation
    out["session_on"] = session_on.to_numpy()
    frame = pd.DataFrame({c: out[c] for c in _SESSION_COLUMNS})
    return _sorted(frame, ["child_id", "session_on", "key"]).reset_index(drop=True)


def _growth(sessions: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Score the sessions (corrected age for preterm children) into the growth frame."""
    columns = ("child_id", "observation_id", "date", "age_days", *GROWTH_FIELDS)
    if sessions.empty:
        return _frame([], columns, ("date",))
    info = children.set_index("child_id")
    birth = sessions["child_id"].map(info["birth_date"])
    age = (sessions["session_on"] - birth).dt.days
    scores = score_columns(
        {
            "sex": sessions["child_id"].map(info["sex"]).map({"male": 1, "female": 2}).tolist(),
            "age_days": age.tolist(),
            "weight_kg": sessions["weight"].tolist(),
            "lenhei_cm": sessions["lenhei"].tolist(),
            "measure": sessions["measure"].where(sessions["lenhei_id"].notna(), "").tolist(),
            "headc_cm": sessions["headc"].tolist(),
            "gestational_age_weeks": sessions["child_id"].map(info["gestational_weeks"]).tolist(),
        }
    )
    growth = pd.DataFrame(
        {
            "child_id": sessions["child_id"].to_numpy(),
            "observation_id": sessions["observation_id"].to_numpy(),
            "date": sessions["session_on"].to_numpy(),
            "age_days": age.to_numpy(),
        }
    )
    for c in ("zwei", "zlen", "zwfl", "zbmi", "zhc"):
        growth[c] = pd.to_numeric(scores[c], errors="coerce").astype(float).to_numpy()
    for c in ("fwei", "flen", "fwfl", "fbmi", "fhc"):
        flag = pd.to_numeric(scores[c], errors="coerce").astype(float)
        growth[c] = (flag.notna() & (flag != 0)).to_numpy()
    growth["weight"] = sessions["weight"].astype(float).to_numpy()
    growth["corrected"] = scores["corrected"].to_numpy(dtype=bool)
    return growth


def _daily_checks(obs: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Morning checks per enrolled child and day (:func:`~.extract.daily_checks`)."""
    columns = ("check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms")
    enrolled = children.loc[children["centre_id"].notna()].set_index("child_id")
    d = obs.loc[obs["code"].isin(x.DAILY_CHECK_CODES) & obs["child_id"].isin(enrolled.index)]
    if d.empty:
        return _frame([], columns, ("date",))
    is_temp = d["code"] == t.LOINC_BODY_TEMPERATURE
    temp = d["number"].where(is_temp)
    symptoms = d["symptoms"].tolist()
    d = d.assign(temp=temp.to_numpy())
    # per day: the smallest id names the check, the highest temperature counts, symptoms pool
    out = (
        _sorted(d, ["child_id", "on", "res_id"])
        .drop_duplicates(["child_id", "on"])[["child_id", "on", "res_id"]]
        .rename(columns={"res_id": "check_id"})
    )
    highest = d.groupby(["child_id", "on"])["temp"].max()
    out["temperature_c"] = highest.reindex(
        pd.MultiIndex.from_frame(out[["child_id", "on"]])
    ).to_numpy()
    # (only the few observations with symptoms are visited; days as integers, not Timestamps)
    pooled: dict[tuple[str, int], set[str]] = {}
    days = d["on"].to_numpy().astype("int64")
    for i in (i for i, codes in enumerate(symptoms) if codes):
        pooled.setdefault((str(d["child_id"].iat[i]), int(days[i])), set()).update(symptoms[i])
    listed: list[tuple[str, ...]] = [()] * len(out)
    if pooled:
        keys = zip(
            out["child_id"].tolist(), out["on"].to_numpy().astype("int64").tolist(), strict=True
        )
        for i, key in enumerate(keys):
            codes = pooled.get(key)
            if codes:
                listed[i] = tuple(sorted(codes))
    out["symptoms"] = _series(listed).to_numpy()
    out["centre_id"] = out["child_id"].map(enrolled["centre_id"])
    out["class_id"] = out["child_id"].map(enrolled["class_id"]).fillna("")
    out = out.rename(columns={"on": "date"})
    return out[list(columns)].reset_index(drop=True)


def _haemoglobin(obs: pd.DataFrame) -> pd.DataFrame:
    hb = obs.loc[(obs["code"] == t.LOINC_HAEMOGLOBIN) & obs["number"].notna()]
    value = hb["number"].where(hb["unit"] != "g/dL", hb["number"] * 10.0)
    out = pd.DataFrame(
        {
            "child_id": hb["child_id"],
            "observation_id": hb["res_id"],
            "date": hb["on"],
            "hb_g_l": value,
        }
    )
    return _sorted(out, ["child_id", "date", "observation_id"]).reset_index(drop=True)


def _tb_tests(obs: pd.DataFrame) -> pd.DataFrame:
    """Tuberculin skin tests with a readable result (:func:`~.extract.tb_tests`): the rule
    code :data:`healthbridge.fhir.facts.TB_SKIN_TEST`, ``number`` 1.0 negative / 0.0 positive."""
    tst = obs.loc[(obs["code"] == facts.TB_SKIN_TEST) & obs["number"].notna()]
    out = pd.DataFrame(
        {
            "child_id": tst["child_id"],
            "observation_id": tst["res_id"],
            "date": tst["on"],
            "negative": tst["number"] == 1.0,
        }
    )
    return _sorted(out, ["child_id", "date", "observation_id"]).reset_index(drop=True)


def _checkups(enc: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Checkup Encounters (:func:`~.extract.checkups`) and every encounter of a known child
    with its routing fields (for the paediatrician routing). ``enc``: res_id, child_id (known
    children only), status, visit, date, doc."""
    enc = enc.loc[enc["child_id"].notna()]
    ok = ~enc["status"].isin(["cancelled", "entered-in-error"]) & enc["visit"].notna()
    ok &= enc["date"].notna() & (enc["visit"] != "daily-check")
    checkups = enc.loc[ok, ["child_id", "res_id", "date", "visit"]].rename(
        columns={"res_id": "checkup_id", "visit": "visit_type"}
    )
    checkups = _sorted(checkups, ["child_id", "date", "checkup_id"]).reset_index(drop=True)
    return checkups, enc[["res_id", "child_id", "doc"]].reset_index(drop=True)


def _encounters(raw: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """The Encounter fields the rules read, from the documents (see :func:`_checkups`)."""
    docs: list[dict[str, Any] | None] = []
    for start, provider, participant in zip(
        raw["start"], raw["provider"], raw["participant"], strict=True
    ):
        doc: dict[str, Any] = {}
        if start is not None:
            doc["period"] = {"start": start}
        if provider is not None:
            doc["serviceProvider"] = {"reference": provider}
        if participant is not None:
            doc["participant"] = participant
        docs.append(doc or None)
    return pd.DataFrame(
        {
            "res_id": raw["res_id"],
            "child_id": _subjects(raw, "subject", known),
            "status": raw["status"],
            "visit": _series(
                dbf.coded(
                    [dbf.concept_codings(v) for v in raw["type"].tolist()],
                    t.CS_CHECKUP_VISIT,
                    last=True,
                )
            ),
            "date": dbf.days(raw["start"].tolist()).to_numpy(),
            "doc": _series(docs),
        }
    )


def _immunizations(raw: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """The Immunization fields the rules read, from the documents (see :func:`_doses`)."""
    return pd.DataFrame(
        {
            "res_id": raw["res_id"],
            "child_id": _subjects(raw, "patient", known),
            "status": raw["status"],
            "vaccine": _series(dbf.coded(raw["coding"].tolist(), t.CS_NIP_VACCINE, last=True)),
            "date": dbf.days(raw["occurrence"].tolist()).to_numpy(),
        }
    )


def _doses(imm: pd.DataFrame) -> pd.DataFrame:
    """Completed NIP doses (:func:`~.extract.doses`); ``imm``: res_id, child_id (known
    children only), status, vaccine, date."""
    ok = imm["child_id"].notna() & (imm["status"] == "completed")
    ok &= imm["vaccine"].fillna("").astype(bool) & imm["date"].notna()
    out = imm.loc[ok, ["child_id", "res_id", "vaccine", "date"]].rename(
        columns={"res_id": "immunization_id"}
    )
    return _sorted(out, ["child_id", "date", "vaccine", "immunization_id"]).reset_index(drop=True)


@dataclass
class _Inputs:
    """What the two readers (documents, rule-input table) produce; the rest is shared."""

    patients: dict[str, x.ChildInfo]
    observations: pd.DataFrame | None  # _OBS_COLUMNS (None: read apart, _table_observations)
    encounters: pd.DataFrame  # see _checkups
    immunizations: pd.DataFrame  # see _doses
    responses: list[tuple[str, dict[str, Any]]]  # (child id, QuestionnaireResponse)
    n_observations: int


def _from_documents(repository: Repository, workers: int) -> _Inputs:
    """Rule inputs extracted from the stored JSON documents (:mod:`.dbframes`)."""
    engine = repository.engine
    raw_obs = dbf.fields_parallel(
        engine, "Observation", _OBSERVATION, workers=workers,
        exclude_containing=t.CS_GROWTH_INDICATOR, prepare=_compact_observations,
    )  # fmt: skip
    with engine.connect() as conn:
        patients = _children(conn)
        raw_enc = dbf.fields(conn, "Encounter", _ENCOUNTER)
        raw_imm = dbf.fields(conn, "Immunization", _IMMUNIZATION)
        raw_qr = dbf.fields(conn, "QuestionnaireResponse", {"doc": "$"})
    known = set(patients)
    responses = []
    for doc in dbf.parse(raw_qr["doc"].tolist()):
        cid = x.subject_id(doc)
        if cid in known:
            responses.append((str(cid), doc))
    n_obs = sum(r is not None for r in dbf.ref_ids(raw_obs["subject"].tolist(), "Patient"))
    return _Inputs(
        patients,
        _observations(raw_obs, known),
        _encounters(raw_enc, known),
        _immunizations(raw_imm, known),
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
    return pd.to_datetime(_series(values), format="%Y-%m-%d", errors="coerce")


def _of_known(ids: list[Any], known: set[str]) -> pd.Series:
    return pd.Series([i if i in known else None for i in ids], dtype=object)


_NOT_VOID = " AND (status IS NULL OR status NOT IN ({}))".format(
    ", ".join(f"'{s}'" for s in sorted(x.VOID_STATUSES))
)


def _codes_in(codes: frozenset[str]) -> str:
    return " AND code IN ({})".format(", ".join(f"'{c}'" for c in sorted(codes)))


#: The Observation codes read in a second process (growth) and in this one (the rest).
_GROWTH_TRIGGERS: Final = x.GROWTH_CODES & x.TRIGGER_OBSERVATION_CODES
_OTHER_TRIGGERS: Final = x.TRIGGER_OBSERVATION_CODES - x.GROWTH_CODES


def _table_patients(conn: Connection) -> dict[str, x.ChildInfo]:
    """The children (:func:`~.extract.child_info` on the Patients' stored elements)."""
    patients: dict[str, x.ChildInfo] = {}
    for _rid, extra in ri.scan(conn, "Patient", "res_id, extra"):
        try:
            info = x.child_info(orjson.loads(extra))
        except x.NotAChildError:
            continue
        patients[info.child_id] = info
    return patients


def _table_observations(
    conn: Connection, known: set[str], codes: frozenset[str] = x.TRIGGER_OBSERVATION_CODES
) -> pd.DataFrame:
    """The rule-input Observations of known children (:data:`_OBS_COLUMNS`) with one of
    ``codes`` (the frame functions each read only their own codes)."""
    rid, child, code, day, value, unit, enc, written, extra = _columns(
        ri.scan(
            conn,
            "Observation",
            "res_id, child_id, code, day, value, unit, encounter_id, written, extra",
            " AND child_id IS NOT NULL AND day IS NOT NULL" + _NOT_VOID + _codes_in(codes),
        ),
        9,
    )
    symptoms: list[tuple[str, ...]] = [()] * len(extra)
    for i, e in enumerate(extra):
        if e is not None:
            symptoms[i] = tuple(orjson.loads(e))
    obs = pd.DataFrame(
        {
            "res_id": _series(rid),
            "child_id": _of_known(child, known),
            "code": _series(code),
            "on": _days(day).to_numpy(),
            "number": np.array(value, dtype="float64"),
            "unit": _series(unit),
            "encounter_id": _series(enc),
            "written": _series(written),
            "symptoms": _series(symptoms),
        }
    )
    return obs.loc[obs["child_id"].notna() & obs["on"].notna()].reset_index(drop=True)


def _observation_count(conn: Connection) -> int:
    """The number of Observations naming a child (rule inputs, measurements or not)."""
    (n,) = ri.scan(conn, "Observation", "count(*)", " AND child_id IS NOT NULL")[0]
    return int(n)


def _coded_frame(
    conn: Connection, rtype: str, code_name: str, known: set[str], *, with_doc: bool
) -> pd.DataFrame:
    """One coded resource type's rule-input rows (Encounters: the checkup visit; Immunizations:
    the vaccine) with a child: ``res_id, child_id, status, <code_name>, date`` (+ ``doc``,
    the stored extra, with ``with_doc``)."""
    names = "res_id, child_id, status, code, day" + (", extra" if with_doc else "")
    cols = _columns(ri.scan(conn, rtype, names, " AND child_id IS NOT NULL"), 6 if with_doc else 5)
    frame: dict[str, Any] = {
        "res_id": _series(cols[0]),
        "child_id": _of_known(cols[1], known),
        "status": _series(cols[2]),
        code_name: _series(cols[3]),
        "date": _days(cols[4]).to_numpy(),
    }
    if with_doc:
        frame["doc"] = _series(cols[5])
    return pd.DataFrame(frame)


def _from_table(conn: Connection, patients: dict[str, x.ChildInfo]) -> _Inputs:
    """Rule inputs from the typed table kept at write time (:mod:`~healthbridge.store.rule_inputs`):
    column scans, no JSON parsed but the Patients' few elements (:func:`_table_patients`) and
    the QuestionnaireResponse answers; the Observations are read by
    :func:`_table_observations` (possibly in another process)."""
    known = set(patients)
    encounters = _coded_frame(conn, "Encounter", "visit", known, with_doc=True)
    immunizations = _coded_frame(conn, "Immunization", "vaccine", known, with_doc=False)
    responses = []
    for qid, cid, e in ri.scan(
        conn, "QuestionnaireResponse", "res_id, child_id, extra", " AND child_id IS NOT NULL"
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
    return _Inputs(patients, None, encounters, immunizations, responses, 0)


#: The elements of the open Flags and their review Tasks that reconciling reads
#: (:func:`~healthbridge.pipeline.alerts.open_alerts`: status, kind, severity, the Task's
#: inputs). A district holds an alert per child or more, and parsing whole documents was a
#: fifth of the read; the actions' few Flags and Tasks are read whole before they are written
#: (:func:`_alert_documents`), never rebuilt from these parts.
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


def _alert_documents(
    repository: Repository, d: DistrictRead, planned: list[tuple[Any, tuple[AlertAction, ...]]]
) -> dict[str, dict[str, Any]]:
    """The whole current Flags and Tasks the planned actions change (``Type/id`` → resource):
    the district read keeps only their reconciled parts."""
    flag_ids = sorted({a.alert_id for _key, actions in planned for a in actions if a.alert_id})
    task_ids = sorted(str(d.tasks[f]["id"]) for f in flag_ids if f in d.tasks)
    out: dict[str, dict[str, Any]] = {}
    with repository.engine.connect() as conn:
        for rtype, ids in (("Flag", flag_ids), ("Task", task_ids)):
            if ids:
                got = dbf.fields(conn, rtype, {"doc": "$"}, res_ids=ids)
                for doc in dbf.parse(got["doc"].tolist()):
                    out[f"{rtype}/{doc['id']}"] = doc
    return out


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


def _observation_frames(obs: pd.DataFrame, children: pd.DataFrame, n: int) -> _ObservationFrames:
    return _ObservationFrames(
        _growth(_sessions(obs), children),
        _daily_checks(obs, children),
        _haemoglobin(obs),
        n,
        _tb_tests(obs),
    )


#: Joins the texts of a packed column (FHIR ids, codes and our JSON never hold it).
_NUL: Final = "\x00"


@dataclass
class _PackedFrame:
    """A DataFrame as it travels between processes: each text column (object or ``str``
    dtype: strings and missing values only) as one joined string plus a missing-value mask.
    Pickling millions of small ``str`` objects one by one cost more than building the frames
    (12 s for one half of a 100,000-child district); one long string costs a copy."""

    length: int
    columns: list[tuple[str, Any, Any]]  # name, dtype, ("text", joined, count, missing) or values


def _pack_column(s: pd.Series) -> Any:
    dtype = s.dtype
    if isinstance(dtype, pd.StringDtype):
        missing = s.isna().to_numpy()
        texts = s[~missing].tolist()
    elif pd.api.types.is_object_dtype(dtype):
        values = s.tolist()
        missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        texts = [v for v in values if v is not None]
        if not all(type(v) is str for v in texts):
            return s.to_numpy()
    else:
        return s.array
    joined = _NUL.join(texts)
    if texts and joined.count(_NUL) != len(texts) - 1:
        return s.to_numpy()  # a text holding the separator: as objects
    return ("text", joined, len(texts), missing)


def _pack(frame: pd.DataFrame) -> _PackedFrame | pd.DataFrame:
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        return frame
    if not frame.columns.is_unique:
        return frame
    return _PackedFrame(
        len(frame), [(str(c), frame[c].dtype, _pack_column(frame[c])) for c in frame.columns]
    )


def _unpack(packed: _PackedFrame | pd.DataFrame) -> pd.DataFrame:
    if isinstance(packed, pd.DataFrame):
        return packed
    columns: dict[str, Any] = {}
    for name, dtype, payload in packed.columns:
        if isinstance(payload, tuple):
            _kind, joined, count, missing = payload
            values = np.full(packed.length, None, dtype=object)
            if count:
                values[~missing] = joined.split(_NUL)
            payload = values
        columns[name] = pd.Series(payload, dtype=dtype, copy=False)
    return pd.DataFrame(columns, index=pd.RangeIndex(packed.length))


def _growth_apart(url: str, known: set[str], children: pd.DataFrame) -> _PackedFrame | pd.DataFrame:
    """The growth frame (the growth Observations read, paired into sessions and scored) in a
    worker process (its own engine), packed (:class:`_PackedFrame`)."""
    from healthbridge.store.db import make_engine

    engine = make_engine(url)
    with collector_paused():
        try:
            with engine.connect() as conn:
                obs = _table_observations(conn, known, _GROWTH_TRIGGERS)
        finally:
            engine.dispose()
        return _pack(_growth(_sessions(obs), children))


def _shareable(repository: Repository) -> bool:
    """Whether another process can open the database (not an in-memory SQLite one)."""
    url = repository.engine.url
    return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")


def read_district(
    repository: Repository, *, workers: int = 1, source: Source = "auto"
) -> DistrictRead:
    """Read the rule inputs of every child, in the shapes of :mod:`healthbridge.clinical.frames`.

    ``source``: ``"table"`` reads the typed rule-input table kept at write time
    (:mod:`healthbridge.store.rule_inputs`: column scans; with ``workers`` > 1 the growth
    Observations are read, paired into sessions and scored in a second process while this one
    reads the rest: the same functions on the same rows, the same frames);
    ``"documents"`` extracts the fields from the stored JSON
    (:mod:`healthbridge.pipeline.dbframes`, ``workers`` processes for the Observations);
    ``"auto"`` (default) the table when it is current, else the documents.
    The same records count as in the per-resource functions of
    :mod:`healthbridge.pipeline.extract` (the tests compare all three)."""
    with collector_paused():
        return _read_district(repository, workers, source)


def _read_district(repository: Repository, workers: int, source: Source) -> DistrictRead:
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
        inputs = _from_documents(repository, workers)
        children = _children_frame(inputs.patients, altitudes)
        assert inputs.observations is not None
        observed = _observation_frames(inputs.observations, children, inputs.n_observations)
        return _read_rest(engine, inputs, children, lambda: observed, "documents")
    children = _children_frame(patients, altitudes)
    known = set(patients)
    if workers <= 1 or not _shareable(repository):
        with engine.connect() as conn:
            obs = _table_observations(conn, known)
            n = _observation_count(conn)
            inputs = _from_table(conn, patients)
        observed = _observation_frames(obs, children, n)
        return _read_rest(engine, inputs, children, lambda: observed, "table")
    url = engine.url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("fork")) as pool:
        growth = pool.submit(_growth_apart, url, known, children)
        with engine.connect() as conn:
            obs = _table_observations(conn, known, _OTHER_TRIGGERS)
            n = _observation_count(conn)
            inputs = _from_table(conn, patients)
        daily, haemoglobin, tb_tests = (
            _daily_checks(obs, children),
            _haemoglobin(obs),
            _tb_tests(obs),
        )
        del obs

        def observed_apart() -> _ObservationFrames:
            return _ObservationFrames(_unpack(growth.result()), daily, haemoglobin, n, tb_tests)

        return _read_rest(engine, inputs, children, observed_apart, "table")


def _read_rest(
    engine: Any,
    inputs: _Inputs,
    children: pd.DataFrame,
    observed: Callable[[], _ObservationFrames],
    source: str,
) -> DistrictRead:
    """Everything but the Observation frames (``observed``: built, or being built in another
    process, collected last)."""
    with engine.connect() as conn:
        flags_raw = dbf.fields(conn, "Flag", _FLAG_FIELDS)
        tasks_raw = dbf.fields(conn, "Task", _TASK_FIELDS)
        roles = dbf.fields(conn, "PractitionerRole", {"doc": "$"})
        cases, case_ids = _managed_cases(conn, set(inputs.patients))
        screening_results = screening.district_frame(conn, set(inputs.patients))
    patients = inputs.patients
    checkups, encounters = _checkups(inputs.encounters)
    imm = inputs.immunizations
    doses = _doses(imm)
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
    for role in dbf.parse(roles["doc"].tolist()):
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
    frames = observed()
    data = DistrictData(
        children=children,
        growth=frames.growth,
        checkups=checkups,
        doses=doses,
        daily_checks=frames.daily_checks,
        haemoglobin=frames.haemoglobin,
        screenings=_frame(
            screenings,
            ("child_id", "screening_id", "date", "positive_items", "regression"),
            ("date",),
        ),
        enrolments=_frame(
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


def _managed_cases(conn: Connection, known: set[str]) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The ``cases`` frame (:func:`healthbridge.pipeline.extract.managed_cases` per child, the
    function the per-write path uses) and ``(child id, episode id)`` of every EpisodeOfCare.
    The Encounters are read only when there are episodes (few districts manage many cases)."""
    episodes = dbf.parse(dbf.fields(conn, "EpisodeOfCare", {"doc": "$"})["doc"].tolist())
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


def evaluate_database(
    repository: Repository,
    ruleset: RuleSet,
    as_of: date,
    *,
    workers: int = 1,
    subjects_per_transaction: int = 200,
    dry_run: bool = False,
    source: Source = "auto",
    read_workers: int | None = None,
) -> BatchReport:
    """Re-run every rule for every child and centre and reconcile the open alerts
    (``source``: where the rule inputs are read from, see :func:`read_district`; ``workers``
    processes for the rules, ``read_workers`` (default: ``workers``) for the read)."""
    report = BatchReport()
    t0 = time.perf_counter()
    read_with = workers if read_workers is None else read_workers
    d = read_district(repository, workers=read_with, source=source)
    with collector_paused():
        report.children, report.observations = len(d.patients), d.n_observations
        report.source = d.source
        t1 = t2 = time.perf_counter()
        findings = frame_to_findings(evaluate_district(d.data, ruleset, as_of, workers=workers))
        report.findings = len(findings)
        t3 = time.perf_counter()
        by_subject: defaultdict[tuple[SubjectType, str], list[Any]] = defaultdict(list)
        for f in findings:
            by_subject[(f.subject_type, f.subject)].append(f)
        subjects = set(by_subject)
        subjects |= {(SubjectType.CHILD, cid) for cid in d.patients}
        for ref in d.flags:
            rtype, _sep, rid = ref.partition("/")
            if rtype == "Organization":
                subjects.add((SubjectType.CENTRE, rid))
        planned: list[tuple[tuple[SubjectType, str], tuple[AlertAction, ...]]] = []
        rules = current_rules(ruleset)
        for key in sorted(subjects):
            stype, sid = key
            ref = f"{'Organization' if stype is SubjectType.CENTRE else 'Patient'}/{sid}"
            current: tuple[OpenAlert, ...] = open_alerts(sid, d.flags.get(ref, []), d.tasks)
            report.open_alerts += len(current)
            kinds = CENTRE_KINDS if stype is SubjectType.CENTRE else CHILD_KINDS
            actions = reconcile(
                sid, current, by_subject.get(key, []), evaluated_kinds=kinds, current_rules=rules
            )
            if actions:
                planned.append((key, actions))
                report.actions.update(a.action.value for a in actions)
    if not dry_run and planned:
        now = now_instant()
        child_encounters = _encounter_docs(
            d, {sid for (st, sid), _a in planned if st is SubjectType.CHILD}
        )
        evidence = d.evidence.groupby("child_id")
        documents = _alert_documents(repository, d, planned)
        for start in range(0, len(planned), subjects_per_transaction):
            with repository.transaction(SYSTEM_CONTEXT) as txn:
                for (stype, sid), actions in planned[start : start + subjects_per_transaction]:
                    routing, id_types = _routing(d, stype, sid, child_encounters, evidence)
                    apply_actions(
                        txn,
                        actions,
                        ruleset=ruleset,
                        routing=routing,
                        as_of=as_of,
                        now=now,
                        id_types=id_types,
                        known=_known(d, stype, sid, actions, documents),
                    )
    t4 = time.perf_counter()
    report.seconds = {
        "read": round(t1 - t0, 2),
        "prepare": round(t2 - t1, 2),
        "evaluate": round(t3 - t2, 2),
        "reconcile_write": round(t4 - t3, 2),
        "total": round(t4 - t0, 2),
    }
    return report


def _encounter_docs(d: DistrictRead, children: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The Encounter fields :func:`child_routing` reads, as resources, per child."""
    out: dict[str, list[dict[str, Any]]] = {}
    enc = d.encounters.loc[d.encounters["child_id"].isin(children)]
    for rid, cid, fields in enc.itertuples(index=False):
        doc: dict[str, Any] = {"id": rid}
        if isinstance(fields, str):
            doc.update(orjson.loads(fields))
        elif isinstance(fields, dict):
            doc.update(fields)
        out.setdefault(str(cid), []).append(doc)
    return out


def _routing(
    d: DistrictRead,
    stype: SubjectType,
    sid: str,
    encounters: dict[str, list[dict[str, Any]]],
    evidence: Any,
) -> tuple[Routing, dict[str, str]]:
    if stype is SubjectType.CENTRE:
        return Routing(d.managers.get(sid, f"Organization/{sid}"), None), {}
    info = d.patients[sid]
    manager = None
    if info.centre_id:
        manager = d.managers.get(info.centre_id, f"Organization/{info.centre_id}")
    id_types: dict[str, str] = {}
    if sid in evidence.groups:
        rows = evidence.get_group(sid)
        id_types = dict(zip(rows["res_id"].astype(str), rows["res_type"], strict=True))
    return child_routing(info, encounters.get(sid, []), manager), id_types


def _known(
    d: DistrictRead,
    stype: SubjectType,
    sid: str,
    actions: tuple[AlertAction, ...],
    documents: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The subject's whole Flags and Tasks (read in bulk by :func:`_alert_documents`) that
    these actions touch."""
    out: dict[str, dict[str, Any]] = {}
    wanted = {a.alert_id for a in actions if a.alert_id}
    ref = f"{'Organization' if stype is SubjectType.CENTRE else 'Patient'}/{sid}"
    for flag in d.flags.get(ref, []):
        whole = documents.get(f"Flag/{flag['id']}")
        if flag["id"] in wanted and whole is not None:
            out[f"Flag/{flag['id']}"] = whole
    for fid in wanted:
        task = d.tasks.get(str(fid))
        whole = documents.get(f"Task/{task['id']}") if task is not None else None
        if whole is not None:
            out[f"Task/{whole['id']}"] = whole
    return out
