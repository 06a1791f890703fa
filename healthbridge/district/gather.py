"""Read a whole district out of the store as the DataFrames the pure reports take.

Whole-district figures read every child, visit and dose, so this module reads set-based instead
of paging through FHIR searches: Observations, Encounters and Immunizations with one query each,
the fields read extracted by the database (:mod:`healthbridge.pipeline.dbframes`, the reader
``healthbridge evaluate`` uses too: ``json_extract`` / ``jsonb``) and the code of each taken
as the first coding of its CodeSystem; Patients and Organizations (nested extensions) parsed
whole. It reads as the district platform itself: callers either return aggregates
only (reports, gated by :func:`healthbridge.district.roles.require_role`) or read the children
they output back through the Transaction API as the caller (WHO Anthro export).

Representations read (docs/exchange.md §"What is read"):

* child: ``Patient`` (``birthDate``, ``gender``, the ``childcare-enrollment`` extension's
  ``centre`` and ``period``, the ``gestational-age`` extension);
* growth: ``Observation`` weight 29463-7, length 8306-3 (lying), height 8302-2 (standing), head
  circumference 9843-4, paired per ``Encounter`` (or per child and day without one) and scored
  with :func:`growth_standards.score` (chronological age, as WHO's survey method does);
* checkups: ``Encounter.type`` coded in CodeSystem ``checkup-visit``;
* vaccinations: ``Immunization`` (status completed) coded in CodeSystem ``nip-vaccine`` with
  ``protocolApplied.doseNumberPositiveInt``;
* centres: ``Organization`` of kind ``childcare-centre`` (``organization-kind``), with the
  optional ``childcare-places`` (valueInteger) and ``childcare-agreement`` (``hospital``
  valueReference, ``period`` valuePeriod; repeatable) extensions.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

import growth_standards
from healthbridge import terminology as t
from healthbridge.district.admission import admission_checks
from healthbridge.fhir.values import index_instant
from healthbridge.pipeline import dbframes as dbf
from healthbridge.store.repository import Repository

ENROLLMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"
GESTATIONAL_AGE_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/gestational-age"
#: Our representation of a centre's agreement with a hospital (医育结合签约): an extension on
#: the centre's Organization with ``hospital`` (valueReference) and ``period`` (valuePeriod).
AGREEMENT_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-agreement"
#: Registered childcare places (托位数) of a centre: valueInteger on its Organization.
PLACES_EXTENSION: Final = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-places"
CENTRE_KIND: Final = "childcare-centre"

_GROWTH_CODES: Final = {
    t.LOINC_BODY_WEIGHT: "weight_kg",
    t.LOINC_BODY_LENGTH: "lenhei_cm",
    t.LOINC_BODY_HEIGHT: "lenhei_cm",
    t.LOINC_HEAD_CIRCUMFERENCE: "headc_cm",
}


@dataclass(frozen=True)
class DistrictFrames:
    """Everything the district reports read, as plain DataFrames.

    * ``children``: ``child_id``, ``birth_date``, ``sex`` (1/2), ``centre``, ``enrolled_on``,
      ``left_on``, ``gestational_age_weeks``;
    * ``measurements``: ``child_id``, ``encounter``, ``date``, ``weight_kg``, ``lenhei_cm``,
      ``measure``, ``headc_cm``, plus ``sex``, ``birth_date``, ``centre``, ``age_days`` and
      growth_standards' score columns (``zwei``, ``fwei``, ``zlen`` …);
    * ``checkups``: ``child_id``, ``date``, ``visit_code``;
    * ``vaccinations``: ``child_id``, ``vaccine``, ``dose``, ``date``;
    * ``centres``: ``centre``, ``name``, ``places``; ``agreements``: ``centre``, ``hospital``,
      ``signed_on``, ``ends_on``.
    """

    children: pd.DataFrame
    measurements: pd.DataFrame
    checkups: pd.DataFrame
    vaccinations: pd.DataFrame
    centres: pd.DataFrame
    agreements: pd.DataFrame
    #: ``child_id``, ``centre``, ``entry_date``, ``status`` (:mod:`healthbridge.district.admission`)
    admission_checks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["child_id", "centre", "entry_date", "status"])
    )


def _contents(conn: Connection, resource_type: str) -> Iterator[dict[str, Any]]:
    yield from dbf.parse(dbf.fields(conn, resource_type, {"doc": "$"})["doc"].tolist())


def _ref_id(reference: dict[str, Any] | None, resource_type: str) -> str | None:
    ref = (reference or {}).get("reference")
    if not isinstance(ref, str) or not ref.startswith(f"{resource_type}/"):
        return None
    return ref.split("/")[1]


def _day(value: Any) -> str | None:
    """The calendar date of a FHIR date/dateTime as written (local time of the record)."""
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _codes(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [
        c["code"]
        for c in (concept or {}).get("coding", [])
        if c.get("system") == system and "code" in c
    ]


def _extensions(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e.get("url") == url]


def _sub(extension: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in extension.get("extension", []) if e.get("url") == url), {})


def _children(patients: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for p in patients:
        birth = _day(p.get("birthDate"))
        if birth is None:
            continue
        centre = enrolled = left = None
        for ext in _extensions(p, ENROLLMENT_EXTENSION):
            centre = _ref_id(_sub(ext, "centre").get("valueReference"), "Organization")
            period = _sub(ext, "period").get("valuePeriod", {})
            enrolled, left = _day(period.get("start")), _day(period.get("end"))
        ga = next(
            (
                e.get("valueQuantity", {}).get("value")
                for e in _extensions(p, GESTATIONAL_AGE_EXTENSION)
            ),
            None,
        )
        sex = {"male": 1, "female": 2}.get(p.get("gender", ""))
        rows.append((p["id"], birth, sex, centre, enrolled, left, ga))
    frame = pd.DataFrame(
        rows,
        columns=[
            "child_id",
            "birth_date",
            "sex",
            "centre",
            "enrolled_on",
            "left_on",
            "gestational_age_weeks",
        ],
    )
    for col in ("birth_date", "enrolled_on", "left_on"):
        frame[col] = _dates(frame[col])
    for col in ("child_id", "centre"):
        frame[col] = frame[col].astype("str")
    frame["sex"] = frame["sex"].astype("Int64")
    frame["gestational_age_weeks"] = pd.to_numeric(
        frame["gestational_age_weeks"], errors="coerce"
    ).astype("float64")
    return frame


def _dates(values: pd.Series) -> pd.Series:
    """Calendar dates as datetime64[us] whatever the values (all missing included): the
    frames of a few children refreshed must have the dtypes of the whole district's."""
    return pd.to_datetime(values, errors="coerce").astype("datetime64[us]")


def _coded(
    conn: Connection,
    resource_type: str,
    codings: str,
    system: str,
    paths: dict[str, str],
    codes: Sequence[str] | None = None,
    *,
    concepts: bool = False,
    exclude: str | None = None,
    res_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per current resource with a code of ``system`` in the coding array at JSON path
    ``codings`` (``concepts``: in a list of CodeableConcepts there) — the first such code
    counts; with ``codes``, only those — with the requested fields, all read field-wise by the
    database (:mod:`healthbridge.pipeline.dbframes`, shared with ``healthbridge evaluate``)."""
    raw = dbf.fields(
        conn,
        resource_type,
        {"codings": codings, **paths},
        exclude_containing=exclude,
        res_ids=res_ids,
    )
    arrays = raw["codings"].tolist()
    if concepts:
        arrays = [dbf.concept_codings(a) for a in arrays]
    raw.insert(1, "code", pd.Series(dbf.coded(arrays, system), dtype=object))
    keep = raw["code"].notna()
    if codes is not None:
        keep &= raw["code"].isin(list(codes))
    return raw.loc[keep].drop(columns="codings").reset_index(drop=True)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("object")


def _local_id(references: pd.Series, resource_type: str) -> pd.Series:
    """``Type/id`` → ``id`` (missing for other types)."""
    refs = _text(references)
    prefix = f"{resource_type}/"
    return refs.str.slice(len(prefix)).where(refs.str.startswith(prefix, na=False))


def _growth_observations(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Weight, length/height and head-circumference Observations, with their ``res_id`` and
    ``recorded`` (``meta.lastUpdated``) to order them by (:func:`_recorded_order`)."""
    raw = _coded(
        conn,
        "Observation",
        "$.code.coding",
        t.LOINC,
        {
            "status": "$.status",
            "subject": "$.subject.reference",
            "value": "$.valueQuantity.value",
            "effective": "$.effectiveDateTime",
            "period_start": "$.effectivePeriod.start",
            "encounter": "$.encounter.reference",
            "recorded": "$.meta.lastUpdated",
        },
        codes=list(_GROWTH_CODES),
        exclude=t.CS_GROWTH_INDICATOR,  # the derived scores: not measurements
        res_ids=res_ids,
    )
    raw = raw.loc[raw["status"].isin(["final", "amended", "corrected"])]
    day = _text(raw["effective"].where(raw["effective"].notna(), raw["period_start"]))
    out = pd.DataFrame(
        {
            "res_id": _text(raw["res_id"]),
            "recorded": _text(raw["recorded"]),
            "child_id": _local_id(raw["subject"], "Patient"),
            "date": day.str.slice(0, 10),
            "code": _text(raw["code"]),
            "value": pd.to_numeric(raw["value"], errors="coerce").astype("float64"),
            "encounter": _local_id(raw["encounter"], "Encounter"),
        }
    )
    keep = out["child_id"].notna() & out["value"].notna() & (out["date"].str.len() == 10)
    out = out.loc[keep.fillna(False)]
    out["encounter"] = out["encounter"].where(
        out["encounter"].notna(), out["child_id"] + "@" + out["date"]
    )
    columns = ["res_id", "recorded", "child_id", "encounter", "date", "code", "value"]
    return out[columns].reset_index(drop=True)


def _recorded_order(observations: pd.DataFrame) -> pd.DataFrame:
    """The measurements in the order they were recorded: ``meta.lastUpdated``, then id (the
    store's instants have millisecond precision). A storage-order-free order, so that a
    refresh of a few children pairs exactly as a read of the whole district does."""
    return observations.sort_values(["recorded", "res_id"], kind="stable", na_position="first")


def _pair(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per encounter: weight, length/height with its measure, head circumference
    (``observations`` in :func:`_recorded_order`)."""
    columns = ["child_id", "encounter", "date", "weight_kg", "lenhei_cm", "measure", "headc_cm"]
    if observations.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    obs = observations.assign(
        field=observations["code"].map(_GROWTH_CODES),
        measure=observations["code"].map({t.LOINC_BODY_LENGTH: "l", t.LOINC_BODY_HEIGHT: "h"}),
    )
    keys = ["child_id", "encounter"]
    # a repeated measurement in one encounter: the last one recorded counts
    obs = obs.drop_duplicates(subset=[*keys, "field"], keep="last")
    wide = obs.pivot(index=keys, columns="field", values="value")
    # earliest date per encounter (a string groupby-min is very slow on pandas 3)
    dates = obs.sort_values("date", kind="stable").drop_duplicates(keys).set_index(keys)["date"]
    measure = obs.dropna(subset=["measure"]).drop_duplicates(keys, keep="last")
    out = wide.join(dates).join(measure.set_index(keys)["measure"]).reset_index()
    for col in columns:
        if col not in out.columns:
            out[col] = np.nan
    return out[columns]


def score_measurements(measurements: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Attach the child's sex, birth date and centre, the age in days, and WHO z-scores."""
    info = children[["child_id", "sex", "birth_date", "centre"]]
    frame = measurements.merge(info, on="child_id", how="inner")
    frame["date"] = _dates(frame["date"])
    frame["age_days"] = (frame["date"] - frame["birth_date"]).dt.days.astype("float64")
    frame = frame.loc[frame["age_days"] >= 0].reset_index(drop=True)
    for col in ("weight_kg", "lenhei_cm", "headc_cm"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["measure"] = frame["measure"].astype("object").where(frame["measure"].notna(), None)
    if frame.empty:
        return frame
    return growth_standards.score(frame)


def _checkups(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Encounters typed in CodeSystem ``checkup-visit`` (not cancelled/planned/in error), with
    the Encounter's ``res_id``, in id order."""
    raw = _coded(
        conn,
        "Encounter",
        "$.type",
        t.CS_CHECKUP_VISIT,
        {"status": "$.status", "subject": "$.subject.reference", "start": "$.period.start"},
        concepts=True,
        res_ids=res_ids,
    )
    raw = raw.loc[~raw["status"].isin(["cancelled", "entered-in-error", "planned"])]
    frame = pd.DataFrame(
        {
            "res_id": _text(raw["res_id"]),
            "child_id": _local_id(raw["subject"], "Patient"),
            "date": _dates(_text(raw["start"]).str.slice(0, 10)),
            "visit_code": _text(raw["code"]),
        }
    )
    return _by_id(frame.dropna())


def _vaccinations(conn: Connection, res_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Completed Immunizations coded in CodeSystem ``nip-vaccine`` with a dose number, with
    the Immunization's ``res_id``, in id order."""
    raw = _coded(
        conn,
        "Immunization",
        "$.vaccineCode.coding",
        t.CS_NIP_VACCINE,
        {
            "status": "$.status",
            "patient": "$.patient.reference",
            "dose": "$.protocolApplied[0].doseNumberPositiveInt",
            "occurrence": "$.occurrenceDateTime",
        },
        res_ids=res_ids,
    )
    raw = raw.loc[raw["status"] == "completed"]
    frame = pd.DataFrame(
        {
            "res_id": _text(raw["res_id"]),
            "child_id": _local_id(raw["patient"], "Patient"),
            "vaccine": _text(raw["code"]),
            "dose": pd.to_numeric(raw["dose"], errors="coerce"),
            "date": _dates(_text(raw["occurrence"]).str.slice(0, 10)),
        }
    )
    frame = _by_id(frame.dropna())
    frame["dose"] = frame["dose"].astype("int64")
    return frame


def _by_id(frame: pd.DataFrame, key: str = "res_id") -> pd.DataFrame:
    """Rows in ``key`` order (stable): an order that does not depend on where the database
    stored the rows, so that a refresh reproduces a full read row for row."""
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def _centres(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    centres, agreements = [], []
    for o in _contents(conn, "Organization"):
        kinds = [c for tp in o.get("type", []) for c in _codes(tp, t.CS_ORG_KIND)]
        if CENTRE_KIND not in kinds or o.get("active") is False:
            continue
        places = next((e.get("valueInteger") for e in _extensions(o, PLACES_EXTENSION)), None)
        centres.append((o["id"], o.get("name"), places))
        for ext in _extensions(o, AGREEMENT_EXTENSION):
            hospital = _ref_id(_sub(ext, "hospital").get("valueReference"), "Organization")
            period = _sub(ext, "period").get("valuePeriod", {})
            if hospital and _day(period.get("start")):
                agreements.append(
                    (o["id"], hospital, _day(period.get("start")), _day(period.get("end")))
                )
    centres.sort(key=lambda row: row[0])
    agreements.sort(key=lambda row: row[0])  # stable: a centre's agreements in order
    centre_frame = pd.DataFrame(centres, columns=["centre", "name", "places"])
    centre_frame["places"] = pd.to_numeric(centre_frame["places"], errors="coerce")
    agreement_frame = pd.DataFrame(
        agreements, columns=["centre", "hospital", "signed_on", "ends_on"]
    )
    for col in ("signed_on", "ends_on"):
        agreement_frame[col] = pd.to_datetime(agreement_frame[col], errors="coerce")
    return centre_frame, agreement_frame


#: Resource types the district frames are read from.
_READ_TYPES: Final = ("Patient", "Observation", "Encounter", "Immunization", "Organization")
#: How far before a read a later refresh looks again for changes: a write stamps its rows
#: when it runs and becomes visible when it commits, so rows stamped shortly before a read may
#: appear after it. A write committing later than this (or stamped by a clock further behind)
#: is caught by the version count (see :class:`_Mark`) and costs a full read, never a wrong
#: frame.
REFRESH_MARGIN: dt.timedelta = dt.timedelta(minutes=5)
#: More changed resources than this since the last read: read everything again.
DELTA_LIMIT: int = 50_000


def data_version(conn: Connection) -> tuple[object, ...]:
    """A cheap fingerprint of the stored data: the number of versions ever written (every
    committed create, update or delete adds one, whichever transaction commits last) and the
    latest ``lastUpdated`` of each type read (index lookups)."""
    count = conn.exec_driver_sql("SELECT count(*) FROM resource_version").scalar_one()
    latest = tuple(
        conn.execute(
            text("SELECT max(last_updated) FROM resource WHERE res_type = :t"), {"t": rtype}
        ).scalar_one()
        for rtype in _READ_TYPES
    )
    return (count, *latest)


@dataclass(frozen=True)
class _Mark:
    """What was read of one resource type: the watermark of an incremental refresh.

    The store never removes a version and stamps every version (create, update, delete) with
    the time it was written; a resource's ``lastUpdated`` is its newest version's. With
    ``since`` a little before the read (:data:`REFRESH_MARGIN`), and ``window`` the (version,
    stamp) of
    every row stamped at or after it, a later read finds every resource changed since as a
    row stamped at or after ``since`` whose (version, stamp) is not in ``window`` —
    *provided* no new version is stamped before ``since``. That is checked, not assumed: the
    count of versions of the type grew by exactly as many as the versions stamped at or after
    ``since`` did (``versions``, ``window_versions``), and every row of ``window`` is still
    there. Anything else (a long transaction committing late, a restored backup, another
    database at the same URL) fails the check and the district is read whole again.
    """

    versions: int
    since: str
    window: dict[str, tuple[int, str]]
    window_versions: int


@dataclass(frozen=True)
class _State:
    """The cached district: the frames handed out plus what a refresh updates them from."""

    version: tuple[object, ...]
    revision: str | None
    marks: dict[str, _Mark]
    observations: pd.DataFrame  # _growth_observations of every child, in child order
    checkups: pd.DataFrame  # _checkups, with res_id
    vaccinations: pd.DataFrame  # _vaccinations, with res_id
    frames: DistrictFrames


@dataclass(frozen=True)
class GatherInfo:
    """How the last cached :func:`gather` got its frames (for benchmarks and tests):
    ``cached`` (data unchanged), ``incremental`` (``changed`` resources per type re-read) or
    ``full`` (with the ``reason``)."""

    mode: str
    changed: dict[str, int] = field(default_factory=dict)
    reason: str = ""


#: Last gathered district per database URL.
_CACHE: dict[str, _State] = {}
_CACHE_LOCK = threading.Lock()
#: One refresh at a time: a second report request waits for the first one's frames.
_REFRESH_LOCK = threading.Lock()
_LAST: list[GatherInfo] = [GatherInfo("none")]


def last_gather() -> GatherInfo:
    """How the last cached :func:`gather` of this process got its frames."""
    return _LAST[0]


def _since(started: dt.datetime) -> str:
    """The window start of a read that started at ``started`` (the store's index form)."""
    return index_instant(started - REFRESH_MARGIN)


def _window(conn: Connection, rtype: str, since: str) -> list[tuple[str, int, str]]:
    rows = conn.execute(
        text(
            "SELECT res_id, version_id, last_updated FROM resource"
            " WHERE res_type = :t AND last_updated >= :s"
        ),
        {"t": rtype, "s": since},
    ).all()
    return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def _counts(conn: Connection, rtype: str, since: str) -> tuple[int, int]:
    """(versions of the type, versions of it stamped at or after ``since``)."""
    versions = conn.execute(
        text("SELECT count(*) FROM resource_version WHERE res_type = :t"), {"t": rtype}
    ).scalar_one()
    recent = conn.execute(
        text(
            "SELECT count(*) FROM resource_version v JOIN resource r"
            " ON v.res_type = r.res_type AND v.res_id = r.res_id"
            " WHERE r.res_type = :t AND r.last_updated >= :s AND v.last_updated >= :s"
        ),
        {"t": rtype, "s": since},
    ).scalar_one()
    return int(versions), int(recent)


def _mark(conn: Connection, rtype: str, started: dt.datetime) -> _Mark:
    since = _since(started)
    versions, recent = _counts(conn, rtype, since)
    window = {rid: (v, stamp) for rid, v, stamp in _window(conn, rtype, since)}
    return _Mark(versions, since, window, recent)


def _revision(conn: Connection) -> str | None:
    """The schema revision (a migration may rewrite stored rows without new versions)."""
    if not conn.dialect.has_table(conn, "alembic_version"):  # made without migrations
        return None
    value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return None if value is None else str(value)


def _measurements(observations: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    return score_measurements(_pair(_recorded_order(observations)), children)


def _public(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="res_id")


def _read_state(conn: Connection, version: tuple[object, ...], started: dt.datetime) -> _State:
    """Read everything (the caller holds one snapshot, begun after ``started``: the watermark
    matches the frames)."""
    marks = {rtype: _mark(conn, rtype, started) for rtype in _READ_TYPES}
    ordered = sorted(_contents(conn, "Patient"), key=lambda p: str(p["id"]))
    children = _children(ordered)
    observations = _by_id(_growth_observations(conn), "child_id")
    checkups = _checkups(conn)
    vaccinations = _vaccinations(conn)
    centres, agreements = _centres(conn)
    frames = DistrictFrames(
        children=children,
        measurements=_measurements(observations, children),
        checkups=_public(checkups),
        vaccinations=_public(vaccinations),
        centres=centres,
        agreements=agreements,
        admission_checks=admission_checks(ordered),
    )
    return _State(version, _revision(conn), marks, observations, checkups, vaccinations, frames)


def _read(conn: Connection) -> DistrictFrames:
    started = dt.datetime.now(dt.UTC)
    return _read_state(conn, data_version(conn), started).frames


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


def _splice(frame: pd.DataFrame, key: str, drop: set[str], new: pd.DataFrame) -> pd.DataFrame:
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


def _changes(conn: Connection, state: _State) -> tuple[dict[str, list[str]], str]:
    """Per type, the ids changed since ``state`` was read; an empty reason when the watermark
    holds (see :class:`_Mark`), else why the district must be read whole."""
    if _revision(conn) != state.revision:
        return {}, "schema revision changed"
    changed: dict[str, list[str]] = {}
    for rtype in _READ_TYPES:
        mark = state.marks[rtype]
        versions, recent = _counts(conn, rtype, mark.since)
        if versions - mark.versions != recent - mark.window_versions:
            return {}, f"{rtype}: versions written before the watermark"
        window = _window(conn, rtype, mark.since)
        if len(mark.window.keys() - {rid for rid, _, _ in window}):
            # a stamp never goes back and the store never removes a row: another database
            return {}, f"{rtype}: rows read before are gone"
        changed[rtype] = sorted(
            rid for rid, v, stamp in window if mark.window.get(rid) != (v, stamp)
        )
    total = sum(len(ids) for ids in changed.values())
    if total > DELTA_LIMIT:
        return {}, f"{total} changed resources (more than {DELTA_LIMIT})"
    return changed, ""


def _refresh(
    conn: Connection,
    state: _State,
    version: tuple[object, ...],
    changed: dict[str, list[str]],
    started: dt.datetime,
) -> _State:
    """``state`` brought up to date by re-reading only the ``changed`` resources: Patients
    (their children, entry checks and every measurement of theirs re-scored), growth
    Observations (the children they belonged to or now belong to re-paired and re-scored),
    Encounters and Immunizations (their rows replaced), Organizations (the centres re-read:
    a handful of rows). Every other row is kept as is."""
    frames = state.frames
    patient_ids = set(changed["Patient"])
    children, checks = frames.children, frames.admission_checks
    if patient_ids:
        rows = dbf.fields(conn, "Patient", {"doc": "$"}, res_ids=sorted(patient_ids))["doc"]
        now = sorted(dbf.parse(rows.tolist()), key=lambda p: str(p["id"]))
        children = _splice(children, "child_id", patient_ids, _children(now))
        checks = _splice(checks, "child_id", patient_ids, admission_checks(now))

    observations = state.observations  # in child order
    affected = set(patient_ids)
    if changed["Observation"]:
        ids = changed["Observation"]
        gone = observations["res_id"].isin(ids)
        fresh = _growth_observations(conn, ids)
        owners = set(observations.loc[gone, "child_id"]) | set(fresh["child_id"])
        theirs = _rows(observations, "child_id", owners)
        theirs = pd.concat([theirs.loc[~theirs["res_id"].isin(ids)], fresh], ignore_index=True)
        observations = _splice(observations, "child_id", owners, _by_id(theirs, "child_id"))
        affected |= owners
    measurements = frames.measurements
    if affected:
        new = _measurements(
            _rows(observations, "child_id", affected), _rows(children, "child_id", affected)
        )
        lo, hi = _ranges(measurements, "child_id", affected)
        if int((hi - lo).sum()) == len(measurements):  # nothing else left: as a full read
            measurements = _measurements(observations, children)
        else:
            measurements = _splice(measurements, "child_id", affected, new)

    checkups, vaccinations = state.checkups, state.vaccinations
    if changed["Encounter"]:
        ids = changed["Encounter"]
        checkups = _splice(checkups, "res_id", set(ids), _checkups(conn, ids))
    if changed["Immunization"]:
        ids = changed["Immunization"]
        vaccinations = _splice(vaccinations, "res_id", set(ids), _vaccinations(conn, ids))
    centres, agreements = frames.centres, frames.agreements
    if changed["Organization"]:
        centres, agreements = _centres(conn)
    return _State(
        version=version,
        revision=state.revision,
        marks={rtype: _mark(conn, rtype, started) for rtype in _READ_TYPES},
        observations=observations,
        checkups=checkups,
        vaccinations=vaccinations,
        frames=DistrictFrames(
            children=children,
            measurements=measurements,
            checkups=_public(checkups) if changed["Encounter"] else frames.checkups,
            vaccinations=_public(vaccinations) if changed["Immunization"] else frames.vaccinations,
            centres=centres,
            agreements=agreements,
            admission_checks=checks,
        ),
    )


def _shallow(frames: DistrictFrames) -> DistrictFrames:
    """Copies sharing the data (copy-on-write): a caller changing its frames cannot change
    the cached ones."""
    return DistrictFrames(
        *(getattr(frames, f.name).copy(deep=False) for f in fields(DistrictFrames))
    )


def _snapshot(conn: Connection) -> Connection:
    """One consistent view for the whole read (PostgreSQL: REPEATABLE READ; SQLite: the read
    transaction the store's engine opens with ``BEGIN`` sees one snapshot in WAL mode)."""
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def gather(repo: Repository, *, cached: bool = True) -> DistrictFrames:
    """Read the district (current versions, deleted resources excluded) into DataFrames.

    Reading and scoring a whole district is the cost of every report; with ``cached`` the
    frames of the last read are kept with a watermark of what was read (:class:`_Mark`). While
    :func:`data_version` is unchanged (one count and a few index lookups) they are reused as
    they are; after writes only the resources written since are re-read and only the children
    they touch re-paired and re-scored (:func:`_refresh`) — unless the watermark cannot be
    trusted or too much changed (:data:`DELTA_LIMIT`), when everything is read again. The
    frames are identical to a full read's either way (tests/healthbridge/district/
    test_gather_refresh.py). Callers get copy-on-write copies.
    """
    if not cached:
        with repo.engine.connect() as conn:
            return _read(_snapshot(conn))
    key = repo.engine.url.render_as_string(hide_password=True)
    with repo.engine.connect() as conn:
        version = data_version(conn)
    with _CACHE_LOCK:
        state = _CACHE.get(key)
    if state is not None and state.version == version:
        _LAST[0] = GatherInfo("cached")
        return _shallow(state.frames)
    with _REFRESH_LOCK:
        with _CACHE_LOCK:
            state = _CACHE.get(key)
        with repo.engine.connect() as raw:
            conn = _snapshot(raw)
            started = dt.datetime.now(dt.UTC)  # before the snapshot's first statement
            version = data_version(conn)
            if state is not None and state.version == version:
                _LAST[0] = GatherInfo("cached")
                return _shallow(state.frames)
            changed, reason = _changes(conn, state) if state is not None else ({}, "first read")
            if reason or state is None:
                state = _read_state(conn, version, started)
                info = GatherInfo("full", reason=reason)
            else:
                state = _refresh(conn, state, version, changed, started)
                info = GatherInfo("incremental", {k: len(v) for k, v in changed.items()})
        with _CACHE_LOCK:
            _CACHE.clear()  # one district at a time: the frames are large
            _CACHE[key] = state
        _LAST[0] = info
        return _shallow(state.frames)
