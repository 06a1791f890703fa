"""Growth sessions → growth_standards scores → rule inputs and derived Observations.

One row per session is scored with :func:`growth_standards.score` (age in days from the birth
date and the measurement date; corrected age for preterm children, ``corrected_age=True`` with
the Patient's gestational age; weight and length of one encounter in one row, so weight-for-
length/height and BMI-for-age are paired). Each indicator's z-score becomes an
``hb-growth-score`` Observation (code ``{indicator}-z``) that carries the matching percentile
as its one ``component`` (code ``{indicator}-p``); its ``derivedFrom`` names the measurements
it used and its ``method`` the reference (WHO 2006 / WHO 2007). Its id is derived from (child,
session, code), so recomputing updates the same resource and never adds another.

Until 2026-12 the percentile was an Observation of its own. The percentile is a function of
the z-score (100·Φ(z), docs/growth_standards.md), so it belongs with it: one resource per
indicator, not two, halved the score Observations the pipeline stores — they were most of the
rows an ingest wrote (bench/results/ingest.md). FHIR R4 ``Observation.component``: component
observations share the primary observation's attributes (subject, time, method) and are not
separable from it. Migration 0014 queues the children whose stored scores still include a
percentile Observation, so that the workers fold them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import growth_standards as gs
from healthbridge import terminology as t
from healthbridge.clinical.nutrition import GrowthPoint
from healthbridge.clinical.tables_care import InterpretationTable
from healthbridge.inputs.extract import ChildInfo, Resource, Session

GROWTH_SCORE_PROFILE = f"{t.CANONICAL_BASE}/StructureDefinition/hb-growth-score"
CS_GROWTH_REFERENCE = f"{t.CANONICAL_BASE}/CodeSystem/growth-reference"
SID_GROWTH_SCORE = f"{t.CANONICAL_BASE}/sid/growth-score"
CS_PIPELINE_TAG = f"{t.CANONICAL_BASE}/CodeSystem/pipeline-tag"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

#: indicator code → (z column, percentile column, flag column, measured quantities used)
_INDICATORS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("wfa", "zwei", "pwei", "fwei", ("weight",)),
    ("lhfa", "zlen", "plen", "flen", ("lenhei",)),
    ("wfl", "zwfl", "pwfl", "fwfl", ("weight", "lenhei")),
    ("bfa", "zbmi", "pbmi", "fbmi", ("weight", "lenhei")),
    ("hcfa", "zhc", "phc", "fhc", ("headc",)),
)
_REFERENCE = {
    "WHO2006": ("who-2006", "WHO Child Growth Standards 2006 (0-5 years)"),
    "WHO2007": ("who-2007", "WHO Growth Reference 2007 (5-19 years)"),
}
#: Length is the reference below 731 days, height from 731 days (WHO 2006).
_LENGTH_UNTIL_DAYS = 731


@dataclass(frozen=True)
class Scored:
    """The scores of a child's sessions: rule inputs and derived Observations by id."""

    points: tuple[GrowthPoint, ...]
    derived: dict[str, Resource]


def session_columns(child: ChildInfo, sessions: Sequence[Session]) -> dict[str, list[Any]]:
    """The growth_standards input columns of a child's sessions (one row each)."""
    n = len(sessions)
    return {
        "sex": [1 if child.sex.value == "male" else 2] * n,
        "age_days": [(s.on - child.birth_date).days for s in sessions],
        "weight_kg": [s.weight_kg for s in sessions],
        "lenhei_cm": [s.lenhei_cm for s in sessions],
        "measure": [s.measure or "" for s in sessions],
        "headc_cm": [s.headc_cm for s in sessions],
        "gestational_age_weeks": [child.gestational_weeks] * n,
    }


#: z columns rounded to 2 decimals after scoring: WHO's anthro/anthroplus report and flag z to
#: 2 decimals (growth_standards flags the rounded value), so the rules, the derived Observations
#: and the flags all read the same number a clinician sees ("5.00" is not flagged).
_Z_COLUMNS = ("zwei", "zlen", "zwfl", "zbmi", "zhc")


def score_columns(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """Score input columns (corrected age for preterm children); z rounded to 2 decimals and
    ``corrected`` (scored at a corrected age) added."""
    frame = pd.DataFrame(columns).astype(
        {"weight_kg": float, "lenhei_cm": float, "headc_cm": float, "gestational_age_weeks": float}
    )
    scores = gs.score(frame, corrected_age=True)
    for column in _Z_COLUMNS:
        scores[column] = gs.round_z(scores[column].to_numpy(dtype=float))
    cage = scores["cage_days"].to_numpy(dtype=float)
    age = frame["age_days"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        scores["corrected"] = ~np.isnan(cage) & (cage != age)
    return scores


_POINT_COLUMNS = (
    "zwei",
    "zlen",
    "zwfl",
    "zbmi",
    "zhc",
    "fwei",
    "flen",
    "fwfl",
    "fbmi",
    "fhc",
    "corrected",
)


def point_columns(scores: pd.DataFrame) -> dict[str, list[Any]]:
    """The score columns the rules read, as Python lists (fast row access)."""
    return {c: scores[c].tolist() for c in _POINT_COLUMNS}


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    out = float(value)
    return None if math.isnan(out) else out


def points_from_columns(
    child: ChildInfo, sessions: Sequence[Session], cols: dict[str, list[Any]], start: int = 0
) -> tuple[GrowthPoint, ...]:
    """Rule inputs (one :class:`GrowthPoint` per session) from scored rows
    ``start .. start + len(sessions)`` of :func:`point_columns`."""
    out = []
    for k, s in enumerate(sessions):
        i = start + k
        out.append(
            GrowthPoint(
                s.observation_id,
                s.on,
                (s.on - child.birth_date).days,
                zwei=_num(cols["zwei"][i]),
                zlen=_num(cols["zlen"][i]),
                zwfl=_num(cols["zwfl"][i]),
                zbmi=_num(cols["zbmi"][i]),
                zhc=_num(cols["zhc"][i]),
                fwei=bool(_num(cols["fwei"][i])),
                flen=bool(_num(cols["flen"][i])),
                fwfl=bool(_num(cols["fwfl"][i])),
                fbmi=bool(_num(cols["fbmi"][i])),
                fhc=bool(_num(cols["fhc"][i])),
                weight=s.weight_kg,
                corrected=bool(cols["corrected"][i]),
            )
        )
    return tuple(out)


def score_child(
    child: ChildInfo, sessions: Sequence[Session], bands: InterpretationTable
) -> Scored:
    """Score every session of one child; the GrowthPoints and derived Observations (each
    score's interpretation from the rule set's ``bands``)."""
    return score_children([(child, sessions)], bands)[0]


def score_children(
    items: Sequence[tuple[ChildInfo, Sequence[Session]]], bands: InterpretationTable
) -> list[Scored]:
    """Score the sessions of several children in one ``growth_standards.score`` call (its
    fixed cost dominates for one child), in the order given."""
    inputs: dict[str, list[Any]] = {}
    for child, sessions in items:
        for name, values in session_columns(child, sessions).items():
            inputs.setdefault(name, []).extend(values)
    if not inputs.get("sex"):
        return [Scored((), {}) for _item in items]
    scores = score_columns(inputs)
    points = point_columns(scores)
    wanted = ["reference", "cage_days"] + [c for i in _INDICATORS for c in i[1:4]]
    columns = {c: scores[c].tolist() for c in wanted}
    out, start = [], 0
    for child, sessions in items:
        derived: dict[str, Resource] = {}
        for k, s in enumerate(sessions):
            row = {c: values[start + k] for c, values in columns.items()}
            for resource in derived_observations(child, s, row, bands):
                derived[resource["id"]] = resource
        out.append(Scored(points_from_columns(child, sessions, points, start), derived))
        start += len(sessions)
    return out


def derived_id(child_id: str, session_key: str, code: str) -> str:
    """Deterministic id of the score ``code`` of one session (recomputing never duplicates)."""
    digest = hashlib.sha1(f"{child_id}|{session_key}".encode()).hexdigest()[:24]
    return f"gs-{digest}-{code}"


def derived_observations(
    child: ChildInfo, session: Session, row: dict[str, Any], bands: InterpretationTable
) -> list[Resource]:
    """The ``hb-growth-score`` Observations of one scored session: one per indicator, its
    z-score with its percentile as the component; the ``interpretation`` of each comes from
    ``bands`` (rule table ``growth-interpretation``)."""
    inputs = dict(session.inputs)
    reference = _REFERENCE.get(str(row.get("reference")))
    if reference is None:
        return []
    cage = _num(row.get("cage_days"))
    corrected = cage is not None and cage != (session.on - child.birth_date).days
    out: list[Resource] = []
    for indicator, zcol, pcol, fcol, uses in _INDICATORS:
        z = _num(row.get(zcol))
        if z is None or any(q not in inputs for q in uses):
            continue
        if indicator == "wfl" and (cage is None or cage >= _LENGTH_UNTIL_DAYS):
            indicator = "wfh"
        flagged = bool(_num(row.get(fcol)))
        sources = [inputs[q] for q in uses]
        out.append(
            _observation(
                child,
                session,
                indicator,
                z,
                _num(row.get(pcol)),
                bands.interpret(z),
                reference,
                sources,
                flagged=flagged,
                corrected=corrected,
                cage=cage,
            )
        )
    return out


def _observation(
    child: ChildInfo,
    session: Session,
    indicator: str,
    z: float,
    percentile: float | None,
    interpreted: tuple[str, str],
    reference: tuple[str, str],
    sources: list[str],
    *,
    flagged: bool,
    corrected: bool,
    cage: float | None,
) -> Resource:
    """One indicator's score: the z-score, with its percentile (if any) as the component."""
    code = f"{indicator}-z"
    interp, interp_display = interpreted
    notes = []
    if corrected and cage is not None:
        notes.append(
            f"Scored at corrected age {int(cage)} days "
            f"(gestational age {child.gestational_weeks} weeks)."
        )
    if flagged:
        notes.append("Biologically implausible value (WHO flag): re-measure. 数值不合理，请复测。")
    resource: Resource = {
        "resourceType": "Observation",
        "id": derived_id(child.child_id, session.key, code),
        "meta": {"profile": [GROWTH_SCORE_PROFILE]},
        "identifier": [
            {"system": SID_GROWTH_SCORE, "value": f"{child.child_id}|{session.key}|{code}"}
        ],
        "status": "final",
        "category": [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "exam"}]}],
        "code": {"coding": [{"system": t.CS_GROWTH_INDICATOR, "code": code}]},
        "subject": {"reference": f"Patient/{child.child_id}"},
        "effectiveDateTime": session.when,
        "valueQuantity": {"value": z, "unit": "SD", "system": t.UCUM, "code": "{Z-score}"},
        "interpretation": [
            {"coding": [{"system": V3_INTERPRETATION, "code": interp, "display": interp_display}]}
        ],
        "method": {
            "coding": [
                {"system": CS_GROWTH_REFERENCE, "code": reference[0], "display": reference[1]}
            ]
        },
        "derivedFrom": [{"reference": f"Observation/{i}"} for i in sorted(set(sources))],
    }
    if percentile is not None:
        resource["component"] = [
            {
                "code": {"coding": [{"system": t.CS_GROWTH_INDICATOR, "code": f"{indicator}-p"}]},
                "valueQuantity": {"value": percentile, "unit": "%", "system": t.UCUM, "code": "%"},
            }
        ]
    if flagged:
        resource["meta"]["tag"] = [{"system": CS_PIPELINE_TAG, "code": "implausible"}]
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    return resource


def is_derived(resource: Resource) -> bool:
    """A growth score written by this pipeline (never a trigger)."""
    for coding in (resource.get("code") or {}).get("coding") or ():
        if coding.get("system") == t.CS_GROWTH_INDICATOR:
            return True
    return False


def same_content(a: Resource, b: Resource) -> bool:
    """Equal apart from ``meta.versionId``/``meta.lastUpdated``."""

    def strip(r: Resource) -> Resource:
        meta = {
            k: v for k, v in (r.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")
        }
        return {**r, "meta": meta}

    return strip(a) == strip(b)
