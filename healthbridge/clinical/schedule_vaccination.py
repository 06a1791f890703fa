"""The vaccination rules vectorised over a whole district (batch path of ``evaluate_district``).

The dose-filling state machine of
:func:`~healthbridge.clinical.vaccination.vaccination_plan` runs per series and per
product-option group, one step per "j-th dose of the series" and per dose number, each step
over every child at once (minimum age, minimum and extra intervals, give-until, the 28-day
live-vaccine rule through a sorted array of live dose dates); statuses and catch-up dates
follow as array expressions. Every age, interval and severity comes from the vaccination rule
table (:mod:`healthbridge.clinical.tables_vaccination`), as in the per-child function;
``tests/healthbridge/clinical/test_schedule_batch.py`` proves the findings equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical._days import MISSING, NEVER, Days, add, day_numbers
from healthbridge.clinical.ages import day_number, from_day_number
from healthbridge.clinical.schedule_arrays import (
    OFFSET,
    STATUS_CODE,
    Children,
    FindingRows,
    Mask,
    as_dates,
    ranks,
    text_codes,
)
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
from healthbridge.clinical.vocab import AlertKind


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
        order = np.lexsort((text_codes(ids), on, child))
        child, on, vaccine, ids = child[order], on[order], vaccine[order], ids[order]
        product = product[order]
    is_live = np.r_[live, False][vaccine]
    keys = np.unique((child[is_live] << 32) | (on[is_live] + OFFSET))
    live_child = keys >> 32
    live_on = (keys & np.int64(0xFFFFFFFF)) - OFFSET
    # 0 < on - d < gap for some live date d: the latest live date before ``on`` decides
    conflict = np.zeros(len(child), dtype=bool)
    if len(keys):
        probe = np.searchsorted(keys, (child << 32) | (on + OFFSET), side="left") - 1
        safe = np.maximum(probe, 0)
        conflict = is_live & (probe >= 0) & (live_child[safe] == child) & (on - live_on[safe] < gap)
    width = int(np.bincount(live_child, minlength=1).max()) if len(keys) else 0
    matrix = np.full((ch.n, width), NEVER, dtype=np.int64)
    if len(keys):
        matrix[live_child, ranks(live_child)] = live_on
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
    keep_codes = np.array([STATUS_CODE[s] for s in keep], dtype=np.int8)
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
    rank = ranks(given.child[rows])
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
            STATUS_CODE[DoseStatus.OVERDUE],
            np.where(
                today >= earliest, STATUS_CODE[DoseStatus.DUE], STATUS_CODE[DoseStatus.NOT_YET_DUE]
            ),
        ).astype(np.int8)
        status[not_applicable] = STATUS_CODE[DoseStatus.NOT_APPLICABLE]
        status[done] = STATUS_CODE[DoseStatus.GIVEN]
        needs_test = np.zeros(size, dtype=bool)
        if rule.test_from is not None:
            needs_test = (
                open_ & (today >= ch.at_age(rule.test_from)[members]) & ~facts.tested[members]
            )
        out.append((g, status, sched[k], filled_row[k], needs_test))
    return out


def segments(child: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], list[int]]:
    """Children of a child-sorted array and the boundaries of their runs."""
    if len(child) == 0:
        return child, [0]
    starts = np.r_[0, np.flatnonzero(np.diff(child)) + 1]
    return child[starts], [*starts.tolist(), len(child)]


def vaccination_frame(
    ch: Children, states: DoseStates, table: VaccinationTable, rows: FindingRows
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
        mask = states.status == STATUS_CODE[status]
        child, rule, sched = states.child[mask], states.rule[mask], states.scheduled[mask]
        tested = states.needs_test[mask]
        if len(child) == 0:
            continue
        pairs = np.unique(child * n_series + states.series[mask])
        chosen = np.isin(given_key, pairs)
        e_child, e_ids = states.given_child[chosen], states.given_id[chosen]
        e_order = np.lexsort((text_codes(e_ids), e_child))
        e_child, e_ids = e_child[e_order], e_ids[e_order].tolist()
        e_subjects, e_bounds = segments(e_child)
        e_at = dict(zip(e_subjects.tolist(), range(len(e_subjects)), strict=True))
        subjects, bounds = segments(child)
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
            as_dates(np.minimum.reduceat(sched, np.asarray(bounds[:-1], dtype=np.intp))),
        )
