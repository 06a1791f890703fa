"""Scheduled screenings (screening-schedule table): windows, due/overdue, abnormal cut-offs.

Sources: 国家基本公共卫生服务规范（第三版）2017 (Hb at 6, 8, 18, 30 m and 4–6 y; hearing at
6, 12, 24, 36 m; DOMAIN.md §2.1), 0～6岁儿童眼保健及视力检查服务规范（试行）2021 (13 eye checks),
WS/T 580-2017 (DQ; bands unconfirmed), WHO/NMH/NHD/MNM/11.1 (Hb < 110 g/L, via ``anaemia``).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from healthbridge.clinical._reader import Reader
from healthbridge.clinical.anaemia import HbResult
from healthbridge.clinical.checkups import VisitStatus
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.evaluate import evaluate_child
from healthbridge.clinical.records import (
    ChildRecord,
    frame_screening_results,
    screening_results_frame,
)
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening_schedule import (
    ScreeningResult,
    next_screenings,
    screening_plan,
    screening_schedule_findings,
)
from healthbridge.clinical.tables_screening import parse_screening_schedule
from healthbridge.clinical.vocab import AlertKind, Severity, Sex

BIRTH = date(2024, 1, 15)


def _kinds(found):  # type: ignore[no-untyped-def]
    return {f.kind: f for f in found}


def test_schedule_ages_follow_the_2017_specification(rs: RuleSet) -> None:
    table = rs.screening_schedule
    labels = {s.code: [lbl for lbl, _a in s.ages] for s in table.screenings}
    assert labels["haemoglobin"] == ["6m", "8m", "18m", "30m", "4y", "5y", "6y"]
    assert labels["hearing"] == ["6m", "12m", "24m", "36m"]
    assert len(labels["eye"]) == 13
    assert labels["development"] == []
    assert table.screening("haemoglobin").abnormal_by == "anaemia"


def test_hearing_due_then_overdue_then_missed(rs: RuleSet) -> None:
    table = rs.screening_schedule
    six = date(2024, 7, 15)

    def status(on: date) -> VisitStatus:
        plan = screening_plan(BIRTH, (), (), table, on)
        return next(p for p in plan if p.item == "hearing@6m").status

    assert status(six - timedelta(days=8)) is VisitStatus.NOT_YET_DUE
    assert status(six - timedelta(days=7)) is VisitStatus.DUE
    assert status(six + timedelta(days=29)) is VisitStatus.DUE
    assert status(six + timedelta(days=30)) is VisitStatus.OVERDUE
    # 12 m point becomes due (7 days before 12 months): the 6 m point is missed
    assert status(date(2025, 1, 8)) is VisitStatus.MISSED


def test_due_and_overdue_findings_and_a_result_clears_them(rs: RuleSet) -> None:
    table = rs.screening_schedule
    on = date(2024, 8, 20)  # 7 m 5 d: 6 m points overdue (> 30 d), 8 m not yet due
    found = _kinds(screening_schedule_findings("c1", BIRTH, (), (), table, on))
    assert AlertKind.SCREENING_DUE not in found
    overdue = found[AlertKind.SCREENING_OVERDUE]
    assert set(overdue.items) == {"haemoglobin@6m", "hearing@6m", "eye@6m", "oral@6m"}
    assert overdue.severity is Severity.MODERATE
    results = (ScreeningResult("r1", date(2024, 8, 1), "hearing", refer=False),)
    hb = (HbResult("h1", date(2024, 8, 1), 121.0),)
    found = _kinds(screening_schedule_findings("c1", BIRTH, results, hb, table, on))
    assert set(found[AlertKind.SCREENING_OVERDUE].items) == {"eye@6m", "oral@6m"}
    assert set(found[AlertKind.SCREENING_OVERDUE].evidence_ids) == {"r1", "h1"}


def test_a_result_before_the_window_does_not_count(rs: RuleSet) -> None:
    """A newborn hearing screen (day 2) is not the 6-month screen."""
    results = (ScreeningResult("r0", date(2024, 1, 17), "hearing", refer=False),)
    plan = screening_plan(BIRTH, results, (), rs.screening_schedule, date(2024, 7, 20))
    assert next(p for p in plan if p.item == "hearing@6m").status is VisitStatus.DUE


@pytest.mark.parametrize(
    ("result", "items"),
    [
        (ScreeningResult("r", date(2025, 1, 15), "hearing", refer=True), ("hearing:refer",)),
        (ScreeningResult("r", date(2025, 1, 15), "hearing", refer=False), ()),
        (ScreeningResult("r", date(2025, 1, 15), "oral", caries=1), ("oral:caries",)),
        (ScreeningResult("r", date(2025, 1, 15), "oral", caries=0), ()),
        (ScreeningResult("r", date(2025, 1, 15), "eye", refer=True), ("eye:refer",)),
    ],
)
def test_abnormal_results(rs: RuleSet, result: ScreeningResult, items: tuple[str, ...]) -> None:
    found = _kinds(
        screening_schedule_findings("c1", BIRTH, (result,), (), rs.screening_schedule, result.on)
    )
    if not items:
        assert AlertKind.SCREENING_ABNORMAL not in found
    else:
        assert found[AlertKind.SCREENING_ABNORMAL].items == items
        assert found[AlertKind.SCREENING_ABNORMAL].evidence_ids == ("r",)


@pytest.mark.parametrize(
    ("on", "acuity", "abnormal"),
    [
        (date(2028, 3, 1), 0.6, True),  # 4 y: ≤ 0.6 (unconfirmed reading of the 2021 规范)
        (date(2028, 3, 1), 0.7, False),
        (date(2029, 3, 1), 0.8, True),  # 5 y: ≤ 0.8
        (date(2029, 3, 1), 0.9, False),
        (date(2027, 3, 1), 0.3, False),  # 3 y: no acuity limit
    ],
)
def test_visual_acuity_limits(rs: RuleSet, on: date, acuity: float, abnormal: bool) -> None:
    result = ScreeningResult("r", on, "eye", refer=False, acuity_left=1.0, acuity_right=acuity)
    found = _kinds(
        screening_schedule_findings("c1", BIRTH, (result,), (), rs.screening_schedule, on)
    )
    assert (AlertKind.SCREENING_ABNORMAL in found) is abnormal


@pytest.mark.parametrize(
    ("dq", "grade", "severity"),
    [(69.0, "disability", Severity.HIGH), (70.0, "borderline", Severity.MODERATE),
     (79.9, "borderline", Severity.MODERATE), (80.0, None, None)],
)  # fmt: skip
def test_developmental_quotient_bands(
    rs: RuleSet, dq: float, grade: str | None, severity: Severity | None
) -> None:
    """WS/T 580-2017 bands as we read them (unconfirmed): < 70 disability, 70–79 borderline."""
    on = date(2025, 6, 1)
    result = ScreeningResult("d1", on, "development", instrument="wst580", dq=dq, score=None)
    found = _kinds(
        screening_schedule_findings("c1", BIRTH, (result,), (), rs.screening_schedule, on)
    )
    if grade is None:
        assert AlertKind.SCREENING_ABNORMAL not in found
    else:
        assert found[AlertKind.SCREENING_ABNORMAL].items == (f"development:{grade}",)
        assert found[AlertKind.SCREENING_ABNORMAL].severity is severity


def test_latest_result_decides_and_hb_is_the_anaemia_tables(rs: RuleSet) -> None:
    on = date(2025, 3, 1)
    results = (
        ScreeningResult("a", date(2025, 1, 10), "hearing", refer=True),
        ScreeningResult("b", date(2025, 2, 10), "hearing", refer=False),
    )
    hb = (HbResult("h", date(2025, 2, 10), 95.0),)
    found = _kinds(screening_schedule_findings("c1", BIRTH, results, hb, rs.screening_schedule, on))
    assert AlertKind.SCREENING_ABNORMAL not in found
    record = ChildRecord("c1", BIRTH, Sex.FEMALE, haemoglobin=hb, screening_results=results)
    kinds = {f.kind for f in evaluate_child(record, rs, on)}
    assert AlertKind.ANAEMIA in kinds
    assert AlertKind.SCREENING_ABNORMAL not in kinds


def test_next_screenings_for_the_parent(rs: RuleSet) -> None:
    plan = screening_plan(BIRTH, (), (), rs.screening_schedule, date(2024, 5, 1))
    nxt = next_screenings(plan)
    # 3.5 months: the 3-month eye check is still due; the others come at 6 months
    assert [p.item for p in nxt] == ["eye@3m", "haemoglobin@6m", "hearing@6m", "oral@6m"]
    assert [p.target for p in nxt[1:]] == [date(2024, 7, 15)] * 3


def test_frame_round_trip() -> None:
    r = ScreeningResult("d1", date(2025, 6, 1), "development", instrument="gesell", dq=72.5)
    back = frame_screening_results(screening_results_frame([("c1", r)]))
    assert back["c1"] == [r]


def test_parser_rejects_unknown_screening_codes() -> None:
    root = {
        "meta": {"id": "x", "version": "1", "region": "CN", "effective_from": date(2020, 1, 1),
                 "evidence": "M", "source": []},
        "windows": {"due_lead_days": 7, "overdue_after_days": 30, "last_missed_after": "1y",
                    "evidence": "?"},
        "severity": {"due": "low", "overdue": "moderate"},
        "abnormal": {"severity": "moderate", "evidence": "M"},
        "screening": [{"code": "x-ray", "name_zh": "x", "name_en": "x", "ages": [],
                       "evidence": "M"}],
    }  # fmt: skip
    with pytest.raises(RuleTableError, match="child-screening"):
        parse_screening_schedule(Reader(root, "t"))
