"""A full district read from the typed rule-input table equals the read from the documents.

:func:`healthbridge.district.gather.gather` reads a whole district from the rule-input table
(:mod:`healthbridge.store.rule_inputs`); the oracle (tests/healthbridge/district/
document_read.py) reads it from the stored JSON. Both apply the same rules, so every frame and
every report must be identical — on the demo district, after random writes of every kind a
district sees, on resources in the less common shapes FHIR allows (absolute and versioned
references, several codings of one CodeSystem, partial dates, a period instead of a
dateTime), and when the table is stale (then it is rebuilt before the read).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from healthbridge import terminology as t
from healthbridge.demo.load import load_demo
from healthbridge.district.cache import DistrictCache
from healthbridge.district.gather import gather
from healthbridge.store import rule_inputs as ri
from healthbridge.store.repository import Repository
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN
from tests.healthbridge.district.document_read import read_documents
from tests.healthbridge.district.test_gather_refresh import CONTEXT, Writer, _all, assert_same


@pytest.fixture
def district(repository: Repository) -> Iterator[Repository]:
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    return repository


def _sources_agree(repo: Repository, *, reports: bool = True) -> None:
    table = gather(repo)
    documents = read_documents(repo)
    assert len(table.measurements)
    assert len(table.checkups)
    assert len(table.vaccinations)
    assert_same(table, documents, reports=reports)


#: The base the writes below come in on (absolute references under it are ours).
OUR_BASE = "https://hb.example.org/fhir"


def _put(repo: Repository, *resources: dict[str, Any]) -> None:
    with repo.transaction(replace(CONTEXT, base_url=OUR_BASE)) as txn:
        for r in resources:
            txn.update(r["resourceType"], r["id"], {k: v for k, v in r.items() if k != "meta"})


def test_the_table_is_current_after_loading(district: Repository, cache: DistrictCache) -> None:
    with district.engine.connect() as conn:
        assert ri.is_current(conn)
    cache.gather(district)
    assert cache.last.mode == "full"
    assert not cache.last.rebuilt


def test_table_and_documents_agree_on_the_demo_district(district: Repository) -> None:
    _sources_agree(district)


@pytest.mark.parametrize("seed", [4, 9])
def test_table_and_documents_agree_after_random_writes(
    district: Repository, cache: DistrictCache, seed: int
) -> None:
    """Every write keeps the table in step (the store writes its rows in the same
    transaction); the cached refresh, the table read and the document read stay equal."""
    cache.gather(district)
    writer = Writer(district, random.Random(seed))
    for step in range(10):
        writer.any()
        refreshed = cache.gather(district)
        assert cache.last.mode == "incremental"
        table = gather(district)
        assert_same(table, read_documents(district))
        assert_same(refreshed, table, reports=step % 5 == 4)


def _first(repo: Repository, rtype: str, suffix: str) -> dict[str, Any]:
    return next(
        r for r in sorted(_all(repo, rtype), key=lambda r: r["id"]) if r["id"].endswith(suffix)
    )


def test_sources_agree_on_unusual_shapes(district: Repository) -> None:
    """Shapes valid in FHIR R4 that the two sources could read differently if their rules
    drifted apart: each one is written through the store, then both reads compared."""
    weight = _first(district, "Observation", "-wt")
    length = _first(district, "Observation", "-len")
    child = weight["subject"]["reference"].split("/")[1]
    checkup = next(
        r for r in sorted(_all(district, "Encounter"), key=lambda r: r["id"]) if Writer._checkup(r)
    )
    dose = sorted(_all(district, "Immunization"), key=lambda r: r["id"])[0]
    #: (resource, frame, rows it adds there)
    written: list[tuple[dict[str, Any], str, int]] = []

    # an absolute reference to the child on this server and a versioned reference to the
    # encounter; the same child's id on a foreign server is not our child
    obs = copy.deepcopy(weight)
    obs["id"] = "obs-absolute"
    obs["subject"] = {"reference": f"{OUR_BASE}/Patient/{child}"}
    obs["encounter"] = {"reference": f"Encounter/{checkup['id']}/_history/1"}
    # the versioned reference names the checkup's encounter: a re-measurement at that visit
    written.append((obs, "measurements", 0))
    obs = copy.deepcopy(weight)
    obs["id"] = "obs-foreign"
    obs["subject"] = {"reference": f"http://example.org/fhir/Patient/{child}"}
    written.append((obs, "measurements", 0))
    # a measurement dated by a period, no encounter
    obs = copy.deepcopy(length)
    obs["id"] = "obs-period"
    obs.pop("effectiveDateTime", None)
    obs.pop("encounter", None)
    obs["effectivePeriod"] = {
        "start": "2026-03-04T10:00:00+08:00",
        "end": "2026-03-04T10:05:00+08:00",
    }
    written.append((obs, "measurements", 1))
    # a partial date: no day, so no measurement
    obs = copy.deepcopy(weight)
    obs["id"] = "obs-partial"
    obs["effectiveDateTime"] = "2026-03"
    written.append((obs, "measurements", 0))
    # a height coded twice in LOINC (the first non-empty code counts) with an integer value
    obs = copy.deepcopy(length)
    obs["id"] = "obs-two-codes"
    obs["code"] = {
        "coding": [
            {"system": t.LOINC, "code": t.LOINC_BODY_HEIGHT},
            {"system": t.LOINC, "code": t.LOINC_BODY_LENGTH},
        ]
    }
    obs["valueQuantity"] = {**obs["valueQuantity"], "value": 91}
    written.append((obs, "measurements", 0))
    # a checkup coded twice in checkup-visit (the last coding counts), dated by a partial start
    enc = copy.deepcopy(checkup)
    enc["id"] = "enc-two-visits"
    codings = enc["type"][0]["coding"]
    visit = next(c for c in codings if c.get("system") == t.CS_CHECKUP_VISIT)
    enc["type"] = [*enc["type"], {"coding": [{**visit, "code": "checkup-24m"}]}]
    written.append((enc, "checkups", 1))
    enc = copy.deepcopy(checkup)
    enc["id"] = "enc-partial"
    enc["period"] = {"start": "2026-05"}
    written.append((enc, "checkups", 0))
    enc = copy.deepcopy(checkup)
    enc["id"] = "enc-absolute"
    enc["subject"] = {"reference": f"{OUR_BASE}/Patient/{child}"}
    written.append((enc, "checkups", 1))
    # a dose coded twice in nip-vaccine (the last coding counts), an absolute patient
    imm = copy.deepcopy(dose)
    imm["id"] = "imm-two-codes"
    nip = next(c for c in imm["vaccineCode"]["coding"] if c.get("system") == t.CS_NIP_VACCINE)
    imm["vaccineCode"] = {
        "coding": [*imm["vaccineCode"]["coding"], {**nip, "code": "MMR"}],
    }
    imm["patient"] = {"reference": f"{OUR_BASE}/Patient/{child}"}
    written.append((imm, "vaccinations", 1))
    # a dose without a dose number, and one with a partial date
    imm = copy.deepcopy(dose)
    imm["id"] = "imm-no-dose"
    imm.pop("protocolApplied", None)
    written.append((imm, "vaccinations", 0))
    imm = copy.deepcopy(dose)
    imm["id"] = "imm-partial"
    imm["occurrenceDateTime"] = "2025"
    written.append((imm, "vaccinations", 0))
    for resource, frame, added in written:
        before = len(getattr(gather(district), frame))
        _put(district, resource)
        _sources_agree(district, reports=False)
        after = len(getattr(gather(district), frame))
        assert after - before == added, resource["id"]
    _sources_agree(district)
    # the shapes were read as the rules say (so the comparison is not vacuous)
    frames = gather(district)
    two = frames.measurements.loc[frames.measurements["lenhei_cm"] == 91.0]
    assert two["measure"].tolist() == ["h"]
    visits = frames.checkups.loc[frames.checkups["child_id"] == child, "visit_code"]
    assert "checkup-24m" in set(visits)


def _make_stale(repo: Repository) -> None:
    with repo.engine.begin() as conn:
        ri.mark_built(conn, None)


def test_a_stale_table_is_rebuilt_before_the_read(
    district: Repository, cache: DistrictCache
) -> None:
    """Rows missing and the table marked incomplete (an interrupted rebuild): the district
    read rebuilds the table first, so it never reads an incomplete one."""
    want = read_documents(district)
    with district.engine.begin() as conn:
        conn.execute(text("DELETE FROM rule_input WHERE res_type = 'Observation'"))
    _make_stale(district)
    assert_same(gather(district), want, reports=True)
    with district.engine.connect() as conn:
        assert ri.is_current(conn)
    _make_stale(district)
    Writer(district, random.Random(2)).session()
    assert_same(cache.gather(district), read_documents(district))
    assert cache.last.mode == "full"
    assert cache.last.rebuilt
    cache.gather(district)
    assert not cache.last.rebuilt


def test_an_old_extractor_version_is_rebuilt(district: Repository, cache: DistrictCache) -> None:
    with district.engine.begin() as conn:
        ri.mark_built(conn, ri.EXTRACTOR_VERSION - 1)
        conn.execute(text("UPDATE rule_input SET code = 'old' WHERE res_type = 'Immunization'"))
    assert_same(cache.gather(district), read_documents(district), reports=True)
    assert cache.last.rebuilt
    with district.engine.connect() as conn:
        assert ri.built_version(conn) == ri.EXTRACTOR_VERSION


def test_the_table_read_uses_the_table(district: Repository) -> None:
    """The table read really reads the table: a value changed in it alone shows."""
    with district.engine.begin() as conn:
        rid = conn.execute(
            text(
                "SELECT res_id FROM rule_input WHERE res_type = 'Observation'"
                " AND code = :c ORDER BY res_id LIMIT 1"
            ),
            {"c": t.LOINC_BODY_WEIGHT},
        ).scalar_one()
        conn.execute(
            text(
                "UPDATE rule_input SET value = 123.25"
                " WHERE res_type = 'Observation' AND res_id = :i"
            ),
            {"i": rid},
        )
    table = gather(district)
    documents = read_documents(district)
    assert 123.25 in set(table.measurements["weight_kg"])
    assert 123.25 not in set(documents.measurements["weight_kg"])
    assert json.dumps(sorted(table.measurements.columns)) == json.dumps(
        sorted(documents.measurements.columns)
    )
