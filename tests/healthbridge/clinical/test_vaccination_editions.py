"""NIP editions by date, vaccine products, and the smaller schedule fixes (issue 15, items 1, 2, 4).

Sources (DOMAIN.md §1.1–1.3; the rule tables ``nip-2021``, ``nip-2025``, ``nip-2026`` and
``vaccine-products`` cite them):

* 2021 edition (国卫疾控发〔2021〕10号): DTaP at 3/4/5/18 m and DT at 6 y; MPSV-A dose 2
  before 18 m; 说明 on polio: 4 doses of IPV-containing vaccine by label complete polio;
  combination vaccines count as the NIP doses of their antigens;
* Dec-2024 DTaP notice, effective 2025-01-01: DTaP at 2/4/6/18 m and 6 y;
* 2026 edition (国疾控卫免发〔2026〕16号, 2026-06-17): MPSV-A dose 2 before 24 m;
* JE-I doses 1 and 2 are 7–10 days apart.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from healthbridge.clinical import evaluate as ev
from healthbridge.clinical.admission import AdmissionState, admission_check
from healthbridge.clinical.ages import add_age, parse_age
from healthbridge.clinical.errors import RuleTableError
from healthbridge.clinical.records import DistrictData, child_records
from healthbridge.clinical.ruleset import RuleSet, default_rules_dir, load_ruleset
from healthbridge.clinical.vaccination import (
    INVALID_REASON_TEXT,
    DoseStatus,
    GivenDose,
    InvalidReason,
    vaccination_findings,
    vaccination_plan,
)
from healthbridge.clinical.vocab import AlertKind, Sex

TODAY = date(2026, 12, 6)


def _at(birth: date, age: str) -> date:
    return add_age(birth, parse_age(age))


def _plan(rs: RuleSet, birth: date, doses: list[tuple[str, str]], as_of: date = TODAY):
    given = [GivenDose(f"i{k}", v, _at(birth, a)) for k, (v, a) in enumerate(doses)]
    return vaccination_plan(birth, Sex.MALE, given, rs.vaccination, as_of)


#: every dose due by 3 y 5 m on the 2021 schedule, at the 2021 ages
SCHEDULE_2021 = [
    ("HepB", "0d"),
    ("BCG", "0d"),
    ("HepB", "1m"),
    ("IPV", "2m"),
    ("IPV", "3m"),
    ("DTaP", "3m"),
    ("bOPV", "4m"),
    ("DTaP", "4m"),
    ("DTaP", "5m"),
    ("HepB", "6m"),
    ("MPSV-A", "6m"),
    ("MMR", "8m"),
    ("JE-L", "8m"),
    ("MPSV-A", "9m"),
    ("DTaP", "18m"),
    ("MMR", "18m"),
    ("HepA-L", "18m"),
    ("JE-L", "2y"),
    ("MPSV-AC", "3y"),
]


def test_child_vaccinated_on_the_2021_schedule_is_complete(rs: RuleSet) -> None:
    """Born 2023-06-15, every dose on time under the 2021 edition (DTaP at 3/4/5/18 m): no
    invalid dose, nothing overdue, and the 入托查验 finds nothing missing."""
    birth = date(2023, 6, 15)
    p = _plan(rs, birth, SCHEDULE_2021)
    assert p.invalid == ()
    assert p.with_status(DoseStatus.OVERDUE, DoseStatus.DUE) == ()
    assert [p.dose(f"DTP-{n}").status for n in (1, 2, 3, 4)] == [DoseStatus.GIVEN] * 4
    findings = vaccination_findings("c1", p, rs.vaccination)
    assert AlertKind.VACCINE_OVERDUE not in {f.kind for f in findings}
    check = admission_check(
        "c1", "org1", date(2026, 9, 1), AdmissionState.SUBMITTED, p, rs.vaccination, TODAY
    )
    assert check.missing_doses == ()
    # the 2026 table alone would have refused the 5-month DTaP dose (minimum age 6 m)
    assert rs.vaccination.edition_at(_at(birth, "5m")).meta.id == "nip-2021"


def test_dtap_transition_on_1_january_2025(rs: RuleSet) -> None:
    """Born 2024-09-10: DTaP 1 at 3 m in December 2024 counts (2021 edition); from 2025 the
    notice's schedule applies to the next doses: a dose at 5 m in 2025 is before dose 3's new
    minimum age (6 m) and does not count; dose 3 is due from 6 months."""
    birth = date(2024, 9, 10)
    p = _plan(rs, birth, [("DTaP", "3m"), ("DTaP", "4m"), ("DTaP", "5m")])
    assert p.dose("DTP-1").given is not None
    assert p.dose("DTP-2").given is not None
    assert [(i.dose.on, i.reason) for i in p.invalid] == [
        (date(2025, 2, 10), InvalidReason.BEFORE_MIN_AGE)
    ]
    assert p.dose("DTP-3").status is DoseStatus.OVERDUE  # 12 months passed, not yet given
    # the same 5-month dose given under the 2021 edition (born a year earlier) counts
    early = date(2023, 9, 10)
    assert _plan(rs, early, [("DTaP", "3m"), ("DTaP", "4m"), ("DTaP", "5m")]).invalid == ()


def test_editions_cover_every_day(rs: RuleSet) -> None:
    editions = rs.vaccination.editions()
    assert [e.meta.id for e in editions] == ["nip-2021", "nip-2025", "nip-2026"]
    for old, new in pairwise(editions):
        assert old.effective_to is not None
        assert old.effective_to + timedelta(days=1) == new.meta.effective_from
    assert rs.vaccination.edition_at(date(2024, 12, 31)).meta.id == "nip-2021"
    assert rs.vaccination.edition_at(date(2025, 1, 1)).meta.id == "nip-2025"
    assert rs.vaccination.edition_at(date(2026, 6, 16)).meta.id == "nip-2025"
    assert rs.vaccination.edition_at(date(2026, 6, 17)).meta.id == "nip-2026"


def test_loader_refuses_a_gap_between_editions(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(Path(str(default_rules_dir())), rules)
    path = rules / "CN" / "nip-2025.toml"
    path.write_text(
        path.read_text().replace("effective_to = 2026-06-16", "effective_to = 2026-06-01")
    )
    with pytest.raises(RuleTableError, match="uncovered"):
        load_ruleset("cn-child-health", "2026.1", rules_dir=rules)  # type: ignore[arg-type]


def test_combination_vaccine_counts_for_each_antigen(rs: RuleSet) -> None:
    """DTaP-IPV/Hib at 2, 3, 4 and 18 months: DTaP 1–4 and polio 1–4 are given; by the 2021
    说明 the 4th IPV-containing dose completes polio, so no bOPV is due at 4 years."""
    birth = date(2022, 1, 20)
    five = [("DTaP-IPV-Hib", a) for a in ("2m", "3m", "4m", "18m")]
    p = _plan(rs, birth, five, as_of=date(2026, 3, 1))  # 4 y 1 m
    assert [p.dose(f"DTP-{n}").status for n in (1, 2, 3, 4)] == [DoseStatus.GIVEN] * 4
    assert [p.dose(f"polio-{n}").status for n in (1, 2, 3, 4)] == [DoseStatus.GIVEN] * 4
    # the 2-month 5-in-1 counts by its label although plain DTaP started at 3 m in 2022
    first = p.dose("DTP-1").given
    assert first is not None
    assert first.on == _at(birth, "2m")
    assert first.product == "DTaP-IPV-Hib"
    assert p.invalid == ()
    # a plain DTaP at 2 m in 2022 was before the 2021 minimum age (3 m) and does not count
    plain_dtap = _plan(rs, birth, [("DTaP", "2m")], as_of=date(2022, 4, 1))
    assert plain_dtap.invalid[0].reason is InvalidReason.BEFORE_MIN_AGE
    # without the IPV-containing 4th dose, bOPV is due at 4 years
    plain = _plan(rs, birth, [("IPV", "2m"), ("IPV", "3m"), ("bOPV", "4m")], date(2026, 3, 1))
    assert plain.dose("polio-4").status is DoseStatus.DUE
    # a bOPV at 18 m is still before polio dose 4's minimum age (4 y)
    early_opv = _plan(
        rs, birth, [("IPV", "2m"), ("IPV", "3m"), ("bOPV", "4m"), ("bOPV", "18m")], date(2026, 3, 1)
    )
    assert early_opv.dose("polio-4").status is DoseStatus.DUE


def test_unrecognised_code_is_not_not_in_schedule(rs: RuleSet) -> None:
    birth = date(2026, 1, 31)
    p = _plan(rs, birth, [("PCV13", "2m"), ("XYZ-123", "2m")], as_of=date(2026, 4, 1))
    reasons = {i.dose.vaccine: i.reason for i in p.invalid}
    assert reasons == {"PCV13": InvalidReason.UNSCHEDULED, "XYZ-123": InvalidReason.NOT_RECOGNISED}
    zh, en = INVALID_REASON_TEXT[InvalidReason.NOT_RECOGNISED]
    assert "无法识别" in zh
    assert "not recognised" in en
    assert INVALID_REASON_TEXT[InvalidReason.UNSCHEDULED] != (zh, en)
    assert set(INVALID_REASON_TEXT) == set(InvalidReason)


def test_je_inactivated_dose_2_overdue_after_10_days(rs: RuleSet) -> None:
    """JE-I doses 1 and 2 are 7–10 days apart: dose 2 is overdue from day 11."""
    birth = date(2026, 1, 31)
    d1 = _at(birth, "8m")
    for days, status in ((9, DoseStatus.DUE), (10, DoseStatus.DUE), (11, DoseStatus.OVERDUE)):
        p = _plan(rs, birth, [("JE-I", "8m")], as_of=d1 + timedelta(days=days))
        assert p.dose("JE-I-2").status is status, days


def test_dtap_dose_5_needs_12_months_after_dose_4(rs: RuleSet) -> None:
    """2021 说明 补种: the 6-year dose ≥ 12 months after DTaP dose 4 (tagged ? in the table)."""
    birth = date(2020, 1, 10)
    late4 = [("DTaP", a) for a in ("3m", "4m", "5m")] + [("DTaP", "5y6m")]
    p = _plan(rs, birth, late4, as_of=_at(birth, "6y1m"))
    assert p.dose("DTP-5").earliest == _at(birth, "6y6m")
    assert p.dose("DTP-5").status is DoseStatus.NOT_YET_DUE


def test_mpsv_a_dose_1_has_no_12_month_limit_in_2021(rs2021: RuleSet) -> None:
    """The 2021 text sets no "complete before" age for MPSV-A dose 1 (dose 2 before 18 m):
    not overdue at 12 months; overdue from 15 months (our derived limit, tagged ?)."""
    birth = date(2022, 3, 1)
    assert _plan(rs2021, birth, [], _at(birth, "13m")).dose("MEN-1").status is DoseStatus.DUE
    assert _plan(rs2021, birth, [], _at(birth, "15m")).dose("MEN-1").status is DoseStatus.OVERDUE


def test_batch_equals_per_child_across_editions_and_products(rs: RuleSet) -> None:
    """The vectorised ``evaluate`` gives the incremental path's findings for these children."""
    births = [date(2023, 6, 15), date(2024, 9, 10), date(2022, 1, 20), date(2024, 12, 31)]
    children = pd.DataFrame(
        {
            "child_id": [f"c{i}" for i in range(len(births))],
            "birth_date": pd.to_datetime(births),
            "sex": ["male", "female", "male", "female"],
        }
    )
    rows = [("c0", f"a{k}", v, _at(births[0], a)) for k, (v, a) in enumerate(SCHEDULE_2021)]
    rows += [("c1", f"b{k}", "DTaP", _at(births[1], a)) for k, a in enumerate(("3m", "4m", "5m"))]
    rows += [
        ("c2", f"d{k}", v, _at(births[2], a))
        for k, (v, a) in enumerate(
            [
                *[("DTaP-IPV-Hib", a) for a in ("2m", "3m", "4m", "18m")],
                ("XYZ", "5m"),
                ("PCV13", "2m"),
                ("MMRV", "8m"),
            ]
        )
    ]
    rows += [("c3", "e0", "DTaP", date(2024, 12, 31) + timedelta(days=61))]
    doses = pd.DataFrame(rows, columns=["child_id", "immunization_id", "vaccine", "date"])
    doses["date"] = pd.to_datetime(doses["date"])
    data = DistrictData(children=children, doses=doses)
    for as_of in (TODAY, date(2025, 3, 1), date(2026, 6, 17)):
        fast = ev._schedule_frame(data, rs, as_of)
        slow = ev._reference_schedule_frame(data, rs, as_of)
        fast = fast.sort_values(["subject_type", "subject", "kind"], kind="mergesort")
        pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow)
    found = [f for r in child_records(data) for f in ev.evaluate_child(r, rs, TODAY)]
    overdue = {f.subject: f.items for f in found if f.kind is AlertKind.VACCINE_OVERDUE}
    assert "c0" not in overdue


def test_every_product_code_is_in_the_nip_vaccine_code_system(rs: RuleSet) -> None:
    """The rule tables name only codes of CodeSystem nip-vaccine (what the ConceptMap maps
    CVX/ATC codes to), so every credited product can be recorded and translated."""
    import json

    root = Path(__file__).resolve().parents[3] / "fhir_profiles"
    system = json.loads((root / "CodeSystem" / "nip-vaccine.json").read_text())
    codes = {c["code"] for c in system["concept"]}
    products = rs.vaccination.products
    assert products is not None
    named = {p.code for p in products.products} | {v.code for v in rs.vaccination.vaccines}
    assert named <= codes
    concept_map = json.loads((root / "ConceptMap" / "nip-vaccine-cvx-atc.json").read_text())
    for group in concept_map["group"]:
        assert {e["code"] for e in group["element"]} == codes
