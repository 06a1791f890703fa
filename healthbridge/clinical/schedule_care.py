"""The admission, checkup and care rules vectorised over a whole district (batch path of
``evaluate_district``).

* admission check: the latest enrolment per child and the missing doses from the vaccination
  states (:mod:`healthbridge.clinical.schedule_vaccination`);
* checkups: visit windows per child as arrays, typed checkups matched first, untyped ones
  matched in date order to the earliest open window (as
  :func:`~healthbridge.clinical.checkups.checkup_plan`);
* anaemia, warning signs, daily checks: the children who can have a finding are selected with
  array operations (latest Hb anaemic, latest screening positive, a febrile or symptomatic
  check today) and only those run the per-child function.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical._days import MISSING, add, add_by_birth, day_numbers
from healthbridge.clinical.admission import (
    AdmissionState,
    admission_check_of,
    admission_finding,
)
from healthbridge.clinical.ages import day_number, from_day_number
from healthbridge.clinical.anaemia import HbResult, anaemia_findings
from healthbridge.clinical.daily_check import DailyCheck, daily_check_findings
from healthbridge.clinical.schedule_arrays import (
    STATUS_CODE,
    Children,
    FindingRows,
    Mask,
    as_dates,
    ranks,
    text_codes,
)
from healthbridge.clinical.schedule_vaccination import DoseStates, segments
from healthbridge.clinical.screening import ScreeningRecord, screening_findings
from healthbridge.clinical.tables import CheckupTable
from healthbridge.clinical.tables_care import AnaemiaTable, DailyCheckTable, ScreeningTable
from healthbridge.clinical.tables_vaccination import VaccinationTable
from healthbridge.clinical.vaccination import (
    DoseStatus,
)
from healthbridge.clinical.vocab import AlertKind


def admission_frame(
    ch: Children,
    enrolments: pd.DataFrame,
    states: DoseStates,
    table: VaccinationTable,
    as_of: date,
    rows: FindingRows,
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
    order = np.lexsort((-position, text_codes(centre), entry, child))
    last = order[np.r_[np.flatnonzero(np.diff(child[order])), len(order) - 1]]
    incomplete = {STATUS_CODE[s] for s in incomplete_statuses(table)}
    mask = np.isin(states.status, np.array(sorted(incomplete), dtype=np.int8))
    m_child, m_rule = states.child[mask], states.rule[mask]
    subjects, bounds = segments(m_child)
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


def incomplete_statuses(table: VaccinationTable) -> tuple[DoseStatus, ...]:
    """The dose statuses that make the admission check incomplete (unknown names match none,
    as in ``admission_check``)."""
    known = {s.value: s for s in DoseStatus}
    return tuple(known[s] for s in table.admission.incomplete_statuses if s in known)


# --------------------------------------------------------------------------- checkups


def checkup_frame(
    ch: Children, checkups: pd.DataFrame, table: CheckupTable, as_of: date, rows: FindingRows
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
        order = np.lexsort((text_codes(ids), on, child))
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
        rank = ranks(child[free])
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
        observed = as_dates(t_m[with_finding, first])
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
    ch: Children, results: pd.DataFrame, table: AnaemiaTable, as_of: date, rows: FindingRows
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
    order = np.lexsort((text_codes(ids), on, child))
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
    ch: Children, screenings: pd.DataFrame, table: ScreeningTable, as_of: date, rows: FindingRows
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
    order = np.lexsort((text_codes(ids), on, child))
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
    ch: Children, checks: pd.DataFrame, table: DailyCheckTable, as_of: date, rows: FindingRows
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
