"""district/screening.py: the screening results the coverage figures count, read from the store
through the pipeline's extractors (screening and Hb Observations, warning-sign responses)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from healthbridge import terminology as t
from healthbridge.clinical.ruleset import load_ruleset
from healthbridge.district.screening import screening_frames
from tests.healthbridge.pipeline.conftest import (  # noqa: F401 (the pclient fixture)
    child,
    measurement,
    pclient,
    pipeline_mode,
    put,
)
from tests.healthbridge.pipeline.test_screening import screening_obs

ON = dt.date(2026, 10, 1)


def test_screening_frames_read_every_kind(pclient: TestClient) -> None:  # noqa: F811
    rules = load_ruleset("cn-child-health", "2026.1")
    put(pclient, child("c1", dt.date(2025, 1, 1)))
    put(pclient, child("c2", dt.date(2025, 2, 1)))
    put(pclient, screening_obs("s1", "c1", "hearing", ON, "pass"))
    void = screening_obs("s2", "c2", "eye", ON, "refer")
    void["status"] = "entered-in-error"
    put(pclient, void)
    put(pclient, measurement("h1", "c2", t.LOINC_HAEMOGLOBIN, 112, ON))
    put(pclient, measurement("w1", "c2", t.LOINC_BODY_WEIGHT, 9.5, ON))
    put(pclient, {
        "resourceType": "QuestionnaireResponse", "id": "q1", "status": "completed",
        "questionnaire": f"{t.CANONICAL_BASE}/Questionnaire/warning-signs",
        "subject": {"reference": "Patient/c1"}, "authored": ON.isoformat(),
        "item": [{"linkId": "group-18m", "item": [{"linkId": "18m-1",
                                                   "answer": [{"valueBoolean": True}]}]}],
    })  # fmt: skip
    frame, ages = screening_frames(pclient.app.state.repository, rules)  # type: ignore[attr-defined]
    rows = {(r.child_id, r.screening) for r in frame.itertuples()}
    assert rows == {("c1", "hearing"), ("c2", "haemoglobin"), ("c1", "warning-positive")}
    assert set(frame["date"]) == {ON}
    hearing = ages.set_index("screening").loc["hearing"]
    assert round(hearing["from_days"]) == 183
    assert round(hearing["to_days"]) == round(3 * 365.25 + 365.25)
    assert "development" not in set(ages["screening"])  # not scheduled by age
