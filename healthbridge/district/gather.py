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
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
    frame["sex"] = frame["sex"].astype("Int64")
    frame["gestational_age_weeks"] = pd.to_numeric(frame["gestational_age_weeks"], errors="coerce")
    return frame


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
) -> pd.DataFrame:
    """One row per current resource with a code of ``system`` in the coding array at JSON path
    ``codings`` (``concepts``: in a list of CodeableConcepts there) — the first such code
    counts; with ``codes``, only those — with the requested fields, all read field-wise by the
    database (:mod:`healthbridge.pipeline.dbframes`, shared with ``healthbridge evaluate``)."""
    raw = dbf.fields(conn, resource_type, {"codings": codings, **paths}, exclude_containing=exclude)
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


def _growth_observations(conn: Connection) -> pd.DataFrame:
    """Weight, length/height and head-circumference Observations."""
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
        },
        codes=list(_GROWTH_CODES),
        exclude=t.CS_GROWTH_INDICATOR,  # the derived scores: not measurements
    )
    raw = raw.loc[raw["status"].isin(["final", "amended", "corrected"])]
    day = _text(raw["effective"].where(raw["effective"].notna(), raw["period_start"]))
    out = pd.DataFrame(
        {
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
    return out[["child_id", "encounter", "date", "code", "value"]].reset_index(drop=True)


def _pair(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per encounter: weight, length/height with its measure, head circumference."""
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
    frame["date"] = pd.to_datetime(frame["date"])
    frame["age_days"] = (frame["date"] - frame["birth_date"]).dt.days.astype("float64")
    frame = frame.loc[frame["age_days"] >= 0].reset_index(drop=True)
    for col in ("weight_kg", "lenhei_cm", "headc_cm"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["measure"] = frame["measure"].astype("object").where(frame["measure"].notna(), None)
    if frame.empty:
        return frame
    return growth_standards.score(frame)


def _checkups(conn: Connection) -> pd.DataFrame:
    """Encounters typed in CodeSystem ``checkup-visit`` (not cancelled/planned/in error)."""
    raw = _coded(
        conn,
        "Encounter",
        "$.type",
        t.CS_CHECKUP_VISIT,
        {"status": "$.status", "subject": "$.subject.reference", "start": "$.period.start"},
        concepts=True,
    )
    raw = raw.loc[~raw["status"].isin(["cancelled", "entered-in-error", "planned"])]
    frame = pd.DataFrame(
        {
            "child_id": _local_id(raw["subject"], "Patient"),
            "date": pd.to_datetime(_text(raw["start"]).str.slice(0, 10), errors="coerce"),
            "visit_code": _text(raw["code"]),
        }
    )
    return frame.dropna().reset_index(drop=True)


def _vaccinations(conn: Connection) -> pd.DataFrame:
    """Completed Immunizations coded in CodeSystem ``nip-vaccine`` with a dose number."""
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
    )
    raw = raw.loc[raw["status"] == "completed"]
    frame = pd.DataFrame(
        {
            "child_id": _local_id(raw["patient"], "Patient"),
            "vaccine": _text(raw["code"]),
            "dose": pd.to_numeric(raw["dose"], errors="coerce"),
            "date": pd.to_datetime(_text(raw["occurrence"]).str.slice(0, 10), errors="coerce"),
        }
    )
    frame = frame.dropna().reset_index(drop=True)
    frame["dose"] = frame["dose"].astype("int64")
    return frame


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
#: Last gathered frames per database URL, with the data version they were read at.
_CACHE: dict[str, tuple[tuple[object, ...], DistrictFrames]] = {}
_CACHE_LOCK = threading.Lock()


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


def _read(conn: Connection) -> DistrictFrames:
    patients = list(_contents(conn, "Patient"))
    children = _children(patients)
    measurements = _pair(_growth_observations(conn))
    checkups = _checkups(conn)
    vaccinations = _vaccinations(conn)
    centres, agreements = _centres(conn)
    checks = admission_checks(patients)
    return DistrictFrames(
        children=children,
        measurements=score_measurements(measurements, children),
        checkups=checkups,
        vaccinations=vaccinations,
        centres=centres,
        agreements=agreements,
        admission_checks=checks,
    )


def _shallow(frames: DistrictFrames) -> DistrictFrames:
    """Copies sharing the data (copy-on-write): a caller changing its frames cannot change
    the cached ones."""
    return DistrictFrames(
        *(getattr(frames, f.name).copy(deep=False) for f in fields(DistrictFrames))
    )


def gather(repo: Repository, *, cached: bool = True) -> DistrictFrames:
    """Read the district (current versions, deleted resources excluded) into DataFrames.

    Reading and scoring a whole district is the cost of every report; with ``cached`` the
    frames of the last read are reused while :func:`data_version` is unchanged (one count and
    a few index lookups), so repeated reports on unchanged data skip the read. Any write
    invalidates them; the next call reads everything again.
    """
    key = repo.engine.url.render_as_string(hide_password=True)
    with repo.engine.connect() as conn:
        version = data_version(conn) if cached else None
        with _CACHE_LOCK:
            hit = _CACHE.get(key) if cached else None
        if hit is not None and hit[0] == version:
            return _shallow(hit[1])
        frames = _read(conn)
    if version is not None:
        with _CACHE_LOCK:
            _CACHE.clear()  # one district at a time: the frames are large
            _CACHE[key] = (version, frames)
        return _shallow(frames)
    return frames
