"""The input frames of a district read, built from read columns (``healthbridge evaluate``).

Vectorised versions of the per-resource rules of :mod:`healthbridge.inputs.extract`: the
columns read from the documents (:mod:`healthbridge.inputs.dbframes`) or from the rule-input
table (:mod:`healthbridge.store.rule_inputs`) become the frames of
:mod:`healthbridge.clinical.frames` (growth sessions paired and scored with one
``growth_standards.score`` call, morning checks, haemoglobin, tuberculin tests, checkups,
doses). No database access here: :mod:`healthbridge.pipeline.batch_read` reads, these
functions shape (the tests check both readers give the frames the per-resource functions do).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from healthbridge import terminology as t
from healthbridge.clinical.records import GROWTH_FIELDS
from healthbridge.fhir import facts
from healthbridge.inputs import dbframes as dbf
from healthbridge.inputs import extract as x
from healthbridge.pipeline.scoring import score_columns

#: Observation fields the rules read (JSON paths; see :mod:`healthbridge.inputs.extract`).
OBSERVATION = {
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
ENCOUNTER = {
    "status": "$.status",
    "type": "$.type",
    "subject": "$.subject.reference",
    "start": "$.period.start",
    "provider": "$.serviceProvider.reference",
    "participant": "$.participant",
}
IMMUNIZATION = {
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


def frame(
    rows: list[tuple[Any, ...]], columns: tuple[str, ...], dates: tuple[str, ...]
) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for c in dates:
        frame[c] = pd.to_datetime(frame[c])
    return frame


def series(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype=object)


def subjects(frame: pd.DataFrame, column: str, known: set[str]) -> pd.Series:
    ids = pd.Series(dbf.ref_ids(frame[column].tolist(), "Patient"), index=frame.index, dtype=object)
    return ids.where(ids.isin(known))


def children_frame(
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
    return frame(
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


def compact_observations(raw: pd.DataFrame) -> pd.DataFrame:
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
OBS_COLUMNS = (
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


def observations(raw: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """Current, non-void Observations of known children with their LOINC code and date
    (from the documents)."""
    obs = raw.assign(
        child_id=subjects(raw, "subject", known),
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
        unit=series([u if isinstance(u, str) else None for u in obs["unit"]]).to_numpy(),
        encounter_id=series(dbf.ref_ids(obs["encounter"].tolist(), "Encounter")).to_numpy(),
        written=series(["" if w is None else str(w) for w in obs["written"]]).to_numpy(),
    )[list(OBS_COLUMNS)].reset_index(drop=True)


def sort_key(column: pd.Series) -> np.ndarray[Any, Any] | None:
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


def sorted_rows(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame.sort_values(columns)``, the same rows in the same order, cheaper: the leading
    columns are sorted as integer codes (child ids have few distinct values) and the last
    one (the record ids, nearly all distinct: sorting them as text was most of the cost)
    only compared among the rows equal in all the others. Falls back to ``sort_values`` when
    a key column has missing values."""
    keys = [sort_key(frame[c]) for c in columns[:-1]]
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


def session_keys(g: pd.DataFrame) -> pd.Series:
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


def sessions(obs: pd.DataFrame) -> pd.DataFrame:
    """Growth sessions (:func:`healthbridge.inputs.extract.growth_sessions`, vectorised):
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
    key = session_keys(g).to_numpy(dtype=object)
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
    return sorted_rows(frame, ["child_id", "session_on", "key"]).reset_index(drop=True)


def growth(sessions: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Score the sessions (corrected age for preterm children) into the growth frame."""
    columns = ("child_id", "observation_id", "date", "age_days", *GROWTH_FIELDS)
    if sessions.empty:
        return frame([], columns, ("date",))
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


def daily_checks(obs: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Morning checks per enrolled child and day (:func:`~.extract.daily_checks`)."""
    columns = ("check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms")
    enrolled = children.loc[children["centre_id"].notna()].set_index("child_id")
    d = obs.loc[obs["code"].isin(x.DAILY_CHECK_CODES) & obs["child_id"].isin(enrolled.index)]
    if d.empty:
        return frame([], columns, ("date",))
    is_temp = d["code"] == t.LOINC_BODY_TEMPERATURE
    temp = d["number"].where(is_temp)
    symptoms = d["symptoms"].tolist()
    d = d.assign(temp=temp.to_numpy())
    # per day: the smallest id names the check, the highest temperature counts, symptoms pool
    out = (
        sorted_rows(d, ["child_id", "on", "res_id"])
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
    out["symptoms"] = series(listed).to_numpy()
    out["centre_id"] = out["child_id"].map(enrolled["centre_id"])
    out["class_id"] = out["child_id"].map(enrolled["class_id"]).fillna("")
    out = out.rename(columns={"on": "date"})
    return out[list(columns)].reset_index(drop=True)


def haemoglobin(obs: pd.DataFrame) -> pd.DataFrame:
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
    return sorted_rows(out, ["child_id", "date", "observation_id"]).reset_index(drop=True)


def tb_tests(obs: pd.DataFrame) -> pd.DataFrame:
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
    return sorted_rows(out, ["child_id", "date", "observation_id"]).reset_index(drop=True)


def checkups(enc: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Checkup Encounters (:func:`~.extract.checkups`) and every encounter of a known child
    with its routing fields (for the paediatrician routing). ``enc``: res_id, child_id (known
    children only), status, visit, date, doc."""
    enc = enc.loc[enc["child_id"].notna()]
    ok = ~enc["status"].isin(["cancelled", "entered-in-error"]) & enc["visit"].notna()
    ok &= enc["date"].notna() & (enc["visit"] != "daily-check")
    checkups = enc.loc[ok, ["child_id", "res_id", "date", "visit"]].rename(
        columns={"res_id": "checkup_id", "visit": "visit_type"}
    )
    checkups = sorted_rows(checkups, ["child_id", "date", "checkup_id"]).reset_index(drop=True)
    return checkups, enc[["res_id", "child_id", "doc"]].reset_index(drop=True)


def encounters(raw: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """The Encounter fields the rules read, from the documents (see :func:`checkups`)."""
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
            "child_id": subjects(raw, "subject", known),
            "status": raw["status"],
            "visit": series(
                dbf.coded(
                    [dbf.concept_codings(v) for v in raw["type"].tolist()],
                    t.CS_CHECKUP_VISIT,
                    last=True,
                )
            ),
            "date": dbf.days(raw["start"].tolist()).to_numpy(),
            "doc": series(docs),
        }
    )


def immunizations(raw: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """The Immunization fields the rules read, from the documents (see :func:`doses`)."""
    return pd.DataFrame(
        {
            "res_id": raw["res_id"],
            "child_id": subjects(raw, "patient", known),
            "status": raw["status"],
            "vaccine": series(dbf.coded(raw["coding"].tolist(), t.CS_NIP_VACCINE, last=True)),
            "date": dbf.days(raw["occurrence"].tolist()).to_numpy(),
        }
    )


def doses(imm: pd.DataFrame) -> pd.DataFrame:
    """Completed NIP doses (:func:`~.extract.doses`); ``imm``: res_id, child_id (known
    children only), status, vaccine, date."""
    ok = imm["child_id"].notna() & (imm["status"] == "completed")
    ok &= imm["vaccine"].fillna("").astype(bool) & imm["date"].notna()
    out = imm.loc[ok, ["child_id", "res_id", "vaccine", "date"]].rename(
        columns={"res_id": "immunization_id"}
    )
    return sorted_rows(out, ["child_id", "date", "vaccine", "immunization_id"]).reset_index(
        drop=True
    )
