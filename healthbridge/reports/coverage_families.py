"""The coverage figures of each family, as boolean matrices units × figures.

Checkup coverage and the 4:2:2 / under-7 management rates, vaccination coverage, admission
checks and catch-up, frail-child management and case closure, signed centres, and (from
:mod:`healthbridge.reports.screening_coverage`) the screening rates; :func:`_families`
computes them all for one report date. The rules each follows are in the docstring of
:mod:`healthbridge.reports.coverage`, which aggregates these matrices into the coverage table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Final

import numpy as np
import pandas as pd

from healthbridge.reports.coverage_inputs import (
    _CATCHUP_DONE_STATES,
    _CHECKED,
    _NEEDS_CATCHUP,
    ADMISSION_STATES,
    CATCHUP_DONE,
    CheckupSchedule,
    CoverageInputs,
    _child_groups,
    _days,
    _Family,
    _pair_matrix,
    _require,
    add_months,
    load_checkup_schedule,
)
from healthbridge.reports.errors import ReportInputError
from healthbridge.reports.screening_coverage import screening_family

#: Outcomes that count as a closure (结案) in ``case-closure``.
CLOSED_OUTCOMES = frozenset({"cured", "improved", "referred"})


def _all_text(*columns: pd.Series) -> bool:
    """Whether every value of ``columns`` is a text (no missing value, no number): then the
    plain values match as their ``astype("string")`` would."""
    return all(
        pd.api.types.infer_dtype(c, skipna=True) == "string" and not c.isna().any() for c in columns
    )


def _checkup_families(
    inputs: CoverageInputs,
    as_of: np.datetime64,
    period_start: np.datetime64,
    grace_days: int,
    schedule: CheckupSchedule,
) -> list[_Family]:
    children = inputs.children
    ids = children["child_id"].astype("string").to_numpy(dtype=object)
    birth = _days(children["birth_date"])
    born = ~np.isnat(birth) & (birth <= as_of)
    groups = _child_groups(children, as_of)
    child_index = pd.Index(ids)
    grace = np.timedelta64(grace_days, "D")

    checkups = inputs.checkups
    _require(checkups, "checkups", ("child_id", "date", "visit_code"))
    c_dates = _days(checkups["date"])
    done_by_as_of = ~np.isnat(c_dates) & (c_dates <= as_of)
    in_period = done_by_as_of & (c_dates >= period_start)

    visits = schedule.visits
    codes_index = pd.Index([v.code for v in visits])
    excluded = list(schedule.health_excluded_codes)
    if _all_text(children["child_id"], checkups["child_id"], checkups["visit_code"]):
        # every id and code a text: each checkup's child row and visit column by one lookup
        # of the plain values (what the string-dtype lookups below give, without converting)
        row = pd.Index(ids, dtype=object).get_indexer(
            pd.Index(checkups["child_id"].to_numpy(dtype=object), dtype=object)
        )
        codes = pd.Index(checkups["visit_code"].to_numpy(dtype=object), dtype=object)
        col = pd.Index(codes_index, dtype=object).get_indexer(codes)
        attended = np.zeros((len(ids), len(visits)), dtype=bool)
        hit = done_by_as_of & (row >= 0) & (col >= 0)
        attended[row[hit], col[hit]] = True
        in_period &= ~codes.isin(excluded)
        had_exam = np.zeros(len(ids), dtype=bool)
        had_exam[row[in_period & (row >= 0)]] = True
    else:
        c_codes = checkups["visit_code"].astype("string")
        c_child = checkups["child_id"].astype("string")
        attended = _pair_matrix(
            child_index, codes_index, c_child[done_by_as_of], c_codes[done_by_as_of]
        )
        in_period &= ~c_codes.isin(excluded).fillna(False).to_numpy()
        had_exam = child_index.isin(c_child[in_period].dropna().unique())
    due = np.column_stack([add_months(birth, v.due_months) + grace <= as_of for v in visits])
    due &= born[:, None]
    under7 = born & (as_of < add_months(birth, schedule.health_max_age_months))
    checkup_family = _Family(
        unit="child",
        ids=ids,
        groups=groups,
        codes=tuple(f"checkup:{v.code}" for v in visits),
        labels_zh=tuple(f"{v.label_zh}覆盖率" for v in visits),
        labels_en=tuple(f"{v.label_en} coverage" for v in visits),
        denominator=due & under7[:, None],
        numerator=due & under7[:, None] & attended,
    )

    # 4:2:2 systematic management of under-3s.
    under3 = born & (as_of < add_months(birth, schedule.systematic_max_age_months))
    counted = [i for i, v in enumerate(visits) if v.systematic_year is not None]
    first = min(counted, key=lambda i: visits[i].due_months)
    denom_sm = under3 & due[:, first]
    managed = np.ones(len(ids), dtype=bool)
    years = {y for i in counted if (y := visits[i].systematic_year) is not None}
    for year in sorted(years):
        cols = [i for i in counted if visits[i].systematic_year == year]
        n_due = due[:, cols].sum(axis=1)
        n_done = attended[:, cols].sum(axis=1)
        managed &= n_done >= n_due
    # Under-7 health management (had_exam): at least one checkup in the period.
    management_family = _Family(
        unit="child",
        ids=ids,
        groups=groups,
        codes=("systematic-management-u3", "health-management-u7"),
        labels_zh=("3岁以下儿童系统管理率（4:2:2）", "7岁以下儿童健康管理率"),
        labels_en=(
            "Under-3 systematic management rate (4:2:2)",
            "Under-7 health management rate",
        ),
        denominator=np.column_stack([denom_sm, under7]),
        numerator=np.column_stack([denom_sm & managed, under7 & had_exam]),
    )
    return [checkup_family, management_family]


def _vaccination_family(
    inputs: CoverageInputs, as_of: np.datetime64, grace_days: int
) -> _Family | None:
    required = inputs.required_doses
    _require(required, "required_doses", ("vaccine", "dose", "due_age_days"))
    if required.empty:
        return None
    children = inputs.children
    ids = children["child_id"].astype("string").to_numpy(dtype=object)
    birth = _days(children["birth_date"])
    born = ~np.isnat(birth) & (birth <= as_of)
    req = required.assign(
        vaccine=required["vaccine"].astype("string"),
        dose=pd.to_numeric(required["dose"]).astype("int64"),
        due_age_days=pd.to_numeric(required["due_age_days"]).astype("int64"),
    ).drop_duplicates(["vaccine", "dose"])
    due_days = req["due_age_days"].to_numpy()
    due = born[:, None] & (
        birth[:, None] + (due_days + grace_days).astype("timedelta64[D]")[None, :] <= as_of
    )
    vacc = inputs.vaccinations
    _require(vacc, "vaccinations", ("child_id", "vaccine", "dose", "date"))
    v_dates = _days(vacc["date"])
    given = ~np.isnat(v_dates) & (v_dates <= as_of)
    pairs = pd.MultiIndex.from_arrays(
        [
            vacc["vaccine"].astype("string")[given],
            pd.to_numeric(vacc["dose"][given]).astype("int64"),
        ]
    )
    dose_index = pd.MultiIndex.from_arrays([req["vaccine"], req["dose"]])
    received = _pair_matrix(
        pd.Index(ids), dose_index, vacc["child_id"].astype("string")[given], pairs
    )
    names = list(zip(req["vaccine"], req["dose"], strict=True))
    return _Family(
        unit="child",
        ids=ids,
        groups=_child_groups(children, as_of),
        codes=tuple(f"vaccination:{v}:{d}" for v, d in names),
        labels_zh=tuple(f"{v} 第{d}剂接种率" for v, d in names),
        labels_en=tuple(f"{v} dose {d} coverage" for v, d in names),
        denominator=due,
        numerator=due & received,
    )


def _admission_family(
    inputs: CoverageInputs, as_of: np.datetime64, period_start: np.datetime64
) -> _Family | None:
    checks = inputs.admission_checks
    _require(checks, "admission_checks", ("child_id", "centre", "entry_date", "status"))
    if checks.empty:
        return None
    status = checks["status"].astype("string").str.strip()
    unknown = sorted(set(status.dropna()) - ADMISSION_STATES)
    if unknown or status.isna().any():
        raise ReportInputError(f"admission_checks: unknown status value(s): {unknown or ['NA']}")
    entry = _days(checks["entry_date"])
    entrant = ~np.isnat(entry) & (entry >= period_start) & (entry <= as_of)
    checked = status.isin(list(_CHECKED)).to_numpy()
    needs = status.isin(list(_NEEDS_CATCHUP)).to_numpy()
    done = np.array(status.isin(list(_CATCHUP_DONE_STATES)).to_numpy(), dtype=bool)
    if "catchup_status" in checks.columns:
        cs = checks["catchup_status"].astype("string").str.strip()
        done |= cs.isin(list(CATCHUP_DONE)).fillna(False).to_numpy()
    groups = pd.DataFrame(
        {
            "centre": checks["centre"].astype("string").to_numpy(),
            "district": (
                checks["district"].astype("string").to_numpy()
                if "district" in checks.columns
                else pd.array([pd.NA] * len(checks), dtype="string")
            ),
        }
    )
    return _Family(
        unit="child",
        ids=checks["child_id"].astype("string").to_numpy(dtype=object),
        groups=groups,
        codes=("admission-check", "admission-catchup"),
        labels_zh=("入托儿童预防接种证查验率", "查验后补种完成率"),
        labels_en=("Admission vaccination-certificate check rate", "Catch-up completion rate"),
        denominator=np.column_stack([entrant, entrant & needs]),
        numerator=np.column_stack([entrant & checked, entrant & needs & done]),
    )


def _case_family(
    inputs: CoverageInputs, as_of: np.datetime64, period_start: np.datetime64
) -> _Family | None:
    cases, frail = inputs.cases, inputs.frail
    _require(cases, "cases", ("child_id", "start"))
    _require(frail, "frail", ("child_id", "date"))
    if cases.empty and frail.empty:
        return None
    children = inputs.children
    ids = children["child_id"].astype("string").to_numpy(dtype=object)
    start = _days(cases["start"])
    end = (
        _days(cases["end"])
        if "end" in cases.columns
        else np.full(len(cases), np.datetime64("NaT"), dtype="datetime64[D]")
    )
    # open at some time in [period_start, as_of]
    managed = ~np.isnat(start) & (start <= as_of) & (np.isnat(end) | (end >= period_start))
    outcome = (
        cases["outcome"].astype("string")
        if "outcome" in cases.columns
        else pd.Series(pd.NA, index=cases.index, dtype="string")
    )
    closed = (
        managed
        & ~np.isnat(end)
        & (end <= as_of)
        & outcome.isin(list(CLOSED_OUTCOMES)).fillna(False).to_numpy(dtype=bool)
    )
    case_child = cases["child_id"].astype("string")
    index = pd.Index(ids)
    has_case = index.isin(case_child[managed].dropna().unique())
    has_closed = index.isin(case_child[closed].dropna().unique())
    seen = _days(frail["date"])
    in_period = ~np.isnat(seen) & (seen >= period_start) & (seen <= as_of)
    identified = has_case | index.isin(
        frail["child_id"].astype("string")[in_period].dropna().unique()
    )
    return _Family(
        unit="child",
        ids=ids,
        groups=_child_groups(children, as_of),
        codes=("managed-frail", "case-closure"),
        labels_zh=("体弱儿管理率", "体弱儿结案率"),
        labels_en=("Frail-child management rate", "Managed-case closure rate"),
        denominator=np.column_stack([identified, has_case]),
        numerator=np.column_stack([identified & has_case, has_case & has_closed]),
    )


def _centre_family(inputs: CoverageInputs, as_of: np.datetime64) -> _Family | None:
    centres = inputs.centres
    _require(centres, "centres", ("centre",))
    if centres.empty:
        return None
    filed = (
        centres["filed"].fillna(False).astype(bool).to_numpy()
        if "filed" in centres.columns
        else np.ones(len(centres), dtype=bool)
    )
    ags = inputs.agreements
    _require(ags, "agreements", ("centre", "hospital", "signed_on"))
    signed = _days(ags["signed_on"])
    active = ~np.isnat(signed) & (signed <= as_of)
    if "ends_on" in ags.columns:
        ends = _days(ags["ends_on"])
        active &= np.isnat(ends) | (ends >= as_of)
    ids = centres["centre"].astype("string").to_numpy(dtype=object)
    has_agreement = pd.Index(ids).isin(ags["centre"].astype("string")[active].dropna().unique())
    groups = pd.DataFrame(
        {
            "centre": centres["centre"].astype("string").to_numpy(),
            "district": (
                centres["district"].astype("string").to_numpy()
                if "district" in centres.columns
                else pd.array([pd.NA] * len(centres), dtype="string")
            ),
        }
    )
    return _Family(
        unit="centre",
        ids=ids,
        groups=groups,
        codes=("signed-centres",),
        labels_zh=("医育结合签约托育机构比例",),
        labels_en=("Centres with a signed medical-childcare agreement",),
        denominator=filed[:, None],
        numerator=(filed & has_agreement)[:, None],
    )


#: The families :func:`_families` computes, by name (``coverage_table(families=...)``).
FAMILIES: Final = ("checkup", "vaccination", "admission", "case", "centre", "screening")


def _families(
    inputs: CoverageInputs,
    as_of: dt.date,
    period_start: dt.date | None,
    grace_days: int,
    only: Collection[str] | None = None,
) -> list[_Family]:
    """The families of :data:`FAMILIES` (``only`` those named: each family is computed on
    its own, so leaving one out changes no figure of another)."""
    if only is not None and (not only or set(only) - set(FAMILIES)):
        raise ReportInputError(f"coverage families are some of {FAMILIES}, not {sorted(only)}")
    _require(inputs.children, "children", ("child_id", "birth_date"))
    if grace_days < 0:
        raise ReportInputError("grace_days must not be negative")
    day = np.datetime64(as_of, "D")
    start = (
        np.datetime64(period_start, "D")
        if period_start is not None
        else day - np.timedelta64(364, "D")
    )
    wanted = set(FAMILIES if only is None else only)
    families: list[_Family] = []
    if "checkup" in wanted:
        families += _checkup_families(inputs, day, start, grace_days, load_checkup_schedule())
    extras: tuple[tuple[str, Callable[[], _Family | None]], ...] = (
        ("vaccination", lambda: _vaccination_family(inputs, day, grace_days)),
        ("admission", lambda: _admission_family(inputs, day, start)),
        ("case", lambda: _case_family(inputs, day, start)),
        ("centre", lambda: _centre_family(inputs, day)),
        ("screening", lambda: screening_family(inputs, day, start)),
    )
    for name, family in extras:
        extra = family() if name in wanted else None
        if extra is not None:
            families.append(extra)
    return families
