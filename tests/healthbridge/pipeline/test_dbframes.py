"""The field-wise batch reader gives the frames the per-resource extraction gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from healthbridge import terminology as t
from healthbridge.clinical.evaluate import evaluate_district
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import DistrictData
from healthbridge.inputs import dbframes as dbf
from healthbridge.pipeline import parse_ruleset_key
from healthbridge.pipeline.batch import evaluate_database, read_district
from healthbridge.store.hooks import SYSTEM_CONTEXT
from healthbridge.store.models import ResourceVersionRow
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline import reference_read
from tests.healthbridge.pipeline.conftest import (
    RULESET,
    child,
    days_ago,
    measurement,
    organization,
    put,
    today,
)
from tests.healthbridge.pipeline.test_batch import load_demo

FRAMES = (
    "children",
    "growth",
    "checkups",
    "doses",
    "daily_checks",
    "haemoglobin",
    "screenings",
    "enrolments",
    "tb_tests",
    "screening_results",
)


def _sorted(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[columns].sort_values(columns[:3], kind="stable").reset_index(drop=True)


def assert_same_frames(new: DistrictData, old: DistrictData) -> None:
    for name in FRAMES:
        expected = getattr(old, name)
        columns = list(expected.columns)
        pd.testing.assert_frame_equal(
            _sorted(getattr(new, name), columns),
            _sorted(expected, columns),
            check_dtype=False,
            obj=name,
        )


def _edge_cases(client: TestClient) -> None:
    """Records that exercise each extraction rule: unit conversions, a re-measurement in one
    encounter (the later write wins), a void record, pairing by day without an encounter,
    a period-dated observation, a g/dL haemoglobin, a morning check with symptoms."""
    put(client, organization("org-edge"))
    put(client, child("edge-1", days_ago(400), centre="org-edge", klass="room-edge"))
    on = days_ago(30)
    put(client, measurement("e-wt", "edge-1", t.LOINC_BODY_WEIGHT, 9.1, on, encounter="enc-e"))
    put(client, measurement("e-len", "edge-1", t.LOINC_BODY_LENGTH, 752, on, unit="mm",
                            encounter="enc-e"))  # fmt: skip
    put(client, measurement("e-wt2", "edge-1", t.LOINC_BODY_WEIGHT, 9300, on, unit="g",
                            encounter="enc-e"))  # fmt: skip
    day = days_ago(10)
    put(client, measurement("e-d-wt", "edge-1", t.LOINC_BODY_WEIGHT, 9.6, day))
    put(client, measurement("e-d-ht", "edge-1", t.LOINC_BODY_HEIGHT, 77.0, day))
    put(client, measurement("e-void", "edge-1", t.LOINC_BODY_WEIGHT, 2.0, day,
                            status="entered-in-error"))  # fmt: skip
    period = measurement("e-hc", "edge-1", t.LOINC_HEAD_CIRCUMFERENCE, 45.5, days_ago(5))
    period["effectivePeriod"] = {"start": period.pop("effectiveDateTime")}
    put(client, period)
    put(client, measurement("e-hb", "edge-1", t.LOINC_HAEMOGLOBIN, 9.8, day, unit="g/dL"))
    put(client, measurement("e-t1", "edge-1", t.LOINC_BODY_TEMPERATURE, 37.9, today()))
    put(client, measurement("e-t2", "edge-1", t.LOINC_BODY_TEMPERATURE, 38.4, today()))
    symptom = measurement("e-s1", "edge-1", "75325-1", 0, today())
    del symptom["valueQuantity"]
    symptom["category"] = [{"coding": [{"system": t.OBSERVATION_CATEGORY, "code": "survey"}]}]
    symptom["valueCodeableConcept"] = {"coding": [{"system": t.CS_SYMPTOM, "code": "cough"}]}
    put(client, symptom)


def test_reader_matches_the_per_resource_reference(
    pclient: TestClient, repository: Repository
) -> None:
    load_demo(pclient, 8)
    _edge_cases(pclient)
    new = read_district(repository)
    old = reference_read.district_data(reference_read.read_district(repository))
    assert_same_frames(new.data, old)
    growth = new.data.growth.set_index("observation_id")
    assert growth.loc["e-wt2", "weight"] == pytest.approx(9.3)  # the later write, in grams
    assert "e-d-wt" in growth.index
    assert "e-wt" not in growth.index
    assert "e-void" not in growth.index
    assert new.data.haemoglobin.set_index("observation_id").loc["e-hb", "hb_g_l"] == 98.0
    checks = new.data.daily_checks.set_index("check_id")
    assert checks.loc["e-s1", "temperature_c"] == 38.4
    assert checks.loc["e-s1", "symptoms"] == ("cough",)
    rules = parse_ruleset_key(RULESET)
    assert frame_to_findings(evaluate_district(new.data, rules, today())) == frame_to_findings(
        evaluate_district(old, rules, today())
    )


def test_an_unchanged_district_writes_nothing(pclient: TestClient, repository: Repository) -> None:
    load_demo(pclient, 5)
    rules = parse_ruleset_key(RULESET)

    def versions() -> int:
        with repository.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(ResourceVersionRow)).scalar_one()
            )

    before = versions()
    report = evaluate_database(repository, rules, today())
    assert sum(report.actions.values()) == 0
    assert versions() == before


def test_fields_reads_json_types(pclient: TestClient, repository: Repository) -> None:
    put(pclient, child("f-1", dt.date(2025, 1, 2), weeks=34.5))
    put(pclient, child("f-2", dt.date(2025, 3, 4)))
    paths = {"birth": "$.birthDate", "ext": "$.extension[0].valueQuantity.value", "x": "$.nope"}
    with repository.engine.connect() as conn:
        whole = dbf.fields(conn, "Patient", paths).set_index("res_id")
    assert whole.loc["f-1", "birth"] == "2025-01-02"
    assert whole.loc["f-1", "ext"] == 34.5
    assert whole.loc["f-2", "ext"] is None
    assert whole.loc["f-1", "x"] is None


def test_documents_are_the_current_stored_resources(
    pclient: TestClient, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole documents as the store reads them: current versions only, deleted ones left
    out, and the same for every chunk of a ``res_ids`` read."""
    for k in range(5):
        put(pclient, child(f"d-{k}", dt.date(2025, 1, 2 + k)))
    put(pclient, child("d-1", dt.date(2024, 12, 31)))  # a second version
    assert pclient.delete("/fhir/Patient/d-4").status_code in (200, 204)
    monkeypatch.setattr(dbf, "ID_CHUNK", 2)  # several chunks from five ids
    with repository.engine.connect() as conn:
        every = {d["id"]: d for d in dbf.documents(conn, "Patient")}
        some = dbf.documents(conn, "Patient", res_ids=["d-0", "d-1", "d-3", "d-4", "none"])
    with repository.transaction(SYSTEM_CONTEXT, write=False) as txn:
        expected = {f"d-{k}": txn.read("Patient", f"d-{k}").resource for k in range(4)}
    assert every == expected
    assert sorted(d["id"] for d in some) == ["d-0", "d-1", "d-3"]
    assert every["d-1"]["birthDate"] == "2024-12-31"


@pytest.mark.parametrize("path", ["code.coding", "$.a'b", "$.a[x]", "$..a"])
def test_unsupported_paths_are_refused(path: str) -> None:
    with pytest.raises(dbf.UnsupportedPathError):
        dbf._steps(path)


def test_helpers_follow_the_per_resource_rules() -> None:
    refs: list[Any] = [
        "Patient/a",
        "http://x/fhir/Patient/b",  # a foreign server's Patient: not one of ours
        "Patient/", "Group/c", None, 3, "Patient/d/_history/2",
    ]  # fmt: skip
    assert dbf.ref_ids(refs, "Patient") == ["a", None, None, None, None, None, "d"]
    loinc = {"system": t.LOINC, "code": "1-1"}
    other = {"system": "urn:x", "code": "z"}
    arrays: list[Any] = [[other, loinc, {"system": t.LOINC, "code": "2-2"}], [], None]
    assert dbf.coded(arrays, t.LOINC) == ["1-1", None, None]
    assert dbf.coded(arrays, t.LOINC, last=True) == ["2-2", None, None]
    assert dbf.all_codes(arrays[0], t.LOINC) == ("1-1", "2-2")
    days = dbf.days(["2026-01-31T23:30:00+08:00", "2026-02-30", "2026", None])
    assert days.iloc[0] == pd.Timestamp("2026-01-31")
    assert days.iloc[1:].isna().all()
    numbers = dbf.numbers([1, 2.5, True, "3", None, float("inf")])
    assert numbers.iloc[:2].tolist() == [1.0, 2.5]
    assert numbers.iloc[2:].isna().all()


def test_postgresql_parses_each_document_once_whatever_the_number_of_paths(
    repository: Repository,
) -> None:
    """The sub-SELECT that casts the content to ``jsonb`` is fenced: pulled up, the cast is
    copied into every path (the plan's output lists it once per path) and each copy
    detoasts and parses the whole document again."""
    if repository.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL query plans")
    paths = ["$.status", "$.subject.reference", "$.code", "$.extension"]
    stmt = dbf._statement("postgresql", paths, False).replace("%s", "'Flag'")
    with repository.engine.connect() as conn:
        plan = "\n".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN VERBOSE " + stmt))
    assert plan.count("::jsonb") == 1, plan
