"""The schedule rules vectorised over a whole district (batch path of ``evaluate_district``).

The per-child functions (:func:`~healthbridge.clinical.vaccination.vaccination_plan`,
:func:`~healthbridge.clinical.checkups.checkup_plan`, the admission check, anaemia, warning
signs, daily checks) stay the definition of each rule and the incremental path; this module
computes the same findings for every child at once, with numpy arrays of day numbers
(:func:`~healthbridge.clinical.ages.day_number`) instead of one Python loop per child:

* vaccination: the dose-filling state machine of ``vaccination_plan`` runs per series and per
  product-option group, one step per "j-th dose of the series" and per dose number, each step
  over every child at once (minimum age, minimum and extra intervals, give-until, the 28-day
  live-vaccine rule through a sorted array of live dose dates); statuses and catch-up dates
  follow as array expressions;
* checkups: visit windows per child as arrays, typed checkups matched first, untyped ones
  matched in date order to the earliest open window;
* admission check: the latest enrolment per child and the missing doses from the vaccination
  states;
* anaemia, warning signs, daily checks: the children who can have a finding are selected with
  array operations (latest Hb anaemic, latest screening positive, a febrile or symptomatic
  check today) and only those run the per-child function.

Every threshold, age and severity comes from the rule tables, as in the per-child functions.
``tests/healthbridge/clinical/test_schedule_batch.py`` proves the findings equal the per-child
path's, on seeded and Hypothesis-generated districts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical._days import MISSING, NEVER, Days, add, add_by_birth, day_numbers
from healthbridge.clinical.admission import (
    AdmissionState,
    admission_check_of,
    admission_finding,
)
from healthbridge.clinical.ages import Age, day_number, from_day_number
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.anaemia import HbResult, anaemia_findings
from healthbridge.clinical.daily_check import DailyCheck, daily_check_findings
from healthbridge.clinical.frames import FINDING_COLUMNS, findings_to_frame
from healthbridge.clinical.records import DistrictData
from healthbridge.clinical.ruleset import RuleSet
from healthbridge.clinical.screening import ScreeningRecord, screening_findings
from healthbridge.clinical.tables import CheckupTable
from healthbridge.clinical.tables_care import AnaemiaTable, DailyCheckTable, ScreeningTable
from healthbridge.clinical.tables_vaccination import DoseRule, VaccinationTable
from healthbridge.clinical.vaccination import (
    NEEDS_TEST_SUFFIX,
    DoseStatus,
    TbTest,
    edition_rules,
    latest_test_positive,
    negative_test_valid,
    schedule_lookups,
)
from healthbridge.clinical.vocab import AlertKind, Sex

Mask = npt.NDArray[np.bool_]

_OFFSET = np.int64(1 << 31)

_STATUSES = (
    DoseStatus.GIVEN,
    DoseStatus.DUE,
    DoseStatus.OVERDUE,
    DoseStatus.NOT_YET_DUE,
    DoseStatus.NOT_APPLICABLE,
)
_CODE = {s: np.int8(i) for i, s in enumerate(_STATUSES)}


# --------------------------------------------------------------------------- common


@dataclass(frozen=True, eq=False)
class Children:
    """The children frame as arrays; record frames are located by ``child_id``."""

    ids: list[str]
    index: pd.Index
    birth: Days
    sex: npt.NDArray[np.object_]
    discharge: Days
    #: the distinct birth dates, and each child's position among them
    birth_dates: Days
    birth_index: npt.NDArray[np.intp]
    #: metres above sea level (NaN: unknown)
    altitude: npt.NDArray[np.float64]

    @property
    def n(self) -> int:
        return len(self.ids)

    def at_age(self, age: Age) -> Days:
        """Each child's date at ``age`` (``ages.add_age`` once per distinct birth date)."""
        return add(self.birth_dates, age)[self.birth_index]

    def locate(self, column: pd.Series) -> npt.NDArray[np.int64]:
        """Row position of each record's child in the children frame (-1: not a child)."""
        return np.asarray(self.index.get_indexer(pd.Index(column.astype(str))), dtype=np.int64)


def children_arrays(children: pd.DataFrame) -> Children | None:
    """Arrays of the children frame, or ``None`` when child ids repeat (the per-child path
    then evaluates each row on its own, as before)."""
    ids = children["child_id"].astype(str)
    index = pd.Index(ids)
    if not index.is_unique:
        return None
    sexes = children["sex"].astype(str).to_numpy(dtype=object)
    for value in set(sexes):
        Sex(value)  # the per-child path rejects an unknown sex the same way
    if "discharge_date" in children.columns:
        discharge = day_numbers(children["discharge_date"])
    else:
        discharge = np.full(len(ids), MISSING, dtype=np.int64)
    birth = day_numbers(children["birth_date"])
    unique, inverse = np.unique(birth, return_inverse=True)
    if "altitude_m" in children.columns:
        altitude = pd.to_numeric(children["altitude_m"], errors="coerce").to_numpy(dtype=float)
    else:
        altitude = np.full(len(ids), np.nan)
    return Children(
        ids.tolist(),
        index,
        birth,
        sexes,
        discharge,
        unique,
        np.asarray(inverse, dtype=np.intp).reshape(-1),
        altitude,
    )


def _dates(days: Days) -> list[date]:
    """``datetime.date`` objects of day numbers."""
    out: list[date] = days.astype("datetime64[D]").astype(object).tolist()
    return out


def _ranks(sorted_keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0, 1, 2… within each run of equal keys of a sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    lengths = np.diff(np.r_[starts, len(sorted_keys)])
    ranks: npt.NDArray[np.int64] = np.arange(len(sorted_keys)) - np.repeat(starts, lengths)
    return ranks


def _text_codes(values: npt.NDArray[np.object_]) -> npt.NDArray[np.str_]:
    """Strings as a fixed-width array for sorting (code-point order, as Python sorts str;
    several times faster in ``np.lexsort`` than Python objects)."""
    return np.asarray(values, dtype=str)


class _Rows:
    """Findings frame rows collected column-wise (child subjects)."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in FINDING_COLUMNS}

    def add(self, f: Finding) -> None:
        self.add_values(
            f.subject,
            f.kind,
            f.severity.value,
            f.grade,
            f.evidence_ids,
            f.items,
            f.detail,
            f.rule_id,
            f.rule_version,
            f.observed_on,
            f.subject_type.value,
        )

    def add_values(
        self,
        subject: str,
        kind: AlertKind,
        severity: str,
        grade: str,
        evidence: tuple[str, ...],
        items: tuple[str, ...],
        detail: str,
        rule_id: str,
        rule_version: str,
        observed_on: date | None,
        subject_type: str = "child",
    ) -> None:
        c = self.columns
        c["subject"].append(subject)
        c["subject_type"].append(subject_type)
        c["kind"].append(kind.value)
        c["severity"].append(severity)
        c["grade"].append(grade)
        c["evidence_ids"].append(evidence)
        c["items"].append(items)
        c["detail"].append(detail)
        c["rule_id"].append(rule_id)
        c["rule_version"].append(rule_version)
        c["observed_on"].append(observed_on)

    def extend(
        self,
        subjects: list[str],
        kind: AlertKind,
        severity: str,
        evidence: list[tuple[str, ...]],
        items: list[tuple[str, ...]],
        details: list[str],
        rule_id: str,
        rule_version: str,
        observed_on: list[date],
    ) -> None:
        """Many child findings of one kind (grade empty)."""
        n = len(subjects)
        c = self.columns
        c["subject"] += subjects
        c["subject_type"] += ["child"] * n
        c["kind"] += [kind.value] * n
        c["severity"] += [severity] * n
        c["grade"] += [""] * n
        c["evidence_ids"] += evidence
        c["items"] += items
        c["detail"] += details
        c["rule_id"] += [rule_id] * n
        c["rule_version"] += [rule_version] * n
        c["observed_on"] += observed_on

    def frame(self) -> pd.DataFrame:
        if not self.columns["subject"]:
            return findings_to_frame(())
        return pd.DataFrame(self.columns, columns=list(FINDING_COLUMNS))


# --------------------------------------------------------------------------- vaccination


@dataclass(frozen=True, eq=False)
class DoseStates:
    """Vaccination states of every child, one row per (child, scheduled dose) kept.

    Rows are in plan order (child, scheduled date, series, dose number), as
    :attr:`VaccinationPlan.doses`; ``given_*`` lists the doses that fulfilled a scheduled dose.
    """

    child: npt.NDArray[np.int64]
    rule: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    scheduled: Days
    series: npt.NDArray[np.int64]
    given_child: npt.NDArray[np.int64]
    given_series: npt.NDArray[np.int64]
    given_id: npt.NDArray[np.object_]
    #: a missing dose that needs a negative TB skin test first (``DoseState.needs_test``)
    needs_test: Mask


@dataclass(frozen=True, eq=False)
class ChildFactArrays:
    """Per child: the special-population conditions met, and a valid negative TB skin test
    (as ``VaccinationTable.conditions_of`` and ``vaccination.negative_test_valid``)."""

    conditions: dict[str, Mask]
    tested: Mask
    #: the latest skin test is positive: no BCG catch-up
    positive: Mask


def child_fact_arrays(
    ch: Children,
    children: pd.DataFrame,
    tb_tests: pd.DataFrame,
    table: VaccinationTable,
    as_of: date,
) -> ChildFactArrays:
    n = ch.n
    if "maternal_hbsag" in children.columns:
        column = children["maternal_hbsag"]
        status = column.astype(object).where(column.notna(), None).to_numpy(dtype=object)
    else:
        status = np.full(n, None, dtype=object)
    if "birth_weight_g" in children.columns:
        weight = pd.to_numeric(children["birth_weight_g"], errors="coerce").to_numpy(dtype=float)
    else:
        weight = np.full(n, np.nan)
    conditions: dict[str, Mask] = {}
    for c in table.conditions:
        mask = np.isin(status, np.array(c.maternal_hbsag, dtype=object))
        if c.birth_weight_below_g is not None:
            mask &= ~np.isnan(weight) & (weight < c.birth_weight_below_g)
        conditions[c.id] = mask
    tested = np.zeros(n, dtype=bool)
    positive = np.zeros(n, dtype=bool)
    if table.tb_test is not None and not tb_tests.empty:
        child = ch.locate(tb_tests["child_id"])
        on = day_numbers(tb_tests["date"])
        keep = (child >= 0) & (on != MISSING)
        ids = tb_tests["observation_id"].astype(str).to_numpy(dtype=object)[keep]
        negative = tb_tests["negative"].astype(bool).to_numpy()[keep]
        days = on[keep]
        by_child: defaultdict[int, list[TbTest]] = defaultdict(list)
        for who, i, d, neg in zip(child[keep].tolist(), ids, days.tolist(), negative, strict=True):
            by_child[who].append(TbTest(str(i), from_day_number(d), bool(neg)))
        for who, tests in by_child.items():
            tested[who] = negative_test_valid(tests, table.tb_test.valid_for, as_of)
            positive[who] = latest_test_positive(tests, as_of)
    return ChildFactArrays(conditions, tested, positive)


@dataclass(frozen=True, eq=False)
class _Doses:
    """Given doses on or before the evaluation date, sorted by (child, date, id)."""

    child: npt.NDArray[np.int64]
    on: Days
    vaccine: npt.NDArray[np.int64]  # index into the vaccine vocabulary, -1: other
    ids: npt.NDArray[np.object_]
    product: npt.NDArray[np.object_]  # the product code (a combination's, else the vaccine)
    live_conflict: Mask  # a live injectable dose 1…gap-1 days after another one


def _given_doses(
    ch: Children, doses: pd.DataFrame, vocabulary: pd.Index, live: Mask, gap: int, as_of: int
) -> tuple[_Doses, npt.NDArray[np.int64], Days]:
    """The sorted doses, and the distinct live-dose dates per child (keys, padded matrix)."""
    if doses.empty:
        child = np.zeros(0, dtype=np.int64)
        on = np.zeros(0, dtype=np.int64)
        vaccine = np.zeros(0, dtype=np.int64)
        ids = np.zeros(0, dtype=object)
        product = np.zeros(0, dtype=object)
    else:
        child = ch.locate(doses["child_id"])
        on = day_numbers(doses["date"])
        keep = (child >= 0) & (on != MISSING) & (on <= as_of)
        child, on = child[keep], on[keep]
        names = doses["vaccine"].astype(str).to_numpy(dtype=object)[keep]
        vaccine = np.asarray(vocabulary.get_indexer(names), dtype=np.int64)
        ids = doses["immunization_id"].astype(str).to_numpy(dtype=object)[keep]
        product = names.copy()
        if "product" in doses.columns:
            combination = doses["product"].astype(str).to_numpy(dtype=object)[keep]
            product = np.where(combination != "", combination, names)
        order = np.lexsort((_text_codes(ids), on, child))
        child, on, vaccine, ids = child[order], on[order], vaccine[order], ids[order]
        product = product[order]
    is_live = np.r_[live, False][vaccine]
    keys = np.unique((child[is_live] << 32) | (on[is_live] + _OFFSET))
    live_child = keys >> 32
    live_on = (keys & np.int64(0xFFFFFFFF)) - _OFFSET
    # 0 < on - d < gap for some live date d: the latest live date before ``on`` decides
    conflict = np.zeros(len(child), dtype=bool)
    if len(keys):
        probe = np.searchsorted(keys, (child << 32) | (on + _OFFSET), side="left") - 1
        safe = np.maximum(probe, 0)
        conflict = is_live & (probe >= 0) & (live_child[safe] == child) & (on - live_on[safe] < gap)
    width = int(np.bincount(live_child, minlength=1).max()) if len(keys) else 0
    matrix = np.full((ch.n, width), NEVER, dtype=np.int64)
    if len(keys):
        matrix[live_child, _ranks(live_child)] = live_on
    return _Doses(child, on, vaccine, ids, product, conflict), keys, matrix


def _clear_live_window(candidate: Days, live_dates: Days, gap: int) -> Days:
    """Vectorised ``vaccination._clear_live_window`` (``live_dates``: one row per child)."""
    for column in range(live_dates.shape[1]):
        d = live_dates[:, column]
        inside = (d < candidate) & (candidate < d + gap)
        candidate = np.where(inside, d + gap, candidate)
    return candidate


def vaccination_states(
    ch: Children,
    doses: pd.DataFrame,
    table: VaccinationTable,
    as_of: date,
    keep: Sequence[DoseStatus],
    facts: ChildFactArrays | None = None,
) -> DoseStates:
    """Every child's dose statuses (rows with a status in ``keep``), as ``vaccination_plan``."""
    if facts is None:
        none = np.zeros(ch.n, dtype=bool)
        facts = ChildFactArrays({c.id: none for c in table.conditions}, none, none)
    lookups = schedule_lookups(table)
    by_edition = edition_rules(table)
    today = day_number(as_of)
    gap = table.live_injectable_min_gap_days
    doses = _expand_products(doses, table)
    codes = sorted(
        {v.code for v in table.vaccines}
        | {a for variants in by_edition.values() for _s, r in variants for a in r.accepts}
    )
    vocabulary = pd.Index(codes)
    live = np.array([c in lookups.live for c in codes], dtype=bool)
    given, _keys, live_matrix = _given_doses(ch, doses, vocabulary, live, gap, today)
    rule_index = {r.dose_id: i for i, r in enumerate(table.doses)}
    series_names = sorted({r.series for r in table.doses})
    series_rank = {s: i for i, s in enumerate(series_names)}

    # per-rule dates of every child (computed once per distinct birth date)
    scheduled = [ch.at_age(r.age) for r in table.doses]
    overdue = [
        ch.at_age(r.complete_before)
        if r.complete_before is not None
        else add(s, table.overdue_after)
        for r, s in zip(table.doses, scheduled, strict=True)
    ]
    until = [ch.at_age(r.give_until) if r.give_until is not None else None for r in table.doses]

    # product options: the option of the first dose given of an optioned series, else default
    chosen_columns = []
    option_names: list[list[str]] = []
    for _series, default, opts, conditional in lookups.options:
        names = [o for o, _acc in opts] + [o for o, _c in conditional]
        option_of = np.full(len(codes) + 1, -1, dtype=np.int64)  # last entry: other vaccines
        for oi, (_o, accepts) in enumerate(opts):
            for v in accepts:
                if option_of[vocabulary.get_loc(v)] < 0:
                    option_of[vocabulary.get_loc(v)] = oi
        if default not in names:
            names.append(default)
        column = np.full(ch.n, names.index(default), dtype=np.int64)
        picked = option_of[given.vaccine]
        has = picked >= 0
        first_child, first_row = np.unique(given.child[has], return_index=True)
        column[first_child] = picked[has][first_row]
        for o, condition in reversed(conditional):  # a condition forces its option
            column[facts.conditions[condition]] = names.index(o)
        chosen_columns.append(column)
        option_names.append(names)
    if chosen_columns:
        combos, group_of = np.unique(np.stack(chosen_columns, axis=1), axis=0, return_inverse=True)
        group_of = np.asarray(group_of, dtype=np.int64).reshape(-1)
    else:
        combos, group_of = np.zeros((1, 0), dtype=np.int64), np.zeros(ch.n, dtype=np.int64)

    out_child: list[npt.NDArray[np.int64]] = []
    out_rule: list[npt.NDArray[np.int64]] = []
    out_status: list[npt.NDArray[np.int8]] = []
    out_sched: list[Days] = []
    given_child: list[npt.NDArray[np.int64]] = []
    given_series: list[npt.NDArray[np.int64]] = []
    given_rows: list[npt.NDArray[np.int64]] = []
    out_test: list[Mask] = []
    keep_codes = np.array([_CODE[s] for s in keep], dtype=np.int8)
    dose_group = group_of[given.child]
    for gi, combo in enumerate(combos):
        chosen = tuple(option_names[si][int(oi)] for si, oi in enumerate(combo))
        followed = lookups.tracks(chosen)
        members = np.flatnonzero(group_of == gi)
        local_of = np.full(ch.n, -1, dtype=np.int64)
        local_of[members] = np.arange(len(members))
        in_group = dose_group == gi
        for series, rules in followed.tracks:
            series_of_code = np.zeros(len(codes) + 1, dtype=bool)
            for v, s in followed.series_of.items():
                if s == series:
                    series_of_code[vocabulary.get_loc(v)] = True
            rows = np.flatnonzero(in_group & series_of_code[given.vaccine])
            states = _series_states(
                rules,
                [by_edition[r.dose_id] for r in rules],
                [rule_index[r.dose_id] for r in rules],
                members,
                local_of,
                rows,
                given,
                scheduled,
                overdue,
                until,
                live_matrix,
                ch,
                live,
                vocabulary,
                gap,
                today,
                facts,
            )
            for gidx, status, earliest_sched, filled_row, needs_test in states:
                wanted = np.isin(status, keep_codes)
                out_test.append(needs_test[wanted])
                out_child.append(members[wanted])
                out_rule.append(np.full(int(wanted.sum()), gidx, dtype=np.int64))
                out_status.append(status[wanted])
                out_sched.append(earliest_sched[wanted])
                has = filled_row >= 0
                given_child.append(members[has])
                given_series.append(np.full(int(has.sum()), series_rank[series], dtype=np.int64))
                given_rows.append(filled_row[has])
    child = np.concatenate(out_child) if out_child else np.zeros(0, dtype=np.int64)
    rule = np.concatenate(out_rule) if out_rule else np.zeros(0, dtype=np.int64)
    status = np.concatenate(out_status) if out_status else np.zeros(0, dtype=np.int8)
    sched = np.concatenate(out_sched) if out_sched else np.zeros(0, dtype=np.int64)
    rule_series = np.array([series_rank[r.series] for r in table.doses], dtype=np.int64)
    rule_number = np.array([r.number for r in table.doses], dtype=np.int64)
    order = np.lexsort((rule_number[rule], rule_series[rule], sched, child))
    g_rows = np.concatenate(given_rows) if given_rows else np.zeros(0, dtype=np.int64)
    return DoseStates(
        child=child[order],
        rule=rule[order],
        status=status[order],
        scheduled=sched[order],
        series=rule_series[rule][order],
        given_child=np.concatenate(given_child) if given_child else g_rows,
        given_series=np.concatenate(given_series) if given_series else g_rows,
        given_id=given.ids[g_rows],
        needs_test=(np.concatenate(out_test) if out_test else np.zeros(0, dtype=bool))[order],
    )


def _expand_products(doses: pd.DataFrame, table: VaccinationTable) -> pd.DataFrame:
    """Doses as the NIP vaccines their products count as (``vaccination.expand_products``):
    a combination product becomes one row per NIP vaccine, in place; other codes are dropped
    (they fill no dose)."""
    if doses.empty:
        return doses
    names = doses["vaccine"].astype(str)
    counts = {c: table.counts_as(c) or () for c in names.unique()}
    if all(v == (c,) for c, v in counts.items()):
        return doses
    out = doses.assign(
        product=names.where(names.map(lambda c: counts[c] != (c,)), ""),
        vaccine=names.map(lambda c: list(counts[c])),
    ).explode("vaccine")
    return out[out["vaccine"].notna()].reset_index(drop=True)


def _min_dates(
    rule: DoseRule, ch: Children, members: npt.NDArray[np.int64]
) -> tuple[Days, list[tuple[str, Days]]]:
    """Per member the date at the dose's minimum age, and at each product's own minimum age."""
    base = ch.at_age(rule.age)[members]
    alternatives = [(code, ch.at_age(age)[members]) for code, age in rule.product_ages]
    return base, alternatives


def _series_states(
    rules: tuple[DoseRule, ...],
    variants: list[tuple[tuple[date, DoseRule], ...]],
    global_index: list[int],
    members: npt.NDArray[np.int64],
    local_of: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    given: _Doses,
    scheduled: list[Days],
    overdue: list[Days],
    until: list[Days | None],
    live_matrix: Days,
    ch: Children,
    live: Mask,
    vocabulary: pd.Index,
    gap: int,
    today: int,
    facts: ChildFactArrays,
) -> list[tuple[int, npt.NDArray[np.int8], Days, npt.NDArray[np.int64], Mask]]:
    """One series track for a group of children: fill doses in date order, then statuses.

    Returns per dose rule: (rule index, status per member, scheduled date per member, the
    given-dose row that fulfilled it or -1, whether a missing dose needs a TB skin test first).
    """
    m, size = len(rules), len(members)
    sched = np.stack([scheduled[g][members] for g in global_index])
    limit = np.stack(
        [
            until[g][members] if until[g] is not None else np.full(size, NEVER)  # type: ignore[index]
            for g in global_index
        ]
    )
    judges: list[list[tuple[int, int, DoseRule, Mask, Days, list[tuple[str, Days]]]]] = []
    for k in range(m):
        rows_k = []
        for vi, (start, vr) in enumerate(variants[k]):
            hi = day_number(variants[k][vi + 1][0]) if vi + 1 < len(variants[k]) else NEVER
            v_accepts = np.zeros(len(vocabulary) + 1, dtype=bool)
            for v in vr.accepts:
                v_accepts[vocabulary.get_loc(v)] = True
            base, alternatives = _min_dates(vr, ch, members)
            rows_k.append((day_number(start), int(hi), vr, v_accepts, base, alternatives))
        judges.append(rows_k)
    filled_day = np.full((m, size), MISSING, dtype=np.int64)
    filled_row = np.full((m, size), -1, dtype=np.int64)
    cursor = np.zeros(size, dtype=np.int64)
    local = local_of[given.child[rows]]
    rank = _ranks(given.child[rows])
    for j in range(int(rank.max()) + 1 if len(rank) else 0):
        at_j = rank == j
        sel, lc = rows[at_j], local[at_j]
        on = given.on[sel]
        cur = cursor[lc]
        while True:  # doses past their give-until age on this date are skipped
            expired = (cur < m) & (on >= limit[np.minimum(cur, m - 1), lc])
            if not expired.any():
                break
            cur = cur + expired
        cursor[lc] = cur
        for k in range(m):
            sub = cur == k
            if not sub.any():
                continue
            g_on, g_local, g_rows = on[sub], lc[sub], sel[sub]
            vaccine = given.vaccine[g_rows]
            ok = np.zeros(len(g_rows), dtype=bool)
            # each dose judged by the edition in force on its date (vaccination.rule_at)
            for vi, (lo, hi, vr, v_accepts, base, alternatives) in enumerate(judges[k]):
                in_force = (g_on >= lo) & (g_on < hi) if vi else g_on < hi
                if not in_force.any():
                    continue
                minimum = base[g_local]
                for code, dates in alternatives:
                    minimum = np.where(given.product[g_rows] == code, dates[g_local], minimum)
                okv = v_accepts[vaccine] & (g_on >= minimum)
                if k >= 1 and vr.min_interval is not None:
                    prev = filled_day[k - 1, g_local]
                    okv &= (prev == MISSING) | (g_on >= add(prev, vr.min_interval))
                for extra in vr.extra_intervals:
                    fi = extra.from_number - 1
                    if 0 <= fi < m:
                        earlier = filled_day[fi, g_local]
                        okv &= (earlier == MISSING) | (g_on >= add(earlier, extra.min))
                ok |= in_force & okv
            ok &= ~given.live_conflict[g_rows]
            filled_day[k, g_local[ok]] = g_on[ok]
            filled_row[k, g_local[ok]] = g_rows[ok]
            cursor[g_local[ok]] = k + 1

    sex = ch.sex[members]
    live_dates = live_matrix[members]
    planned = np.full((m, size), MISSING, dtype=np.int64)
    out = []
    for k, rule in enumerate(rules):
        g = global_index[k]
        done = filled_day[k] != MISSING
        planned[k] = np.where(done, filled_day[k], MISSING)
        not_applicable = ~done & (today >= limit[k])
        if rule.sex is not None:
            not_applicable |= ~done & (sex != rule.sex.value)
        if rule.when is not None:
            not_applicable |= ~done & ~facts.conditions[rule.when][members]
        if rule.test_from is not None:
            tested_age = today >= ch.at_age(rule.test_from)[members]
            not_applicable |= ~done & tested_age & facts.positive[members]
        earliest = sched[k].copy()
        if k >= 1 and rule.min_interval is not None:
            prev = planned[k - 1]
            earliest = np.where(
                prev != MISSING, np.maximum(earliest, add(prev, rule.min_interval)), earliest
            )
        for extra in rule.extra_intervals:
            fi = extra.from_number - 1
            if 0 <= fi < m:
                earlier = planned[fi]
                earliest = np.where(
                    earlier != MISSING, np.maximum(earliest, add(earlier, extra.min)), earliest
                )
        if live[vocabulary.get_loc(rule.accepts[0])]:
            # a dose cannot be given in the past: check the live window from today on
            start = np.maximum(earliest, today)
            pushed = _clear_live_window(start, live_dates, gap)
            earliest = np.where(pushed != start, pushed, earliest)
        open_ = ~done & ~not_applicable
        planned[k] = np.where(open_, np.maximum(earliest, today), planned[k])
        overdue_on = overdue[g][members]
        if k >= 1 and rule.max_interval is not None:
            prev = filled_day[k - 1]
            overdue_on = np.where(
                prev != MISSING,
                np.minimum(overdue_on, add(prev, rule.max_interval) + 1),
                overdue_on,
            )
        status = np.where(
            today >= overdue_on,
            _CODE[DoseStatus.OVERDUE],
            np.where(today >= earliest, _CODE[DoseStatus.DUE], _CODE[DoseStatus.NOT_YET_DUE]),
        ).astype(np.int8)
        status[not_applicable] = _CODE[DoseStatus.NOT_APPLICABLE]
        status[done] = _CODE[DoseStatus.GIVEN]
        needs_test = np.zeros(size, dtype=bool)
        if rule.test_from is not None:
            needs_test = (
                open_ & (today >= ch.at_age(rule.test_from)[members]) & ~facts.tested[members]
            )
        out.append((g, status, sched[k], filled_row[k], needs_test))
    return out


def _segments(child: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], list[int]]:
    """Children of a child-sorted array and the boundaries of their runs."""
    if len(child) == 0:
        return child, [0]
    starts = np.r_[0, np.flatnonzero(np.diff(child)) + 1]
    return child[starts], [*starts.tolist(), len(child)]


def vaccination_frame(
    ch: Children, states: DoseStates, table: VaccinationTable, rows: _Rows
) -> None:
    """``vaccine-due`` / ``vaccine-overdue`` findings (as ``vaccination_findings``)."""
    dose_ids = [r.dose_id for r in table.doses]
    n_series = len({r.series for r in table.doses})
    # evidence: the given doses of the series with a due (overdue) dose, per child
    given_key = states.given_child * n_series + states.given_series
    for kind, status in (
        (AlertKind.VACCINE_DUE, DoseStatus.DUE),
        (AlertKind.VACCINE_OVERDUE, DoseStatus.OVERDUE),
    ):
        severity = table.due_severity if kind is AlertKind.VACCINE_DUE else table.overdue_severity
        mask = states.status == _CODE[status]
        child, rule, sched = states.child[mask], states.rule[mask], states.scheduled[mask]
        tested = states.needs_test[mask]
        if len(child) == 0:
            continue
        pairs = np.unique(child * n_series + states.series[mask])
        chosen = np.isin(given_key, pairs)
        e_child, e_ids = states.given_child[chosen], states.given_id[chosen]
        e_order = np.lexsort((_text_codes(e_ids), e_child))
        e_child, e_ids = e_child[e_order], e_ids[e_order].tolist()
        e_subjects, e_bounds = _segments(e_child)
        e_at = dict(zip(e_subjects.tolist(), range(len(e_subjects)), strict=True))
        subjects, bounds = _segments(child)
        names = [
            dose_ids[i] + (NEEDS_TEST_SUFFIX if t else "")
            for i, t in zip(rule.tolist(), tested.tolist(), strict=True)
        ]
        spans = list(pairwise(bounds))
        items = [tuple(names[a:b]) for a, b in spans]
        evidence: list[tuple[str, ...]] = []
        for c in subjects.tolist():
            where = e_at.get(c)
            evidence.append(
                ()
                if where is None
                else tuple(sorted(set(e_ids[e_bounds[where] : e_bounds[where + 1]])))
            )
        prefix = f"{status.value}: "
        rows.extend(
            [ch.ids[c] for c in subjects.tolist()],
            kind,
            severity.value,
            evidence,
            items,
            [prefix + ",".join(i) for i in items],
            table.meta.id,
            table.meta.version,
            _dates(np.minimum.reduceat(sched, np.asarray(bounds[:-1], dtype=np.intp))),
        )


def admission_frame(
    ch: Children,
    enrolments: pd.DataFrame,
    states: DoseStates,
    table: VaccinationTable,
    as_of: date,
    rows: _Rows,
) -> None:
    """``admission-vaccination-incomplete`` for the latest enrolment of each child."""
    if enrolments.empty:
        return
    child = ch.locate(enrolments["child_id"])
    entry = day_numbers(enrolments["entry_date"])
    keep = (child >= 0) & (entry != MISSING) & (entry <= day_number(as_of))
    if not keep.any():
        return
    centre = enrolments["centre_id"].astype(str).to_numpy(dtype=object)[keep]
    state = enrolments["check_state"].astype(str).to_numpy(dtype=object)[keep]
    child, entry = child[keep], entry[keep]
    position = np.arange(len(child))
    # the latest (entry date, centre) per child; among equal ones the first listed, as max()
    order = np.lexsort((-position, _text_codes(centre), entry, child))
    last = order[np.r_[np.flatnonzero(np.diff(child[order])), len(order) - 1]]
    incomplete = {_CODE[s] for s in _incomplete(table)}
    mask = np.isin(states.status, np.array(sorted(incomplete), dtype=np.int8))
    m_child, m_rule = states.child[mask], states.rule[mask]
    subjects, bounds = _segments(m_child)
    at = dict(zip(subjects.tolist(), range(len(subjects)), strict=True))
    dose_ids = [r.dose_id for r in table.doses]
    names = [dose_ids[i] for i in m_rule.tolist()]
    for i in sorted(last.tolist(), key=lambda r: int(child[r])):
        c = int(child[i])
        where = at.get(c)
        missing = tuple(names[bounds[where] : bounds[where + 1]]) if where is not None else ()
        check = admission_check_of(
            ch.ids[c],
            centre[i],
            from_day_number(int(entry[i])),
            AdmissionState(state[i]),
            missing,
            table,
            as_of,
        )
        finding = admission_finding(check, table)
        if finding is not None:
            rows.add(finding)


def _incomplete(table: VaccinationTable) -> tuple[DoseStatus, ...]:
    """The dose statuses that make the admission check incomplete (unknown names match none,
    as in ``admission_check``)."""
    known = {s.value: s for s in DoseStatus}
    return tuple(known[s] for s in table.admission.incomplete_statuses if s in known)


# --------------------------------------------------------------------------- checkups


def checkup_frame(
    ch: Children, checkups: pd.DataFrame, table: CheckupTable, as_of: date, rows: _Rows
) -> None:
    """``checkup-due`` / ``-overdue`` / ``-missed`` findings (as ``checkup_plan`` +
    ``checkup_findings``)."""
    today = day_number(as_of)
    visits = table.visits
    count = len(visits)
    if count == 0:
        return
    target, due, overdue = [], [], []
    has_discharge = ch.discharge != MISSING
    for visit in visits:
        if visit.anchor == "discharge":
            anchor = np.where(has_discharge, ch.discharge, ch.birth)
            t = add(anchor, visit.age)
            d = add(anchor, visit.due_from) if visit.due_from else t - table.due_lead_days
            o = (
                add(anchor, visit.overdue_from)
                if visit.overdue_from
                else t + table.overdue_after_days
            )
        else:
            t = ch.at_age(visit.age)
            d = ch.at_age(visit.due_from) if visit.due_from else t - table.due_lead_days
            o = (
                ch.at_age(visit.overdue_from)
                if visit.overdue_from
                else t + table.overdue_after_days
            )
        target.append(t)
        due.append(d)
        overdue.append(o)
    missed = [
        np.maximum(target[i + 1] if i + 1 < count else add(target[i], table.last_missed_after), o)
        for i, o in enumerate(overdue)
    ]
    t_m, d_m, o_m, x_m = (np.stack(a, axis=1) for a in (target, due, overdue, missed))

    matched = np.full((ch.n, count), -1, dtype=np.int64)
    ids = np.zeros(0, dtype=object)
    if not checkups.empty:
        child = ch.locate(checkups["child_id"])
        on = day_numbers(checkups["date"])
        keep = (child >= 0) & (on != MISSING) & (on <= today)
        child, on = child[keep], on[keep]
        ids = checkups["checkup_id"].astype(str).to_numpy(dtype=object)[keep]
        raw = checkups["visit_type"].astype(object).to_numpy()[keep]
        text = np.array([isinstance(v, str) for v in raw], dtype=bool)
        kind: npt.NDArray[np.object_] = np.asarray(np.where(text, raw, None), dtype=object)
        # missing and empty values are untyped (records._optional_text), and so is any other
        # false value (checkup_plan skips a record whose visit type is true)
        empty = checkups["visit_type"].isna().to_numpy()[keep] | (raw == "")
        other = np.flatnonzero(~text & ~empty)
        empty[other] = [not raw[i] for i in other.tolist()]
        untyped = empty
        order = np.lexsort((_text_codes(ids), on, child))
        child = child[order]
        on = on[order]
        ids = ids[order]
        kind = kind[order]
        untyped = untyped[order]
        code = np.asarray(
            pd.Index([v.code for v in visits]).get_indexer(pd.Index(kind, dtype=object)),
            dtype=np.int64,
        )
        typed = np.flatnonzero(code >= 0)
        _u, first = np.unique(child[typed] * count + code[typed], return_index=True)
        pick = typed[first]
        matched[child[pick], code[pick]] = pick
        free = np.flatnonzero(untyped)
        rank = _ranks(child[free])
        for j in range(int(rank.max()) + 1 if len(rank) else 0):
            r = free[rank == j]
            c, d = child[r], on[r]
            pending = np.ones(len(r), dtype=bool)
            for v in range(count):
                hit = pending & (matched[c, v] < 0) & (d_m[c, v] <= d) & (d < x_m[c, v])
                matched[c[hit], v] = r[hit]
                pending &= ~hit
    given = matched >= 0
    not_yet = ~given & (today < d_m)
    status_due = ~given & ~not_yet & (today < o_m)
    status_overdue = ~given & ~not_yet & ~status_due & (today < x_m)
    status_missed = ~given & ~not_yet & ~status_due & ~status_overdue
    over: Mask = np.asarray((given | status_missed).all(axis=1), dtype=bool)
    weights = np.int64(1) << np.arange(min(count, 62), dtype=np.int64)
    last_given = np.where(given.any(axis=1), count - 1 - np.argmax(given[:, ::-1], axis=1), -1)
    after_last = np.arange(count)[None, :] > last_given[:, None]
    codes = [v.code for v in visits]
    labels: dict[tuple[int, int], tuple[tuple[str, ...], str]] = {}
    groups = (
        (AlertKind.CHECKUP_DUE, table.severity_due, status_due),
        (AlertKind.CHECKUP_OVERDUE, table.severity_overdue, status_overdue),
        (AlertKind.CHECKUP_MISSED, table.severity_missed, status_missed & after_last),
    )
    for ki, (kind_, severity, status_mask) in enumerate(groups):
        mask: Mask = status_mask & ~over[:, None]
        with_finding = np.flatnonzero(mask.any(axis=1))
        first = np.argmax(mask[with_finding], axis=1)
        observed = _dates(t_m[with_finding, first])
        if count < 63:
            keys = (mask[with_finding].astype(np.int64) @ weights).tolist()
        else:  # pragma: no cover - schedules have about a dozen visits
            keys = [hash(mask[c].tobytes()) for c in with_finding.tolist()]
        items: list[tuple[str, ...]] = []
        details: list[str] = []
        evidence: list[tuple[str, ...]] = []
        for c, b in zip(with_finding.tolist(), keys, strict=True):
            label = labels.get((ki, b))
            if label is None:
                found = tuple(code_ for i, code_ in enumerate(codes) if mask[c, i])
                label = labels[(ki, b)] = (found, f"{kind_.value}: " + ",".join(found))
            items.append(label[0])
            details.append(label[1])
            evidence.append(tuple(sorted({ids[r] for r in matched[c].tolist() if r >= 0})))
        rows.extend(
            [ch.ids[c] for c in with_finding.tolist()],
            kind_,
            severity.value,
            evidence,
            items,
            details,
            table.meta.id,
            table.meta.version,
            observed,
        )


# --------------------------------------------------------------------------- anaemia, screening


def anaemia_frame(
    ch: Children, results: pd.DataFrame, table: AnaemiaTable, as_of: date, rows: _Rows
) -> None:
    """``anaemia`` findings: the children whose latest Hb is anaemic (or not a number) run
    :func:`anaemia_findings` on their results."""
    if results.empty:
        return
    child = ch.locate(results["child_id"])
    on = day_numbers(results["date"])
    keep = (child >= 0) & (on != MISSING) & (on <= day_number(as_of))
    child, on = child[keep], on[keep]
    ids = results["observation_id"].astype(str).to_numpy(dtype=object)[keep]
    hb = results["hb_g_l"].to_numpy(dtype=float)[keep]
    order = np.lexsort((_text_codes(ids), on, child))
    child, on, ids, hb = child[order], on[order], ids[order], hb[order]
    if len(child) == 0:
        return
    latest = np.r_[np.flatnonzero(np.diff(child)), len(child) - 1]
    l_child, l_on, l_hb = child[latest], on[latest], hb[latest]
    birth = ch.birth[l_child]
    threshold = np.full(len(latest), np.nan)
    for band in table.bands:
        inside = (
            np.isnan(threshold)
            & (add_by_birth(birth, band.from_age) <= l_on)
            & (l_on < add_by_birth(birth, band.to_age))
        )
        threshold[inside] = band.anaemia_below
    altitude = ch.altitude[l_child]
    adjust = np.zeros(len(latest))  # AnaemiaTable.altitude_adjustment, vectorised
    with np.errstate(invalid="ignore"):
        for step in table.altitude:
            adjust[altitude >= step.from_m] = step.adjust_g_l
    threshold += adjust
    # a superset (the per-child function decides): no float edge at a threshold is lost
    candidate = ~np.isnan(threshold) & ~(l_hb >= threshold + 1e-6)
    starts = np.r_[0, latest[:-1] + 1]
    for i in np.flatnonzero(candidate).tolist():
        a, b = int(starts[i]), int(latest[i]) + 1
        c = int(l_child[i])
        history = [HbResult(ids[r], from_day_number(int(on[r])), float(hb[r])) for r in range(a, b)]
        at = float(ch.altitude[c])
        for f in anaemia_findings(
            ch.ids[c],
            from_day_number(int(ch.birth[c])),
            history,
            table,
            as_of,
            None if np.isnan(at) else at,
        ):
            rows.add(f)


def screening_frame(
    ch: Children, screenings: pd.DataFrame, table: ScreeningTable, as_of: date, rows: _Rows
) -> None:
    """``warning-sign-positive``: the children whose latest screening lists items or a
    regression run :func:`screening_findings` on it."""
    if screenings.empty:
        return
    child = ch.locate(screenings["child_id"])
    on = day_numbers(screenings["date"])
    keep = (child >= 0) & (on != MISSING) & (on <= day_number(as_of))
    child, on = child[keep], on[keep]
    ids = screenings["screening_id"].astype(str).to_numpy(dtype=object)[keep]
    items = screenings["positive_items"].to_numpy(dtype=object)[keep]
    regression = screenings["regression"].to_numpy(dtype=object)[keep]
    order = np.lexsort((_text_codes(ids), on, child))
    if len(order) == 0:
        return
    child, on = child[order], on[order]
    latest = order[np.r_[np.flatnonzero(np.diff(child)), len(child) - 1]]
    l_child = child[np.r_[np.flatnonzero(np.diff(child)), len(child) - 1]]
    l_on = on[np.r_[np.flatnonzero(np.diff(child)), len(child) - 1]]
    for r, c, day in zip(latest.tolist(), l_child.tolist(), l_on.tolist(), strict=True):
        record = ScreeningRecord(ids[r], from_day_number(day), tuple(items[r]), bool(regression[r]))
        if not record.positive_items and not record.regression:
            continue
        for f in screening_findings(ch.ids[c], (record,), table, as_of):
            rows.add(f)


# --------------------------------------------------------------------------- daily checks


def _check_objects(checks: pd.DataFrame) -> list[DailyCheck]:
    """DailyCheck records of the rows of a daily-check frame (as ``records._daily_check``)."""
    temps = checks["temperature_c"].to_numpy(dtype=object)
    return [
        DailyCheck(
            str(i),
            str(c),
            str(centre),
            str(k),
            on,
            None if t is None or pd.isna(t) else float(t),
            tuple(s) if isinstance(s, tuple | list) else (),
        )
        for i, c, centre, k, on, t, s in zip(
            checks["check_id"].tolist(),
            checks["child_id"].tolist(),
            checks["centre_id"].tolist(),
            checks["class_id"].tolist(),
            list(pd.to_datetime(checks["date"]).dt.date),
            temps.tolist(),
            checks["symptoms"].tolist(),
            strict=True,
        )
    ]


def syndromic_checks(checks: pd.DataFrame, table: DailyCheckTable) -> pd.DataFrame:
    """The rows of a daily-check frame with a fever or a listed symptom (the only rows the
    fever, symptom and cluster rules read)."""
    if checks.empty:
        return checks
    temp = pd.to_numeric(checks["temperature_c"], errors="coerce").to_numpy(dtype=float)
    listed = {s.code for s in table.symptoms}
    symptomatic = np.array(
        [
            isinstance(s, tuple | list) and any(code in listed for code in s)
            for s in checks["symptoms"].tolist()
        ],
        dtype=bool,
    )
    febrile = ~np.isnan(temp) & (temp >= table.fever_threshold_c)
    out: pd.DataFrame = checks[febrile | symptomatic]
    return out


def daily_check_frame(
    ch: Children, checks: pd.DataFrame, table: DailyCheckTable, as_of: date, rows: _Rows
) -> None:
    """``fever`` / ``symptom`` findings of today's febrile or symptomatic checks."""
    if checks.empty:
        return
    today = checks[day_numbers(checks["date"]) == day_number(as_of)]
    today = syndromic_checks(today, table)
    if today.empty:
        return
    child = ch.locate(today["child_id"])
    by_child: defaultdict[int, list[DailyCheck]] = defaultdict(list)
    for c, check in zip(child.tolist(), _check_objects(today), strict=True):
        if c >= 0:
            by_child[c].append(check)
    for c in sorted(by_child):
        for f in daily_check_findings(ch.ids[c], by_child[c], table, as_of):
            rows.add(f)


# --------------------------------------------------------------------------- all


def schedule_frame(data: DistrictData, ruleset: RuleSet, as_of: date) -> pd.DataFrame | None:
    """Child-level schedule findings (everything but growth) of every child in ``data``, or
    ``None`` when the children frame repeats a child id (use the per-child path)."""
    ch = children_arrays(data.children)
    if ch is None:
        return None
    rows = _Rows()
    checkup_frame(ch, data.checkups, ruleset.checkups, as_of, rows)
    keep = (DoseStatus.DUE, DoseStatus.OVERDUE, *_incomplete(ruleset.vaccination))
    facts = child_fact_arrays(ch, data.children, data.tb_tests, ruleset.vaccination, as_of)
    states = vaccination_states(ch, data.doses, ruleset.vaccination, as_of, keep, facts)
    vaccination_frame(ch, states, ruleset.vaccination, rows)
    admission_frame(ch, data.enrolments, states, ruleset.vaccination, as_of, rows)
    daily_check_frame(ch, data.daily_checks, ruleset.daily_check, as_of, rows)
    anaemia_frame(ch, data.haemoglobin, ruleset.anaemia, as_of, rows)
    screening_frame(ch, data.screenings, ruleset.screening, as_of, rows)
    return rows.frame()
