"""The vectorised district evaluation equals the per-child rules (the oracle).

``evaluate_district`` runs the schedule rules through :mod:`healthbridge.clinical.schedule_batch`
and the growth rules on one shared preparation; the per-child path (``evaluate_child``,
``evaluate_centre``, and ``_reference_schedule_frame`` built on them) is the definition. The
districts here are seeded synthetic ones and Hypothesis-drawn small ones placed on the rule
boundaries: dose minimum ages and intervals ±1 day, the 28-day live-vaccine rule, give-until
ages, product options, catch-up, checkup windows, 30-day and 31 December admission deadlines,
anaemia bands and the 28-day no-improvement rule, cluster windows, same-day records, rows in
any order.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthbridge.clinical import evaluate as ev
from healthbridge.clinical.admission import AdmissionState
from healthbridge.clinical.ages import add_age, add_age_days, day_number, parse_age
from healthbridge.clinical.alerts import Finding, finding_sort_key
from healthbridge.clinical.frames import frame_to_findings
from healthbridge.clinical.records import DistrictData, centre_daily_checks, child_records
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.synthetic import SyntheticSpec, synthetic_district

_SORT = ["subject_type", "subject", "kind"]


def _incremental(data: DistrictData, ruleset: RuleSet, as_of: date) -> tuple[Finding, ...]:
    found: list[Finding] = []
    for record in child_records(data):
        found += ev.evaluate_child(record, ruleset, as_of)
    for centre, checks in centre_daily_checks(data):
        found += ev.evaluate_centre(centre, checks, ruleset, as_of)
    return tuple(sorted(found, key=finding_sort_key))


def _same_schedule_frames(data: DistrictData, ruleset: RuleSet, as_of: date) -> None:
    """The vectorised schedule frame equals the per-child one, row for row."""
    fast = ev._schedule_frame(data, ruleset, as_of)
    slow = ev._reference_schedule_frame(data, ruleset, as_of)
    fast = fast.sort_values(_SORT, kind="mergesort").reset_index(drop=True)
    pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("which", ["rs", "rs2021"])
@pytest.mark.parametrize("seed", [1, 20261120])
def test_synthetic_district_batch_equals_per_child(
    which: str, seed: int, request: pytest.FixtureRequest
) -> None:
    ruleset: RuleSet = request.getfixturevalue(which)
    spec = SyntheticSpec(children=300, measurements_per_child=8, seed=seed)
    data = synthetic_district(spec, ruleset)
    _same_schedule_frames(data, ruleset, spec.as_of)
    batch = frame_to_findings(ev.evaluate_district(data, ruleset, spec.as_of))
    assert batch == _incremental(data, ruleset, spec.as_of)
    # the district exercises every schedule alert kind
    kinds = {f.kind.value for f in batch}
    assert {"vaccine-due", "vaccine-overdue", "admission-vaccination-incomplete"} <= kinds
    assert {"checkup-due", "checkup-overdue", "checkup-missed", "anaemia"} <= kinds


def test_shuffled_frames_give_the_same_findings(rs: RuleSet) -> None:
    """Row order of the input frames does not matter (growth is regrouped, records sorted)."""
    spec = SyntheticSpec(children=200, measurements_per_child=6, seed=3)
    data = synthetic_district(spec, rs)
    expected = ev.evaluate_district(data, rs, spec.as_of)
    rng = np.random.default_rng(5)

    def shuffle(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)

    shuffled = DistrictData(
        children=shuffle(data.children),
        growth=shuffle(data.growth),
        checkups=shuffle(data.checkups),
        doses=shuffle(data.doses),
        daily_checks=shuffle(data.daily_checks),
        haemoglobin=shuffle(data.haemoglobin),
        screenings=shuffle(data.screenings),
        enrolments=shuffle(data.enrolments),
        cases=shuffle(data.cases),
    )
    pd.testing.assert_frame_equal(ev.evaluate_district(shuffled, rs, spec.as_of), expected)


def test_repeated_child_ids_fall_back_to_the_per_child_path(rs: RuleSet) -> None:
    spec = SyntheticSpec(children=20, seed=9)
    data = synthetic_district(spec, rs)
    twice = DistrictData(
        children=pd.concat([data.children, data.children.iloc[:3]], ignore_index=True),
        checkups=data.checkups,
        doses=data.doses,
        enrolments=data.enrolments,
    )
    fast = ev._schedule_frame(twice, rs, spec.as_of)
    pd.testing.assert_frame_equal(fast, ev._reference_schedule_frame(twice, rs, spec.as_of))


def test_empty_district(rs: RuleSet) -> None:
    children = pd.DataFrame(
        {"child_id": ["c1"], "birth_date": pd.to_datetime(["2026-01-31"]), "sex": ["female"]}
    )
    data = DistrictData(children=children)
    as_of = date(2026, 11, 20)
    _same_schedule_frames(data, rs, as_of)
    assert frame_to_findings(ev.evaluate_district(data, rs, as_of)) == _incremental(data, rs, as_of)


@given(
    st.dates(date(1990, 1, 1), date(2030, 12, 31)),
    st.sampled_from(["1m", "2m", "6m", "12m", "18m", "1y6m", "28d", "13m5d", "3y", "0d"]),
)
def test_vectorised_add_age(start: date, text: str) -> None:
    age = parse_age(text)
    out = add_age_days(np.array([day_number(start)], dtype=np.int64), age)
    assert int(out[0]) == day_number(add_age(start, age))


# --------------------------------------------------------------------------- Hypothesis districts

_AS_OF = date(2026, 11, 20)
#: month ends and leap days: calendar-month clamping
_BIRTHS = [
    date(2024, 1, 31),
    date(2024, 2, 29),
    date(2023, 12, 31),
    date(2025, 8, 31),
    date(2026, 5, 20),
    date(2021, 3, 30),
    date(2026, 11, 1),
    date(2022, 10, 31),
    date(2024, 9, 30),  # DTaP doses on both sides of the 2025-01-01 edition change
]
#: around the minimum intervals and the 28-day live rule
_DELTAS = [-1, 0, 1, 6, 7, 8, 27, 28, 29, 30, 31, 45, 60, 61, 120, 400]


@st.composite
def _districts(draw: Any, ruleset: RuleSet) -> tuple[DistrictData, date]:
    vaccination = ruleset.vaccination
    # NIP codes, combination and non-NIP products (vaccine-products table), an unknown code
    vaccines = [
        *sorted({v.code for v in vaccination.vaccines}),
        "not-a-vaccine",
        "DTaP-IPV-Hib",
        "MMRV",
        "PCV13",
    ]
    dose_ages = sorted({str(d.age) for d in vaccination.doses} | {"24m", "4y"})
    visits = [v.code for v in ruleset.checkups.visits]
    n = draw(st.integers(1, 6))
    as_of = draw(st.sampled_from([_AS_OF, date(2026, 12, 31), date(2027, 1, 1)]))
    children, doses, checkups, enrol, hb, screens, checks, growth, tb = ([] for _ in range(9))
    for i in range(n):
        cid = f"c{i}"
        born = draw(st.sampled_from(_BIRTHS))
        centre = draw(st.sampled_from([None, "org1", "org2"]))
        children.append(
            (
                cid,
                born,
                draw(st.sampled_from(["male", "female"])),
                centre,
                f"{centre}-k{i % 2}" if centre else None,
                born + timedelta(days=draw(st.integers(1, 9))),
                draw(st.sampled_from([30.0, 36.9, 39.0])),
                draw(st.sampled_from([float("nan"), 500.0, 1000.0, 3650.0, 4600.0])),
                draw(st.sampled_from([None, "positive", "unknown", "negative"])),
                draw(st.sampled_from([float("nan"), 1999.0, 2000.0, 3300.0])),
            )
        )
        for k in range(draw(st.integers(0, 2))):  # TB skin tests around 3 months of age
            on = add_age(born, parse_age("3m")) + timedelta(days=draw(st.sampled_from(_DELTAS)))
            tb.append((cid, f"{cid}-t{k}", on, draw(st.booleans())))
        anchors: list[date] = []
        for k in range(draw(st.integers(0, 12))):
            # a dose near a schedule age, or near an earlier dose of this child
            if anchors and draw(st.booleans()):
                base = draw(st.sampled_from(anchors))
            else:
                base = add_age(born, parse_age(draw(st.sampled_from(dose_ages))))
            on = base + timedelta(days=draw(st.sampled_from(_DELTAS)))
            anchors.append(on)
            imm = draw(st.sampled_from([f"{cid}-i{k}", f"{cid}-i0"]))  # repeated ids too
            doses.append((cid, imm, draw(st.sampled_from(vaccines)), on))
        for k in range(draw(st.integers(0, 6))):
            visit = draw(st.sampled_from(ruleset.checkups.visits))
            on = add_age(born, visit.age) + timedelta(
                days=draw(st.sampled_from([-8, -7, 0, 7, 30, 31, 90]))
            )
            vt = draw(st.sampled_from([None, "", visit.code, draw(st.sampled_from(visits)), "x"]))
            checkups.append((cid, f"{cid}-v{k}", on, vt))
        if centre is not None:
            for _ in range(draw(st.integers(1, 2))):
                entry = as_of - timedelta(days=draw(st.sampled_from([0, 29, 30, 31, 40, 330, 400])))
                entry = max(entry, born)
                state = draw(st.sampled_from([s.value for s in AdmissionState]))
                enrol.append((cid, draw(st.sampled_from(["org1", "org2"])), entry, state))
            for k in range(draw(st.integers(0, 3))):
                day = as_of - timedelta(days=draw(st.integers(0, 3)))
                temp = draw(st.sampled_from([float("nan"), 36.5, 37.2, 37.3, 38.9, 39.0]))
                symptoms = tuple(
                    draw(st.lists(st.sampled_from(["rash", "cough", "fever", "note"]), max_size=2))
                )
                checks.append(
                    (f"{cid}-d{k}", cid, centre, f"{centre}-k{i % 2}", day, temp, symptoms)
                )
        for k in range(draw(st.integers(0, 3))):
            age = draw(st.sampled_from(["6m", "5m", "1y", "6y", "0d", "1m", "4m"]))
            on = add_age(born, parse_age(age))
            on += timedelta(days=draw(st.sampled_from([-1, 0, 27, 28, 29, 60])))
            value = draw(
                st.sampled_from(
                    [59.0, 60.0, 89.0, 99.0, 109.0, 110.0, 112.0, 119.0, 125.0, 137.0, 146.0]
                )
            )
            hb.append((cid, f"{cid}-h{k}", on, value))
        for k in range(draw(st.integers(0, 2))):
            on = as_of - timedelta(days=draw(st.integers(0, 400)))
            items = tuple(
                draw(st.lists(st.sampled_from(sorted(ruleset.screening.item_ids())), max_size=2))
            )
            screens.append((cid, f"{cid}-s{k}", on, items, draw(st.booleans())))
        for k in range(draw(st.integers(0, 6))):
            if draw(st.booleans()):
                on = as_of - timedelta(days=draw(st.sampled_from([0, 0, 27, 28, 30, 61, 200, 900])))
            else:  # near birth (the birth weight of NG75 and Ong 2000)
                on = born + timedelta(days=draw(st.sampled_from([0, 2, 3, 4, 730, 731])))
            if on < born or on > as_of:
                continue
            z = draw(
                st.sampled_from(
                    [float("nan"), -3.1, -2.06, -2.0, -1.5, -1.2, 0.0, 0.67, 1.5, 2.1, 3.2]
                )
            )
            flag = draw(st.sampled_from([0, 0, 1]))
            weight = draw(st.sampled_from([float("nan"), 8.0, 8.05, 9.0]))
            growth.append(
                (
                    cid,
                    f"{cid}-g{k % 3}",
                    on,
                    (on - born).days,
                    z,
                    z - 0.7,
                    draw(st.sampled_from([float("nan"), -2.5, 0.0, z])),
                    z,
                    z,
                    flag,
                    0,
                    0,
                    0,
                    0,
                    weight,
                    draw(st.booleans()),
                )
            )

    def frame(rows: list[Any], columns: list[str], date_column: str = "date") -> pd.DataFrame:
        out = pd.DataFrame(rows, columns=columns)
        out[date_column] = pd.to_datetime(out[date_column])
        return out

    children_frame = pd.DataFrame(
        children,
        columns=[
            "child_id",
            "birth_date",
            "sex",
            "centre_id",
            "class_id",
            "discharge_date",
            "gestational_weeks",
            "altitude_m",
            "maternal_hbsag",
            "birth_weight_g",
        ],
    )
    for column in ("birth_date", "discharge_date"):
        children_frame[column] = pd.to_datetime(children_frame[column])
    data = DistrictData(
        children=children_frame,
        growth=frame(
            growth,
            [
                "child_id",
                "observation_id",
                "date",
                "age_days",
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
                "weight",
                "corrected",
            ],
        ),
        checkups=frame(checkups, ["child_id", "checkup_id", "date", "visit_type"]),
        doses=frame(doses, ["child_id", "immunization_id", "vaccine", "date"]),
        daily_checks=frame(
            checks,
            ["check_id", "child_id", "centre_id", "class_id", "date", "temperature_c", "symptoms"],
        ),
        haemoglobin=frame(hb, ["child_id", "observation_id", "date", "hb_g_l"]),
        screenings=frame(
            screens, ["child_id", "screening_id", "date", "positive_items", "regression"]
        ),
        enrolments=frame(
            enrol, ["child_id", "centre_id", "entry_date", "check_state"], "entry_date"
        ),
        tb_tests=frame(tb, ["child_id", "observation_id", "date", "negative"]),
    )
    return data, as_of


def _check(data: DistrictData, ruleset: RuleSet, as_of: date) -> None:
    _same_schedule_frames(data, ruleset, as_of)
    batch = frame_to_findings(ev.evaluate_district(data, ruleset, as_of))
    assert batch == _incremental(data, ruleset, as_of)


_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.data())
def test_boundary_districts_batch_equals_per_child(rs: RuleSet, data: st.DataObject) -> None:
    district, as_of = data.draw(_districts(rs))
    _check(district, rs, as_of)


@_SETTINGS
@given(st.data())
def test_boundary_districts_batch_equals_per_child_2021(
    rs2021: RuleSet, data: st.DataObject
) -> None:
    district, as_of = data.draw(_districts(rs2021))
    _check(district, rs2021, as_of)


def _one_child(
    born: date,
    *,
    doses: list[tuple[str, str, date]] = (),  # type: ignore[assignment]
    enrolments: list[tuple[str, date, str]] = (),  # type: ignore[assignment]
) -> DistrictData:
    children = pd.DataFrame(
        {
            "child_id": ["c1"],
            "birth_date": pd.to_datetime([born]),
            "sex": ["male"],
            "centre_id": ["org1" if enrolments else None],
        }
    )
    dose_frame = pd.DataFrame(
        [("c1", i, v, on) for i, v, on in doses],
        columns=["child_id", "immunization_id", "vaccine", "date"],
    )
    dose_frame["date"] = pd.to_datetime(dose_frame["date"])
    enrol_frame = pd.DataFrame(
        [("c1", c, on, s) for c, on, s in enrolments],
        columns=["child_id", "centre_id", "entry_date", "check_state"],
    )
    enrol_frame["entry_date"] = pd.to_datetime(enrol_frame["entry_date"])
    return DistrictData(children=children, doses=dose_frame, enrolments=enrol_frame)


def test_live_vaccine_window_postpones_a_due_dose(rs: RuleSet) -> None:
    """MMR-2 is due by age, but a live JE-L dose 10 days ago moves it 28 days later."""
    born, as_of = date(2025, 3, 1), date(2026, 11, 20)
    data = _one_child(
        born,
        doses=[("i1", "MMR", date(2025, 11, 1)), ("i2", "JE-L", date(2026, 11, 10))],
    )
    _check(data, rs, as_of)
    due = [
        f
        for f in frame_to_findings(ev.evaluate_district(data, rs, as_of))
        if f.kind.value == "vaccine-due"
    ]
    assert not any("MMR-2" in f.items for f in due)
    without_je = _one_child(born, doses=[("i1", "MMR", date(2025, 11, 1))])
    _check(without_je, rs, as_of)
    due = [
        f
        for f in frame_to_findings(ev.evaluate_district(without_je, rs, as_of))
        if f.kind.value == "vaccine-due"
    ]
    assert due
    assert "MMR-2" in due[0].items


@pytest.mark.parametrize(
    "entry", [date(2026, 12, 1), date(2026, 12, 2), date(2026, 10, 21), date(2026, 10, 22)]
)
def test_admission_deadlines_and_equal_enrolments(rs: RuleSet, entry: date) -> None:
    """30-day check and 31 December re-check around the evaluation date; two enrolments with
    the same entry date and centre: the first listed counts (as ``max``)."""
    born = date(2024, 1, 31)
    for as_of in (date(2026, 11, 20), date(2026, 12, 31), date(2027, 1, 1)):
        data = _one_child(
            born,
            enrolments=[
                ("org1", entry, AdmissionState.SUBMITTED.value),
                ("org1", entry, AdmissionState.ASSESSED_INCOMPLETE.value),
            ],
        )
        _check(data, rs, as_of)
