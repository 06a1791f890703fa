"""The kept coverage inputs (managed cases, frail identifications, screening results) brought
up to date after writes equal a full read, write after write.

Each kind of write the coverage figures depend on — a new, recoded, voided or deleted
screening Observation, a haemoglobin result, a warning-sign response turning positive or
negative, a managed case opened, closed, moved or deleted, a frail alert raised, downgraded or
deleted — and writes they do not depend on (a Patient change, a measurement session) are
applied to a small demo district; after each one :meth:`DistrictCache.coverage_inputs` must
have taken the incremental path and equal :func:`case_frames` / :func:`screening_frames`
exactly, and the coverage report computed from them must equal the full read's.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from healthbridge import terminology as t
from healthbridge.clinical.ruleset import load_ruleset_key
from healthbridge.config import DEFAULT_RULESET_KEY
from healthbridge.demo.load import load_demo
from healthbridge.district import watermark
from healthbridge.district.cache import DistrictCache
from healthbridge.district.cases import case_frames
from healthbridge.district.gather import gather
from healthbridge.district.reports import coverage_report, records
from healthbridge.district.screening import screening_ages, screening_frames
from healthbridge.store.repository import Repository
from tests.healthbridge.district.conftest import AS_OF, DEMO_CHILDREN
from tests.healthbridge.district.test_gather_refresh import CONTEXT, Writer, _all
from tests.healthbridge.pipeline.conftest import measurement
from tests.healthbridge.pipeline.test_screening import screening_obs

RULES = load_ruleset_key(DEFAULT_RULESET_KEY)
SCREENINGS = ("eye", "hearing", "oral")


@pytest.fixture
def district(repository: Repository) -> Iterator[Repository]:
    load_demo(repository, children=DEMO_CHILDREN, as_of=AS_OF)
    return repository


class InputWriter(Writer):
    """The writes the coverage inputs are read from (and, inherited, the district's)."""

    def _child(self) -> str:
        return str(self._pick("Patient")["id"])

    def _kind(self, rtype: str, test: Any) -> Any:
        return self._pick(rtype, test)

    @staticmethod
    def _screening(r: dict[str, Any]) -> bool:
        return any(c.get("system") == t.CS_CHILD_SCREENING for c in r["code"]["coding"])

    @staticmethod
    def _hb(r: dict[str, Any]) -> bool:
        return any(c.get("code") == t.LOINC_HAEMOGLOBIN for c in r["code"]["coding"])

    def _on(self) -> dt.date:
        return AS_OF - dt.timedelta(days=self.rng.randint(0, 500))

    def screening_new(self) -> None:
        code = self.rng.choice(SCREENINGS)
        self._put(screening_obs(self._id("scr"), self._child(), code, self._on(), "pass"))

    def screening_moved(self) -> None:
        obs = self._kind("Observation", self._screening)
        obs["subject"] = {"reference": f"Patient/{self._child()}"}
        obs["effectiveDateTime"] = self._on().isoformat()
        self._put(obs)

    def screening_recoded(self) -> None:
        """No longer a screening (coded as a weight): its rows go."""
        obs = self._kind("Observation", self._screening)
        obs["code"] = {"coding": [{"system": t.LOINC, "code": t.LOINC_BODY_WEIGHT}]}
        self._put(obs)

    def screening_in_error(self) -> None:
        obs = self._kind("Observation", self._screening)
        obs["status"] = "entered-in-error"
        self._put(obs)

    def screening_deleted(self) -> None:
        self._delete("Observation", self._kind("Observation", self._screening)["id"])

    def haemoglobin_new(self) -> None:
        hb = measurement(self._id("hb"), self._child(), t.LOINC_HAEMOGLOBIN, 104, self._on())
        self._put(hb)

    def haemoglobin_deleted(self) -> None:
        self._delete("Observation", self._kind("Observation", self._hb)["id"])

    def response(self, positive: bool | None = None) -> None:
        """A new warning-sign response, or an existing one's answer turned over."""
        found = self._pick("QuestionnaireResponse")
        if found is None or positive is not None:
            found = {
                "resourceType": "QuestionnaireResponse", "id": self._id("qr"),
                "status": "completed",
                "questionnaire": f"{t.CANONICAL_BASE}/Questionnaire/warning-signs",
                "subject": {"reference": f"Patient/{self._child()}"},
                "authored": self._on().isoformat(),
                "item": [{"linkId": "group-18m", "item": [
                    {"linkId": "18m-1", "answer": [{"valueBoolean": bool(positive)}]}]}],
            }  # fmt: skip
        else:
            answer = found["item"][0]["item"][0]["answer"][0]
            answer["valueBoolean"] = not answer["valueBoolean"]
        self._put(found)

    def response_positive(self) -> None:
        self.response(True)

    def response_turned(self) -> None:
        self.response()

    def response_deleted(self) -> None:
        found = self._pick("QuestionnaireResponse")
        if found is None:
            self.response(True)
            found = self._pick("QuestionnaireResponse")
        self._delete("QuestionnaireResponse", found["id"])

    def _episode(self) -> dict[str, Any]:
        found = self._pick("EpisodeOfCare")
        if found is None:
            self.case_opened()
            found = self._pick("EpisodeOfCare")
        return dict(found)

    def case_opened(self) -> None:
        self._put({
            "resourceType": "EpisodeOfCare", "id": self._id("case"), "status": "active",
            "type": [{"coding": [{"system": t.CS_CASE_CONDITION,
                                  "code": self.rng.choice(["anaemia", "underweight"])}]}],
            "patient": {"reference": f"Patient/{self._child()}"},
            "period": {"start": self._on().isoformat()},
        })  # fmt: skip

    def case_closed(self) -> None:
        ep = self._episode()
        ep["status"] = "finished"
        ep["period"] = {**ep["period"], "end": AS_OF.isoformat()}
        outcome = {"system": t.CS_CASE_OUTCOME, "code": "cured"}
        ep["extension"] = [{"url": t.EXT_CASE_OUTCOME, "valueCoding": outcome}]
        self._put(ep)

    def case_moved(self) -> None:
        ep = self._episode()
        ep["patient"] = {"reference": f"Patient/{self._child()}"}
        self._put(ep)

    def case_deleted(self) -> None:
        self._delete("EpisodeOfCare", self._episode()["id"])

    def _flag(self) -> dict[str, Any]:
        found = self._pick("Flag")
        if found is None:
            self.frail_raised()
            found = self._pick("Flag")
        return dict(found)

    def frail_raised(self) -> None:
        self._put({
            "resourceType": "Flag", "id": self._id("flag"), "status": "active",
            "extension": [{"url": f"{t.CANONICAL_BASE}/StructureDefinition/alert-severity",
                           "valueCode": self.rng.choice(["moderate", "high"])}],
            "code": {"coding": [{"system": t.CS_CHILD_SCREENING,
                                 "code": self.rng.choice(["underweight", "anaemia"])}]},
            "subject": {"reference": f"Patient/{self._child()}"},
            "period": {"start": f"{self._on().isoformat()}T08:00:00+08:00"},
        })  # fmt: skip

    def frail_downgraded(self) -> None:
        """Mild: no longer a frail identification."""
        flag = self._flag()
        flag["extension"] = [{**flag["extension"][0], "valueCode": "low"}]
        self._put(flag)

    def frail_deleted(self) -> None:
        self._delete("Flag", self._flag()["id"])


INPUT_WRITES = sorted(
    n for n in vars(InputWriter) if not n.startswith("_") and n not in ("response",)
)
OTHER_WRITES = ("birth_date", "session", "delete_child", "unread_type")


def full(repo: Repository) -> tuple[pd.DataFrame, ...]:
    (cases, frail), (screenings, _ages) = case_frames(repo), screening_frames(repo, RULES)
    return cases, frail, screenings


def assert_same(got: tuple[pd.DataFrame, ...], want: tuple[pd.DataFrame, ...]) -> None:
    for name, a, b in zip(("cases", "frail", "screenings"), got, want, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)


def report(repo: Repository, inputs: tuple[pd.DataFrame, ...]) -> str:
    cases, frail, screenings = inputs
    table = coverage_report(
        gather(repo), as_of=AS_OF, ruleset=RULES, cases=(cases, frail),
        screenings=(screenings, screening_ages(RULES)),
    )  # fmt: skip
    return json.dumps(records(table), sort_keys=True, default=str)


def test_every_kind_of_write_refreshes_the_inputs_incrementally(
    district: Repository, cache: DistrictCache
) -> None:
    cache.coverage_inputs(district)
    assert cache.last_inputs.mode == "full"
    writer = InputWriter(district, random.Random(4))
    for name in [*INPUT_WRITES, *OTHER_WRITES]:
        getattr(writer, name)()
        got = cache.coverage_inputs(district)
        assert cache.last_inputs.mode == "incremental", (name, cache.last_inputs)
        assert_same(got, full(district))
    cases, frail, _screenings = full(district)
    assert not cases.empty  # something was kept
    assert not frail.empty
    assert report(district, cache.coverage_inputs(district)) == report(district, full(district))
    assert cache.last_inputs.mode == "cached"


@pytest.mark.parametrize("seed", [1, 2])
def test_inputs_equal_a_full_read_after_random_writes(
    district: Repository, cache: DistrictCache, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(watermark, "REFRESH_MARGIN", dt.timedelta(minutes=seed % 2 * 5))
    cache.coverage_inputs(district)
    writer = InputWriter(district, random.Random(seed))
    done = []
    for step in range(12):
        name = writer.rng.choice([*INPUT_WRITES, *OTHER_WRITES])
        getattr(writer, name)()
        done.append(name)
        got = cache.coverage_inputs(district)
        assert cache.last_inputs.mode == "incremental", (done, cache.last_inputs)
        assert_same(got, full(district))
        if step % 6 == 5:
            assert report(district, got) == report(district, full(district))


def test_frames_handed_out_are_the_callers(district: Repository, cache: DistrictCache) -> None:
    """A caller changing its frames changes neither the kept ones nor the next caller's."""
    writer = InputWriter(district, random.Random(9))
    writer.case_opened()
    first = cache.coverage_inputs(district)
    first[0].loc[:, "condition"] = "changed"
    assert_same(cache.coverage_inputs(district), full(district))


def test_a_write_the_watermark_cannot_vouch_for_reads_everything(
    district: Repository, cache: DistrictCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.coverage_inputs(district)
    monkeypatch.setattr(watermark, "DELTA_LIMIT", 1)
    with district.transaction(CONTEXT) as txn:
        for i in range(2):
            body = screening_obs(f"scr-x{i}", _all(district, "Patient")[0]["id"], "eye", AS_OF)
            txn.update("Observation", body["id"], body)
    got = cache.coverage_inputs(district)
    assert cache.last_inputs.mode == "full"
    assert "more than 1" in cache.last_inputs.reason
    assert_same(got, full(district))
