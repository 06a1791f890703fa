"""The incremental refresh of the gathered district equals a full read, write after write.

Random sequences of writes through the store (new measurement sessions, corrected values,
moved, deleted and entered-in-error measurements, a repeated measurement in one encounter,
changed birth dates, sexes and centres, new and deleted children, new centres, vaccinations
and checkups changed or deleted, writes of types the district does not read) are applied to a
small demo district; after each one the cached :func:`gather` (which re-reads only what was
written) must equal a fresh full read exactly, frame for frame and report for report, and must
have taken the incremental path (else the comparison would prove nothing).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text

from healthbridge import terminology as t
from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.demo.load import load_demo
from healthbridge.district import watermark
from healthbridge.district.cache import DistrictCache
from healthbridge.district.frames import DistrictFrames
from healthbridge.district.gather import gather
from healthbridge.district.reports import coverage_report, prevalence_report, records
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import Repository, Transaction
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN

CONTEXT = RequestContext(principal="test", roles=frozenset({"system"}))
ENROLLMENT = f"{t.CANONICAL_BASE}/StructureDefinition/childcare-enrollment"


def assert_same(got: DistrictFrames, want: DistrictFrames, *, reports: bool = False) -> None:
    for f in fields(DistrictFrames):
        pd.testing.assert_frame_equal(
            getattr(got, f.name), getattr(want, f.name), check_exact=True, obj=f.name
        )
    if reports:
        assert report_json(got) == report_json(want)


def report_json(frames: DistrictFrames) -> str:
    out: dict[str, Any] = {}
    for convention in ("who", "cn-2024"):
        report = prevalence_report(frames, as_of=AS_OF, convention=convention)
        out[convention] = [records(report.prevalence), records(report.zscores)]
    out["coverage"] = records(
        coverage_report(frames, as_of=AS_OF, ruleset=load_ruleset_key(DEFAULT_RULESET_KEY))
    )
    return json.dumps(out, sort_keys=True, default=str)


@pytest.fixture
def district(repository: Repository) -> Iterator[Repository]:
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    return repository


def _all(repo: Repository, rtype: str) -> list[dict[str, Any]]:
    with repo.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT content FROM resource WHERE res_type = :t AND NOT deleted"), {"t": rtype}
        ).all()
    return [json.loads(r[0]) for r in rows]


class Writer:
    """Random writes of the kinds a district sees, through the store's transactions."""

    def __init__(self, repo: Repository, rng: random.Random) -> None:
        self.repo, self.rng, self.serial = repo, rng, 0

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-t{self.serial:04d}"

    def _write(self, action: Callable[[Transaction], object]) -> None:
        with self.repo.transaction(CONTEXT) as txn:
            action(txn)

    def _put(self, *resources: dict[str, Any]) -> None:
        def action(txn: Transaction) -> None:
            for r in resources:
                body = {k: v for k, v in r.items() if k != "meta"}
                txn.update(r["resourceType"], r["id"], body)

        self._write(action)

    def _delete(self, rtype: str, rid: str) -> None:
        self._write(lambda txn: txn.delete(rtype, rid))

    def _pick(self, rtype: str, keep: Callable[[dict[str, Any]], bool] = lambda r: True) -> Any:
        found = [r for r in _all(self.repo, rtype) if keep(r)]
        return self.rng.choice(sorted(found, key=lambda r: r["id"])) if found else None

    @staticmethod
    def _growth(r: dict[str, Any]) -> bool:
        codes = {c.get("code") for c in r.get("code", {}).get("coding", [])}
        return bool(codes & {t.LOINC_BODY_WEIGHT, t.LOINC_BODY_LENGTH, t.LOINC_BODY_HEIGHT})

    @staticmethod
    def _checkup(r: dict[str, Any]) -> bool:
        return any(
            c.get("system") == t.CS_CHECKUP_VISIT
            for tp in r.get("type", [])
            for c in tp.get("coding", [])
        )

    def _day(self) -> str:
        return (AS_OF - dt.timedelta(days=self.rng.randint(0, 700))).isoformat()

    def session(self, child: str | None = None) -> None:
        """A checkup with weight and length for a few children (as a session import)."""
        template_enc = self._pick("Encounter", self._checkup)
        weight = self._pick("Observation", lambda r: r["id"].endswith("-wt"))
        length = self._pick("Observation", lambda r: r["id"].endswith("-len"))
        children = [child] if child else [p["id"] for p in _all(self.repo, "Patient")]
        written = []
        for cid in self.rng.sample(sorted(children), min(3, len(children))):
            day = self._day()
            enc = copy.deepcopy(template_enc)
            enc["id"] = self._id("enc")
            enc["subject"] = {"reference": f"Patient/{cid}"}
            enc["period"] = {"start": f"{day}T09:00:00+08:00", "end": f"{day}T09:30:00+08:00"}
            written.append(enc)
            for template, value in ((weight, 4 + 10 * self.rng.random()), (length, 80.0)):
                obs = copy.deepcopy(template)
                obs["id"] = self._id("obs")
                obs["subject"] = {"reference": f"Patient/{cid}"}
                obs["encounter"] = {"reference": f"Encounter/{enc['id']}"}
                obs["effectiveDateTime"] = f"{day}T09:00:00+08:00"
                obs["valueQuantity"]["value"] = round(value, 2)
                written.append(obs)
        self._put(*written)

    def correct_value(self) -> None:
        obs = self._pick("Observation", self._growth)
        obs["valueQuantity"]["value"] = round(obs["valueQuantity"]["value"] * 1.1, 2)
        self._put(obs)

    def repeat_in_encounter(self) -> None:
        """A second weight in the same encounter: the later one recorded counts."""
        obs = self._pick("Observation", lambda r: r["id"].endswith("-wt"))
        again = copy.deepcopy(obs)
        again["id"] = self._id("obs")
        again["valueQuantity"]["value"] = round(obs["valueQuantity"]["value"] + 0.3, 2)
        self._put(again)

    def move_measurement(self) -> None:
        obs = self._pick("Observation", self._growth)
        other = self._pick("Patient")
        obs["subject"] = {"reference": f"Patient/{other['id']}"}
        self._put(obs)

    def delete_measurement(self) -> None:
        self._delete("Observation", self._pick("Observation", self._growth)["id"])

    def measurement_in_error(self) -> None:
        obs = self._pick("Observation", self._growth)
        obs["status"] = "entered-in-error"
        self._put(obs)

    def birth_date(self) -> None:
        patient = self._pick("Patient")
        patient["birthDate"] = (AS_OF - dt.timedelta(days=self.rng.randint(30, 1000))).isoformat()
        self._put(patient)

    def sex(self) -> None:
        patient = self._pick("Patient")
        patient["gender"] = "female" if patient.get("gender") == "male" else "male"
        self._put(patient)

    def _enrol(self, patient: dict[str, Any], centre: str) -> None:
        part = {
            "url": ENROLLMENT,
            "extension": [
                {"url": "centre", "valueReference": {"reference": f"Organization/{centre}"}},
                {"url": "period", "valuePeriod": {"start": self._day()}},
            ],
        }
        others = [e for e in patient.get("extension", []) if e.get("url") != ENROLLMENT]
        patient["extension"] = [*others, part]

    def change_centre(self) -> None:
        patient = self._pick("Patient")
        centre = self._pick("Organization", lambda r: "childcare-centre" in json.dumps(r))
        self._enrol(patient, centre["id"])
        self._put(patient)

    def new_centre(self) -> None:
        centre = copy.deepcopy(
            self._pick("Organization", lambda r: "childcare-centre" in json.dumps(r))
        )
        centre["id"] = self._id("org")
        centre["name"] = f"新托育机构 {centre['id']}"
        patient = self._pick("Patient")
        self._enrol(patient, centre["id"])
        self._put(centre)
        self._put(patient)

    def new_child(self) -> None:
        patient = copy.deepcopy(self._pick("Patient"))
        patient["id"] = self._id("child")
        patient["birthDate"] = (AS_OF - dt.timedelta(days=self.rng.randint(30, 900))).isoformat()
        patient.pop("identifier", None)
        self._put(patient)
        self.session(patient["id"])

    def delete_child(self) -> None:
        self._delete("Patient", self._pick("Patient")["id"])

    def vaccination(self) -> None:
        imm = self._pick("Immunization")
        kind = self.rng.choice(["error", "delete", "copy"])
        if kind == "error":
            imm["status"] = "entered-in-error"
            self._put(imm)
        elif kind == "delete":
            self._delete("Immunization", imm["id"])
        else:
            imm["id"] = self._id("imm")
            imm["occurrenceDateTime"] = f"{self._day()}T10:00:00+08:00"
            self._put(imm)

    def checkup(self) -> None:
        enc = self._pick("Encounter", self._checkup)
        if self.rng.random() < 0.5:
            enc["status"] = "cancelled"
            self._put(enc)
        else:
            self._delete("Encounter", enc["id"])

    def unread_type(self) -> None:
        person = self._pick("RelatedPerson")
        person["active"] = not person.get("active", True)
        self._put(person)

    def any(self) -> str:
        name = self.rng.choice(
            [
                "session",
                "correct_value",
                "repeat_in_encounter",
                "move_measurement",
                "delete_measurement",
                "measurement_in_error",
                "birth_date",
                "sex",
                "change_centre",
                "new_centre",
                "new_child",
                "delete_child",
                "vaccination",
                "checkup",
                "unread_type",
            ]
        )
        getattr(self, name)()
        return name


@pytest.mark.parametrize("margin_minutes", [5, 0])
@pytest.mark.parametrize("seed", [1, 2])
def test_refresh_equals_a_full_read_after_random_writes(
    district: Repository,
    cache: DistrictCache,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    margin_minutes: int,
) -> None:
    monkeypatch.setattr(watermark, "REFRESH_MARGIN", dt.timedelta(minutes=margin_minutes))
    cache.gather(district)
    assert cache.last.mode == "full"
    writer = Writer(district, random.Random(seed))
    done = []
    for step in range(16):
        done.append(writer.any())
        got = cache.gather(district)
        info = cache.last
        assert info.mode == "incremental", (done, info)
        assert_same(got, gather(district), reports=step % 5 == 4)
    assert_same(cache.gather(district), gather(district), reports=True)
    assert cache.last.mode == "cached"


def test_every_kind_of_write_refreshes_incrementally(
    district: Repository, cache: DistrictCache
) -> None:
    cache.gather(district)
    writer = Writer(district, random.Random(7))
    kinds = [n for n in dir(Writer) if not n.startswith("_") and n not in ("any", "unread_type")]
    for name in [*sorted(kinds), "unread_type"]:
        getattr(writer, name)()
        got = cache.gather(district)
        assert cache.last.mode == "incremental", name
        assert_same(got, gather(district))
    assert sum(cache.last.changed.values()) == 0  # unread_type: nothing district-wide


def test_repeated_measurement_the_last_recorded_counts(
    district: Repository, cache: DistrictCache
) -> None:
    cache.gather(district)
    writer = Writer(district, random.Random(3))
    writer.repeat_in_encounter()
    new = _all(district, "Observation")
    again = next(o for o in new if o["id"] == "obs-t0001")
    frames = cache.gather(district)
    encounter = again["encounter"]["reference"].split("/")[1]
    row = frames.measurements.loc[frames.measurements["encounter"] == encounter]
    assert row["weight_kg"].tolist() == [again["valueQuantity"]["value"]]
    assert_same(frames, gather(district))


def _late_write(repo: Repository, stamp: str) -> None:
    """An update whose version is stamped ``stamp`` (as a transaction that began long before
    it committed would be), written below the store to control the stamp (with the rule-input
    row the store would write)."""
    with repo.engine.begin() as conn:
        rid, version, content = conn.execute(
            text(
                "SELECT res_id, version_id, content FROM resource WHERE res_type = 'Observation'"
                " AND res_id LIKE '%-wt' ORDER BY res_id LIMIT 1"
            )
        ).one()
        doc = json.loads(content)
        doc["valueQuantity"]["value"] = 99.5
        row = {
            "t": "Observation",
            "i": rid,
            "v": version + 1,
            "s": stamp,
            "c": json.dumps(doc),
        }
        conn.execute(
            text(
                "INSERT INTO resource_version (res_type, res_id, version_id, last_updated,"
                " deleted, method, content) VALUES (:t, :i, :v, :s, :d, 'PUT', :c)"
            ),
            {**row, "d": False},
        )
        conn.execute(
            text(
                "UPDATE resource SET version_id = :v, last_updated = :s, content = :c"
                " WHERE res_type = :t AND res_id = :i"
            ),
            row,
        )
        # the store writes the rule-input row in the same transaction (its invariant)
        conn.execute(
            text("UPDATE rule_input SET value = 99.5 WHERE res_type = :t AND res_id = :i"),
            {"t": "Observation", "i": rid},
        )


def test_a_write_stamped_before_the_watermark_forces_a_full_read(
    district: Repository, cache: DistrictCache
) -> None:
    cache.gather(district)
    _late_write(district, "2000-01-01T00:00:00.000000")
    got = cache.gather(district)
    info = cache.last
    assert info.mode == "full"
    assert "before the watermark" in info.reason
    assert 99.5 in got.measurements["weight_kg"].tolist()
    assert_same(got, gather(district))


def test_a_large_delta_reads_everything(
    district: Repository, cache: DistrictCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.gather(district)
    monkeypatch.setattr(watermark, "DELTA_LIMIT", 2)
    Writer(district, random.Random(5)).session()
    got = cache.gather(district)
    assert cache.last.mode == "full"
    assert_same(got, gather(district))


def test_concurrent_reports_during_writes(district: Repository, cache: DistrictCache) -> None:
    """Two report threads while a writer writes: no error, frames handed out never change
    afterwards (copy-on-write), and the cache ends equal to a full read."""
    first = cache.gather(district)
    kept = copy.deepcopy(first)
    writer = Writer(district, random.Random(11))
    errors: list[BaseException] = []
    handed: list[tuple[DistrictFrames, DistrictFrames]] = []
    stop = threading.Event()

    def report() -> None:
        try:
            while not stop.is_set():
                frames = cache.gather(district)
                handed.append((frames, copy.deepcopy(frames)))
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        for _ in range(8):
            writer.any()
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert not errors
    assert_same(first, kept)
    for frames, snapshot in handed:
        assert_same(frames, snapshot)
    assert_same(cache.gather(district), gather(district), reports=True)


def test_another_database_at_the_same_url_is_read_whole(
    district: Repository, cache: DistrictCache
) -> None:
    """Everything wiped and another district loaded (a restore, a recreated test database):
    the watermark does not hold, the district is read again."""
    from sqlmodel import SQLModel

    cache.gather(district)
    with district.engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())
    load_demo(district, children=DEMO_CHILDREN - 4, seed=99, as_of=AS_OF)
    got = cache.gather(district)
    assert cache.last.mode == "full"
    assert len(got.children) == DEMO_CHILDREN - 4
    assert_same(got, gather(district))
