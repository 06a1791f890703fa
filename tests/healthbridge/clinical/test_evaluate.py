"""Batch (district) evaluation equals incremental (per child / per centre) evaluation, and
realistic multi-visit histories run through evaluation + reconciliation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from healthbridge.clinical.admission import centre_admission_list
from healthbridge.clinical.alerts import (
    ActionType,
    Finding,
    OpenAlert,
    finding_sort_key,
    open_alert_from_finding,
    reconcile,
)
from healthbridge.clinical.daily_check import DailyCheck
from healthbridge.clinical.evaluate import (
    CHILD_KINDS,
    admission_checks,
    evaluate_centre,
    evaluate_child,
    evaluate_district,
)
from healthbridge.clinical.frames import FINDING_COLUMNS, frame_to_findings
from healthbridge.clinical.records import ChildRecord, centre_daily_checks, child_records
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district
from healthbridge.clinical.vaccination import GivenDose
from healthbridge.clinical.vocab import AlertKind, Sex

from .factories import point


@pytest.mark.parametrize("which", ["rs", "rs2021"])
def test_batch_equals_incremental(which: str, request: pytest.FixtureRequest) -> None:
    ruleset: RuleSet = request.getfixturevalue(which)
    spec = SyntheticSpec(children=400, seed=7)
    data = synthetic_district(spec, ruleset)
    batch_frame = evaluate_district(data, ruleset, spec.as_of)
    assert tuple(batch_frame.columns) == FINDING_COLUMNS
    batch = frame_to_findings(batch_frame)
    incremental: list[Finding] = []
    for record in child_records(data):
        incremental += evaluate_child(record, ruleset, spec.as_of)
    for centre, checks in centre_daily_checks(data):
        incremental += evaluate_centre(centre, checks, ruleset, spec.as_of)
    assert batch == tuple(sorted(incremental, key=finding_sort_key))
    # the synthetic population exercises most rules
    assert len({f.kind for f in batch}) >= 15


def test_identical_alerts_from_batch_and_incremental(rs: RuleSet) -> None:
    """Alerts built by reconciling from an empty store are the same either way."""
    spec = SyntheticSpec(children=150, seed=11)
    data = synthetic_district(spec, rs)

    def alerts(findings: Iterable[Finding]) -> set[tuple[str, str, str, tuple[str, ...]]]:
        by_subject: dict[str, list[Finding]] = {}
        for f in findings:
            by_subject.setdefault(f.subject, []).append(f)
        out = set()
        for subject, fs in by_subject.items():
            for a in reconcile(subject, [], fs):
                assert a.action is ActionType.CREATE
                assert a.finding is not None
                out.add((subject, a.kind.value, a.finding.severity.value, a.finding.evidence_ids))
        return out

    batch = frame_to_findings(evaluate_district(data, rs, spec.as_of))
    inc = [f for r in child_records(data) for f in evaluate_child(r, rs, spec.as_of)]
    inc += [
        f
        for c, checks in centre_daily_checks(data)
        for f in evaluate_centre(c, checks, rs, spec.as_of)
    ]
    assert alerts(batch) == alerts(inc)


class Store:
    """A tiny in-memory alert store applying reconciliation actions (stands in for Flag+Task)."""

    def __init__(self) -> None:
        self.open: dict[str, OpenAlert] = {}
        self.log: list[tuple[str, AlertKind]] = []
        self._n = 0

    def apply(self, subject: str, findings: Iterable[Finding]) -> None:
        current = [a for a in self.open.values() if a.subject == subject]
        for action in reconcile(subject, current, findings, evaluated_kinds=CHILD_KINDS):
            self.log.append((action.action.value, action.kind))
            if action.action is ActionType.CLEAR:
                del self.open[action.alert_id or ""]
            elif action.finding is not None:
                if action.alert_id is None:
                    self._n += 1
                alert_id = action.alert_id or f"a{self._n}"
                self.open[alert_id] = open_alert_from_finding(alert_id, action.finding)

    def kinds(self) -> set[AlertKind]:
        return {a.kind for a in self.open.values()}


def test_child_who_falters_then_recovers(rs: RuleSet) -> None:
    birth = date(2025, 1, 1)
    child = ChildRecord("c1", birth, Sex.FEMALE)
    store = Store()
    visits = [
        (date(2025, 4, 2), 0.3, 6.2),
        (date(2025, 7, 2), -1.1, 6.8),
        (date(2025, 9, 2), -2.1, 6.9),
        (date(2025, 12, 2), -1.4, 8.4),
        (date(2026, 1, 5), -0.9, 9.0),
    ]
    history = []
    states = []
    for i, (d, z, w) in enumerate(visits):
        history.append(point(f"o{i}", d, birth, zwei=z, zlen=0.1, weight=w))
        record = replace(child, growth=tuple(history))
        findings = [
            f
            for f in evaluate_child(record, rs, d)
            if f.kind in {AlertKind.GROWTH_FALTERING, AlertKind.UNDERWEIGHT}
        ]
        store.apply("c1", findings)
        states.append(store.kinds())
    assert states == [
        set(),
        {AlertKind.GROWTH_FALTERING},
        {AlertKind.GROWTH_FALTERING, AlertKind.UNDERWEIGHT},
        {AlertKind.GROWTH_FALTERING},  # still 1.7 SD (> 2 centile spaces) below its 0.3
        set(),
    ]
    assert ("update", AlertKind.GROWTH_FALTERING) in store.log
    assert ("clear", AlertKind.GROWTH_FALTERING) in store.log


def test_preterm_child_growth_uses_given_z_but_vaccines_use_chronological_age(rs: RuleSet) -> None:
    """Born at 31 weeks: growth z-scores arrive corrected (from growth_standards); vaccine
    doses fall due by chronological age, warning signs use corrected age."""
    birth = date(2026, 1, 10)
    record = ChildRecord(
        "c1",
        birth,
        Sex.MALE,
        gestational_weeks=31.0,
        growth=(point("o1", date(2026, 3, 10), birth, zwei=-1.0, zlen=-0.8),),
        doses=(
            GivenDose("i1", "HepB", birth),
            GivenDose("i2", "BCG", birth),
            GivenDose("i3", "HepB", date(2026, 2, 10)),
        ),
    )
    as_of = date(2026, 3, 10)  # 2 months chronological, about 0 months corrected
    found = {f.kind: f for f in evaluate_child(record, rs, as_of)}
    assert AlertKind.VACCINE_DUE in found
    assert set(found[AlertKind.VACCINE_DUE].items) == {"DTP-1", "polio-1"}
    assert AlertKind.UNDERWEIGHT not in found


def test_missed_dtap_dose_caught_up(rs: RuleSet) -> None:
    birth = date(2025, 11, 30)
    base = (
        GivenDose("i1", "HepB", birth),
        GivenDose("i2", "BCG", birth),
        GivenDose("i3", "HepB", date(2025, 12, 30)),
        GivenDose("i4", "IPV", date(2026, 1, 30)),
        GivenDose("i5", "DTaP", date(2026, 1, 30)),
        GivenDose("i6", "IPV", date(2026, 2, 28)),
        GivenDose("i7", "bOPV", date(2026, 3, 30)),
    )
    store = Store()
    as_of = date(2026, 5, 31)  # DTaP2 (4 m, 30 March) missed: overdue since 30 April
    record = ChildRecord("c1", birth, Sex.MALE, doses=base)
    store.apply(
        "c1", [f for f in evaluate_child(record, rs, as_of) if f.kind is AlertKind.VACCINE_OVERDUE]
    )
    (alert,) = store.open.values()
    assert alert.items == ("DTP-2",)
    caught_up = replace(record, doses=(*base, GivenDose("i8", "DTaP", date(2026, 6, 2))))
    later = date(2026, 6, 3)
    store.apply(
        "c1",
        [f for f in evaluate_child(caught_up, rs, later) if f.kind is AlertKind.VACCINE_OVERDUE],
    )
    assert store.open == {}
    assert store.log[-1] == ("clear", AlertKind.VACCINE_OVERDUE)


def test_class_fever_cluster_alert_for_centre(rs: RuleSet) -> None:
    day = date(2026, 11, 18)
    checks = tuple(DailyCheck(f"d{i}", f"c{i}", "org1", "k2", day, 37.3 + i / 10) for i in range(3))
    (f,) = evaluate_centre("org1", checks, rs, day)
    assert f.kind is AlertKind.OUTBREAK_CLUSTER
    assert f.items == ("k2:fever",)
    child = ChildRecord(
        "c0", date(2024, 5, 1), Sex.FEMALE, centre_id="org1", daily_checks=(checks[0],)
    )
    assert AlertKind.FEVER in {x.kind for x in evaluate_child(child, rs, day)}
    assert AlertKind.FEVER not in {
        x.kind for x in evaluate_child(child, rs, day + timedelta(days=1))
    }


def test_parallel_batch_equals_serial(rs: RuleSet) -> None:
    spec = SyntheticSpec(children=60, seed=3)
    data = synthetic_district(spec, rs)
    serial = frame_to_findings(evaluate_district(data, rs, spec.as_of))
    parallel = frame_to_findings(evaluate_district(data, rs, spec.as_of, workers=2))
    assert parallel == serial


def test_centre_admission_list(rs: RuleSet) -> None:
    spec = SyntheticSpec(children=120, seed=5)
    data = synthetic_district(spec, rs)
    checks = admission_checks(child_records(data, with_growth=False), rs, spec.as_of)
    assert checks
    centre = checks[0].centre_id
    listed = centre_admission_list(checks, centre)
    assert all(c.centre_id == centre and c.missing_doses for c in listed)
    batch = frame_to_findings(evaluate_district(data, rs, spec.as_of))
    flagged = {f.subject for f in batch if f.kind is AlertKind.ADMISSION_VACCINATION_INCOMPLETE}
    assert {c.child_id for c in checks if c.incomplete} == flagged


def test_district_with_children_only(rs: RuleSet) -> None:
    import pandas as pd

    from healthbridge.clinical.records import DistrictData

    children = pd.DataFrame(
        {
            "child_id": ["a", "b"],
            "birth_date": pd.to_datetime(["2026-01-01", "2020-01-01"]),
            "sex": ["male", "female"],
        }
    )
    found = frame_to_findings(
        evaluate_district(DistrictData(children=children), rs, date(2026, 6, 1))
    )
    kinds = {(f.subject, f.kind) for f in found}
    assert ("a", AlertKind.MEASUREMENT_OVERDUE) in kinds
    assert ("a", AlertKind.VACCINE_OVERDUE) in kinds
    assert all(f.subject in {"a", "b"} for f in found)
