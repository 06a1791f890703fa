"""The rule-input table gives the batch reader exactly what the stored documents give.

``read_district(source="table")`` (typed columns kept at write time,
healthbridge.store.rule_inputs) is compared with ``source="documents"`` (fields extracted
from the stored JSON) and with the per-resource reference (tests/.../reference_read.py), on
the demo district plus records that exercise every extraction rule: several codings, missing
and partial values, void, updated and deleted records, a preterm child, time zones, absolute
references, screenings with nested answers. Both backends (the ``repository`` fixture).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from healthbridge import terminology as t
from healthbridge.fhir.screening_result import ScreeningEntry, screening_observations
from healthbridge.pipeline.batch import DistrictRead, read_district
from healthbridge.pipeline.batch_write import _encounter_docs
from healthbridge.pipeline.errors import PipelineConfigError
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository
from tests.healthbridge.pipeline import reference_read
from tests.healthbridge.pipeline.conftest import (
    FHIR_JSON,
    child,
    days_ago,
    immunization,
    measurement,
    organization,
    put,
    today,
)
from tests.healthbridge.pipeline.test_batch import load_demo
from tests.healthbridge.pipeline.test_dbframes import _edge_cases, assert_same_frames

WARNING_SIGNS = f"{t.CANONICAL_BASE}/Questionnaire/warning-signs"


def encounter(
    eid: str,
    cid: str,
    on: str,
    visits: list[list[str]],
    *,
    status: str = "finished",
    doctor: str | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": eid,
        "status": status,
        "class": {"system": t.V3_ACT_CODE, "code": "AMB"},
        "subject": {"reference": f"Patient/{cid}"},
        "period": {"start": on},
    }
    types = [  # no empty arrays (ele-1): an Encounter without visit codes has no type
        {"coding": [{"system": t.CS_CHECKUP_VISIT, "code": code} for code in concept]}
        for concept in visits
        if concept
    ]
    if types:
        resource["type"] = types
    if doctor:
        resource["participant"] = [{"individual": {"reference": f"Practitioner/{doctor}"}}]
    if provider:
        resource["serviceProvider"] = {"reference": f"Organization/{provider}"}
    return resource


def screening(
    qid: str, cid: str, on: str, answers: dict[str, bool], *, status: str = "completed"
) -> Any:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": qid,
        "questionnaire": WARNING_SIGNS,
        "status": status,
        "subject": {"reference": f"Patient/{cid}"},
        "authored": on,
        "item": [
            {
                "linkId": "group",
                "item": [
                    {"linkId": link, "answer": [{"valueBoolean": value}]}
                    for link, value in answers.items()
                    if link != "regression"
                ],
            },
            {
                "linkId": "regression",
                "answer": [{"valueBoolean": answers.get("regression", False)}],
            },
        ],
    }


def _more_edge_cases(client: TestClient) -> None:
    """Codings in several orders, partial/missing values, time zones, absolute references,
    updates, deletions, void records, a preterm child, a Patient that is not a child,
    encounters and screenings."""
    put(client, organization("org-e2"))
    put(client, {"resourceType": "Practitioner", "id": "doc-e", "name": [{"text": "医生"}]})
    preterm = child("edge-2", days_ago(200), gender="female", weeks=33.5)
    put(client, preterm)
    put(client, {"resourceType": "Patient", "id": "edge-adult", "gender": "male"})  # no birth
    on = days_ago(20)
    wt = measurement("e2-wt", "edge-2", t.LOINC_BODY_WEIGHT, 6.1, on)
    wt["code"]["coding"].insert(0, {"system": "urn:other", "code": "w"})  # LOINC second
    put(client, wt)
    two = measurement("e2-ht", "edge-2", t.LOINC_BODY_LENGTH, 61.0, on)
    two["code"]["coding"].append({"system": t.LOINC, "code": t.LOINC_BODY_HEIGHT})  # first wins
    put(client, two)
    late = measurement("e2-late", "edge-2", t.LOINC_BODY_WEIGHT, 6.4, on)
    late["effectiveDateTime"] = f"{days_ago(10).isoformat()}T23:30:00-05:00"  # as written
    put(client, late)
    partial = measurement("e2-part", "edge-2", t.LOINC_BODY_WEIGHT, 6.2, on)
    partial["effectiveDateTime"] = on.isoformat()[:7]  # a month: no day
    put(client, partial)
    absent = measurement("e2-none", "edge-2", t.LOINC_BODY_WEIGHT, 0, days_ago(9))
    del absent["valueQuantity"]
    absent["dataAbsentReason"] = {"text": "refused"}
    put(client, absent)
    absolute = measurement("e2-abs", "edge-2", t.LOINC_HAEMOGLOBIN, 101, days_ago(8))
    absolute["subject"] = {"reference": "http://testserver/fhir/Patient/edge-2"}  # this server
    put(client, absolute)
    foreign = measurement("e2-foreign", "edge-2", t.LOINC_HAEMOGLOBIN, 99, days_ago(8))
    foreign["subject"] = {"reference": "http://example.org/fhir/Patient/edge-2"}  # not ours
    put(client, foreign)
    versioned = measurement("e2-ver", "edge-2", t.LOINC_HAEMOGLOBIN, 98, days_ago(7))
    versioned["subject"] = {"reference": "Patient/edge-2/_history/1"}
    put(client, versioned)
    put(client, measurement("e2-adult", "edge-adult", t.LOINC_BODY_WEIGHT, 70.0, on))
    put(client, measurement("e2-upd", "edge-2", t.LOINC_HEAD_CIRCUMFERENCE, 40.0, days_ago(7)))
    put(client, measurement("e2-upd", "edge-2", t.LOINC_HEAD_CIRCUMFERENCE, 40.4, days_ago(6)))
    put(client, measurement("e2-del", "edge-2", t.LOINC_BODY_WEIGHT, 6.9, days_ago(5)))
    assert client.delete("/fhir/Observation/e2-del").status_code == 204
    other = measurement("e2-other", "edge-2", "8867-4", 120, days_ago(5))  # not a rule input
    put(client, other)
    # immunizations: the last nip-vaccine coding counts; void and absolute references
    given = immunization("e2-imm1", "edge-2", "HepB", days_ago(199), 1)
    given["vaccineCode"]["coding"].insert(0, {"system": t.CVX, "code": "08"})
    given["vaccineCode"]["coding"].append({"system": t.CS_NIP_VACCINE, "code": "BCG"})
    put(client, given)
    void = immunization("e2-imm2", "edge-2", "HepB", days_ago(150), 2)
    void["status"] = "entered-in-error"
    put(client, void)
    far = immunization("e2-imm3", "edge-2", "HepB", days_ago(140), 2)
    far["patient"] = {"reference": "http://testserver/fhir/Patient/edge-2"}
    far["occurrenceDateTime"] = f"{days_ago(140).isoformat()}T23:00:00-10:00"
    put(client, far)
    # encounters: the last checkup-visit code of all type concepts; cancelled; routing fields
    put(
        client,
        encounter(
            "e2-enc1",
            "edge-2",
            f"{days_ago(170).isoformat()}T10:00:00+08:00",
            [["1m"], ["1m", "3m"]],
            doctor="doc-e",
            provider="org-e2",
        ),
    )
    put(
        client,
        encounter("e2-enc2", "edge-2", days_ago(60).isoformat(), [["6m"]], status="cancelled"),
    )
    put(client, encounter("e2-enc3", "edge-2", f"{days_ago(30).isoformat()}T08:00:00Z", []))
    put(client, encounter("e2-enc4", "edge-2", days_ago(29).isoformat(), [["8m"]]))
    put(client, encounter("e2-enc4", "edge-2", days_ago(28).isoformat(), [["8m"]], doctor="doc-e"))
    # screenings: nested answers, regression, other statuses and questionnaires
    now = f"{days_ago(3).isoformat()}T09:30:00+08:00"
    put(
        client,
        screening("e2-qr1", "edge-2", now, {"12m-1": True, "12m-2": False, "regression": True}),
    )
    put(client, screening("e2-qr2", "edge-2", now, {"12m-3": True}, status="amended"))
    put(client, screening("e2-qr3", "edge-2", now, {"12m-3": True}, status="in-progress"))
    put(client, screening("e2-qr4", "edge-2", days_ago(2).isoformat()[:7], {"12m-3": True}))
    odd = screening("e2-qr5", "edge-2", now, {"12m-4": True})
    odd["questionnaire"] = "http://example.org/Questionnaire/other"
    put(client, odd)
    put(client, screening("e2-qr6", "edge-adult", now, {"12m-4": True}))
    # tuberculin skin tests: the result in the value, else the interpretation; none readable
    for tid, value, interp in [
        ("e2-tst1", [t.SNOMED_NEGATIVE], None),
        ("e2-tst2", None, t.V3_POSITIVE),
        ("e2-tst3", [t.SNOMED_POSITIVE], t.V3_NEGATIVE),  # the value wins
        ("e2-tst4", [t.SNOMED_NEGATIVE, t.SNOMED_POSITIVE], None),  # both: unreadable
        ("e2-tst5", None, None),  # placed, not read yet
    ]:
        put(client, tb_test(tid, "edge-2", days_ago(4), value, interp))
    void_tst = tb_test("e2-tst6", "edge-2", days_ago(4), [t.SNOMED_NEGATIVE], None)
    void_tst["status"] = "entered-in-error"
    put(client, void_tst)
    with_loinc = tb_test("e2-tst7", "edge-2", days_ago(2), [t.SNOMED_NEGATIVE], None)
    with_loinc["code"]["coding"].insert(0, {"system": t.LOINC, "code": t.LOINC_HAEMOGLOBIN})
    put(client, with_loinc)  # the TST coding decides, whatever LOINC code comes first
    _screening_results(client)


def _screening_results(client: TestClient) -> None:
    """Scheduled-screening results: components of every kind, a void one, one dated in
    another time zone, one with a LOINC coding too, one updated."""
    entries = (
        ScreeningEntry("eye", "refer", (("acuity_left", 0.3), ("acuity_right", 0.5))),
        ScreeningEntry("oral", "pass", (("caries", 2.0), ("teeth", 16.0)), True),
        ScreeningEntry("development", None, (("dev_score", 31.0), ("dev_dq", 84.5)), None, "asq-3"),
        ScreeningEntry("hearing", "pass"),
        ScreeningEntry("hearing", "refer"),
        ScreeningEntry("eye", "pass"),
    )
    docs = screening_observations(
        entries,
        patient={"reference": "Patient/edge-2"},
        encounter={"reference": "Encounter/e2-enc1"},
        when=f"{days_ago(12).isoformat()}T10:00:00+08:00",
        performer=[{"reference": "Practitioner/doc-e"}],
    )
    for n, doc in enumerate(docs):
        doc["id"] = f"e2-scr{n}"
    docs[3]["status"] = "entered-in-error"
    docs[4]["effectiveDateTime"] = f"{days_ago(11).isoformat()}T23:30:00-05:00"  # as written
    docs[5]["code"]["coding"].insert(0, {"system": t.LOINC, "code": "29271-4"})
    for doc in docs:
        put(client, doc)
    docs[1]["component"][0]["valueQuantity"]["value"] = 3  # updated: the new row is read
    put(client, docs[1])


def tb_test(
    tid: str, cid: str, on: dt.date, value: list[str] | None, interp: str | None
) -> dict[str, Any]:
    """A tuberculin skin test Observation (hb-tb-skin-test) with SNOMED result codes
    ``value`` and a v3 interpretation code ``interp``."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": tid,
        "status": "final",
        "code": {"coding": [{"system": t.SNOMED, "code": t.SNOMED_TB_SKIN_TEST}]},
        "subject": {"reference": f"Patient/{cid}"},
        "effectiveDateTime": on.isoformat(),
    }
    if value is not None:
        obs["valueCodeableConcept"] = {"coding": [{"system": t.SNOMED, "code": c} for c in value]}
    if interp is not None:
        obs["interpretation"] = [{"coding": [{"system": t.V3_INTERPRETATION, "code": interp}]}]
    return obs


def _docs(d: DistrictRead) -> dict[str, list[dict[str, Any]]]:
    docs = _encounter_docs(d, set(d.patients))
    return {cid: sorted(items, key=lambda e: str(e["id"])) for cid, items in docs.items()}


def assert_same_read(new: DistrictRead, old: DistrictRead) -> None:
    """Everything ``healthbridge evaluate`` uses from a read is the same."""
    assert_same_frames(new.data, old.data)
    assert new.patients == old.patients
    assert new.n_observations == old.n_observations
    assert new.flags == old.flags
    assert new.tasks == old.tasks
    assert new.managers == old.managers
    assert _docs(new) == _docs(old)
    columns = ["res_type", "res_id", "child_id"]
    pd.testing.assert_frame_equal(
        new.evidence[columns].sort_values(columns).reset_index(drop=True),
        old.evidence[columns].sort_values(columns).reset_index(drop=True),
    )


@pytest.mark.parametrize("demo", [6, 0])
def test_the_table_reads_what_the_documents_say(
    pclient: TestClient, repository: Repository, demo: int
) -> None:
    if demo:
        load_demo(pclient, demo)
    _edge_cases(pclient)
    _more_edge_cases(pclient)
    table = read_district(repository, source="table")
    documents = read_district(repository, source="documents")
    assert (table.source, documents.source) == ("table", "documents")
    assert_same_read(table, documents)
    reference = reference_read.district_data(reference_read.read_district(repository))
    assert_same_frames(table.data, reference)
    # the records above count as the extraction rules say
    growth = table.data.growth.set_index("observation_id")
    assert "e2-wt" in growth.index
    assert "e2-part" not in growth.index
    assert "e2-del" not in growth.index
    assert "e2-adult" not in growth.index
    late = growth.loc["e2-late"]
    assert late["date"] == pd.Timestamp(days_ago(10))  # the local date, not UTC
    sessions = table.data.growth.loc[table.data.growth["child_id"] == "edge-2"]
    assert sessions["age_days"].min() >= 0
    hb = table.data.haemoglobin.set_index("observation_id")
    assert hb.loc["e2-abs", "hb_g_l"] == 101.0
    assert hb.loc["e2-ver", "hb_g_l"] == 98.0
    assert "e2-foreign" not in hb.index
    assert "e2-tst7" not in hb.index
    tst = table.data.tb_tests.set_index("observation_id")["negative"].to_dict()
    assert tst == {"e2-tst1": True, "e2-tst2": False, "e2-tst3": False, "e2-tst7": True}
    doses = table.data.doses.set_index("immunization_id")
    assert doses.loc["e2-imm1", "vaccine"] == "BCG"
    assert "e2-imm2" not in doses.index
    assert "e2-imm3" in doses.index
    checkups = table.data.checkups.set_index("checkup_id")
    assert checkups.loc["e2-enc1", "visit_type"] == "3m"
    assert "e2-enc2" not in checkups.index
    assert "e2-enc3" not in checkups.index
    assert checkups.loc["e2-enc4", "date"] == pd.Timestamp(days_ago(28))
    screens = table.data.screenings.set_index("screening_id")
    assert screens.loc["e2-qr1", "regression"]
    assert set(screens.index) & {"e2-qr1", "e2-qr2", "e2-qr3", "e2-qr4", "e2-qr5"} == {
        "e2-qr1",
        "e2-qr2",
    }
    results = table.data.screening_results.set_index("result_id")
    edge = {i for i in results.index if i.startswith("e2-scr")}
    assert edge == {"e2-scr0", "e2-scr1", "e2-scr2", "e2-scr4", "e2-scr5"}
    assert results.loc["e2-scr1", "caries"] == 3
    assert results.loc["e2-scr4", "on"] == days_ago(11)
    assert "edge-adult" not in table.patients
    assert table.patients["edge-2"].gestational_weeks == 33.5
    enc = {e["id"]: e for e in _docs(table)["edge-2"]}
    assert enc["e2-enc4"]["participant"][0]["individual"]["reference"] == "Practitioner/doc-e"


def test_a_stale_table_is_not_read(pclient: TestClient, repository: Repository) -> None:
    put(pclient, child("s-1", dt.date(2025, 1, 2)))
    put(pclient, measurement("s-wt", "s-1", t.LOINC_BODY_WEIGHT, 9.0, today()))
    assert read_district(repository).source == "table"
    with repository.engine.begin() as conn:
        conn.execute(delete(ri.STATE))
        conn.execute(delete(ri.RULE_INPUT))
    stale = read_district(repository)
    assert stale.source == "documents"
    assert stale.data.growth["observation_id"].tolist() == ["s-wt"]
    with pytest.raises(PipelineConfigError, match="reindex"):
        read_district(repository, source="table")


def test_transaction_bundles_keep_the_table(pclient: TestClient, repository: Repository) -> None:
    """Entries of one transaction, an update and a delete inside it, and a rolled-back Bundle."""
    put(pclient, child("b-1", dt.date(2025, 6, 1)))
    put(pclient, measurement("b-old", "b-1", t.LOINC_BODY_WEIGHT, 8.0, days_ago(9)))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": measurement("b-new", "b-1", t.LOINC_BODY_WEIGHT, 8.5, days_ago(3)),
                "request": {"method": "PUT", "url": "Observation/b-new"},
            },
            {
                "resource": measurement("b-upd", "b-1", t.LOINC_BODY_LENGTH, 70.0, days_ago(3)),
                "request": {"method": "POST", "url": "Observation"},
            },
            {"request": {"method": "DELETE", "url": "Observation/b-old"}},
        ],
    }
    r = pclient.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert r.status_code == 200, r.text
    failing = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": measurement("b-gone", "b-1", t.LOINC_BODY_WEIGHT, 8.7, days_ago(1)),
                "request": {"method": "PUT", "url": "Observation/b-gone"},
            },
            {"request": {"method": "DELETE", "url": "Observation/never-was"}},
        ],
    }
    assert pclient.post("/fhir", json=failing, headers=FHIR_JSON).status_code == 404
    table = read_district(repository, source="table")
    assert_same_read(table, read_district(repository, source="documents"))
    with repository.engine.connect() as conn:
        ids = {
            r.res_id
            for r in conn.execute(
                ri.RULE_INPUT.select().where(ri.RULE_INPUT.c.res_type == "Observation")
            )
        }
    assert "b-new" in ids
    assert "b-old" not in ids
    assert "b-gone" not in ids
    assert len(ids) == 2  # no derived growth scores
