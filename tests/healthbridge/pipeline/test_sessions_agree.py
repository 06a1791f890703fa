"""The write-time pipeline (extract.growth_sessions, one child's documents) and the batch read
(pandas, every child at once) pair the same measurements into the same sessions with the same
values in kg/cm — whatever the units (known, unknown) and the encounter reference forms
(healthbridge.fhir.facts). The derived scores' ``derivedFrom`` is built from these pairs."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from healthbridge import terminology as t
from healthbridge.fhir import facts
from healthbridge.inputs import extract as x
from healthbridge.pipeline import batch_frames

_CODES = sorted(facts.GROWTH_QUANTITY)
_UNITS = ["kg", "g", "[lb_av]", "cm", "mm", "[in_i]", "lb", None]
_ENCOUNTERS = [
    None,
    "Encounter/e1",
    "Encounter/e1/_history/3",
    "https://other.example/fhir/Encounter/e1",  # foreign: no encounter of ours
    "Encounter/e2",
    "#e1",
]


@st.composite
def observations(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(0, 10))
    out = []
    for k in range(n):
        encounter = draw(st.sampled_from(_ENCOUNTERS))
        unit = draw(st.sampled_from(_UNITS))
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"o{k}",
            "status": draw(st.sampled_from(["final", "amended", "entered-in-error"])),
            "code": {"coding": [{"system": t.LOINC, "code": draw(st.sampled_from(_CODES))}]},
            "subject": {"reference": draw(st.sampled_from(["Patient/k", "Patient/k/_history/1"]))},
            "effectiveDateTime": draw(st.sampled_from(["2026-03-01", "2026-03-02T09:00:00+08:00"])),
            "valueQuantity": {
                "value": draw(st.floats(1, 2000, allow_nan=False)),
                **({"code": unit} if unit else {}),
            },
            "meta": {"lastUpdated": draw(st.sampled_from(["2026-03-02T01:00:00Z", "2026-03-03"]))},
        }
        if encounter:
            obs["encounter"] = {"reference": encounter}
        out.append(obs)
    return out


def _raw(docs: list[dict[str, Any]]) -> pd.DataFrame:
    """What dbframes.fields returns for batch_frames.OBSERVATION's paths."""
    rows = []
    for d in docs:
        rows.append(
            {
                "res_id": d["id"],
                "status": d["status"],
                "coding": d["code"]["coding"],
                "subject": d["subject"]["reference"],
                "effective": d["effectiveDateTime"],
                "period_start": None,
                "value": d["valueQuantity"]["value"],
                "unit": d["valueQuantity"].get("code"),
                "concept": None,
                "encounter": (d.get("encounter") or {}).get("reference"),
                "written": d["meta"]["lastUpdated"],
            }
        )
    columns = ["res_id", *batch_frames.OBSERVATION]
    return pd.DataFrame(rows, columns=columns).astype(object)


@settings(max_examples=150, deadline=None)
@given(docs=observations())
def test_batch_sessions_equal_the_write_time_sessions(docs: list[dict[str, Any]]) -> None:
    scalar = {
        s.key: (s.weight_kg, s.lenhei_cm, s.headc_cm, dict(s.inputs))
        for s in x.growth_sessions(docs)
    }
    frame = batch_frames.sessions(
        batch_frames.observations(batch_frames.compact_observations(_raw(docs)), {"k"})
    )
    vector = {}
    for row in frame.itertuples(index=False):
        inputs = {
            q: getattr(row, f"{q}_id")
            for q in ("weight", "lenhei", "headc")
            if isinstance(getattr(row, f"{q}_id"), str)
        }
        values = tuple(
            None if (v is None or (isinstance(v, float) and math.isnan(v))) else v
            for v in (row.weight, row.lenhei, row.headc)
        )
        vector[row.key] = (*values, inputs)
    assert set(vector) == set(scalar)
    for key, (w, lh, hc, inputs) in scalar.items():
        vw, vlh, vhc, vinputs = vector[key]
        assert vinputs == inputs, key
        for a, b in ((w, vw), (lh, vlh), (hc, vhc)):
            assert (a is None and b is None) or math.isclose(a, b), key  # type: ignore[arg-type]
