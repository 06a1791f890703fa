"""Growth over time for a whole district (the batch ``healthbridge evaluate`` path).

:func:`velocity_frame` is :func:`~healthbridge.clinical.velocity.velocity_findings` vectorised
over every child's growth rows (faltering, flat weight, rapid gain, measurement overdue): the
same rules (the ``velocity`` table, described in :mod:`healthbridge.clinical.velocity`), the
same details and rounding; tests compare both paths child by child.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical._days import add_by_birth, day_numbers
from healthbridge.clinical.ages import day_number
from healthbridge.clinical.frames import FINDING_COLUMNS, findings_to_frame, require_columns
from healthbridge.clinical.nutrition import CHILD_CODE, first_rows, last_rows, prepare_growth
from healthbridge.clinical.tables import FalteringIndicator, FalteringRule, VelocityTable
from healthbridge.clinical.velocity import _DECIMALS, below_detail, change_detail, fall_detail
from healthbridge.clinical.vocab import FLAG_OF, AlertKind


def _valid(g: pd.DataFrame, column: str) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = g[column].notna().to_numpy() & ~g[FLAG_OF[column]].to_numpy(
        dtype=bool
    )
    return out


def _birth_rows(g: pd.DataFrame, rule: FalteringRule) -> npt.NDArray[np.intp]:
    """Per row: the row of its child's birth measurement (:func:`birth_point`), or -1."""
    codes = g[CHILD_CODE].to_numpy()
    first = first_rows(codes, np.flatnonzero(_valid(g, "zwei")))
    first = first[g["age_days"].to_numpy()[first] <= rule.birth_max_age_days]
    by_code = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype=np.intp)
    by_code[codes[first]] = first
    out: npt.NDArray[np.intp] = by_code[codes]
    return out


def _group_cummax(codes: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> Any:
    return pd.Series(values).groupby(codes, sort=False).cummax().to_numpy(dtype=float)


def _falls(
    g: pd.DataFrame,
    ind: FalteringIndicator,
    rule: FalteringRule,
    birth: npt.NDArray[np.intp],
) -> pd.DataFrame:
    """Per child with a finding on ``ind.column``: ev, detail and the date of the last value
    (:func:`_faltering_item`, vectorised; the evidence row of a fall found per hit)."""
    codes = g[CHILD_CODE].to_numpy()
    z = g[ind.column].to_numpy(dtype=float)
    valid = _valid(g, ind.column)
    corrected = g["corrected"].to_numpy(dtype=bool)
    days = g["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    last = last_rows(codes, np.flatnonzero(valid))
    # the last row at least min_interval_days before each last value (rows by child, date)
    keys = (codes << 32) + days
    at = np.searchsorted(keys, (codes[last] << 32) + days[last] - ind.min_interval_days, "right")
    at -= 1
    has = at >= 0
    has[has] = codes[at[has]] == codes[last[has]]
    ref = np.full(len(last), -np.inf)
    for basis in (False, True):
        pick = has & (corrected[last] == basis)
        if pick.any():
            best = _group_cummax(codes, np.where(valid & (corrected == basis), z, -np.inf))
            ref[pick] = best[at[pick]]
    if ind.spaces is not None:
        spaces = np.full(len(last), ind.spaces)
    else:
        b = birth[last]
        birth_z = np.where(b >= 0, g["zwei"].to_numpy(dtype=float)[np.maximum(b, 0)], np.nan)
        with np.errstate(invalid="ignore"):
            spaces = np.select(
                [np.isnan(birth_z), birth_z < rule.birth_low_z, birth_z > rule.birth_high_z],
                [rule.spaces_birth_unknown, rule.spaces_birth_low, rule.spaces_birth_high],
                rule.spaces_birth_mid,
            )
    need = np.zeros(len(last))
    for n in np.unique(spaces).tolist():
        need[spaces == n] = rule.min_fall(int(n))
    with np.errstate(invalid="ignore"):
        fall = np.isfinite(ref) & (np.round(ref - z[last], _DECIMALS) >= need)
    below = z[last] < rule.below_z if ind.column == rule.below_column else np.zeros_like(fall)
    hit = np.flatnonzero(fall | below)
    oid = g["observation_id"].to_numpy()
    evs, details = [], []
    for i in hit.tolist():
        r = int(last[i])
        ev: list[Any] = []
        text: list[str] = []
        if fall[i]:
            lo = int(np.searchsorted(codes, codes[r]))
            rows = np.arange(lo, int(at[i]) + 1)
            same = rows[valid[rows] & (corrected[rows] == corrected[r]) & (z[rows] == ref[i])]
            k = int(same[-1])
            ev.append(oid[k])
            text.append(fall_detail(ind.column, float(z[k]), float(z[r]), int(spaces[i])))
        if below[i]:
            text.append(below_detail(ind.column, float(z[r])))
        ev.append(oid[r])
        evs.append(tuple(ev))
        details.append("; ".join(text))
    return pd.DataFrame(
        {
            "child_id": g["child_id"].to_numpy()[last[hit]],
            "column": ind.column,
            "ev": evs,
            "detail": details,
            "on": g["date"].to_numpy()[last[hit]],
        }
    )


def _rapid_gain_frame(
    g: pd.DataFrame, table: VelocityTable, birth: npt.NDArray[np.intp]
) -> pd.DataFrame:
    """:func:`rapid_gain_finding`, vectorised."""
    rg = table.rapid_gain
    codes = g[CHILD_CODE].to_numpy()
    z = g[rg.column].to_numpy(dtype=float)
    corrected = g["corrected"].to_numpy(dtype=bool)
    last = last_rows(codes, np.flatnonzero(_valid(g, rg.column)))
    first = birth[last]
    ok = (first >= 0) & (first != last)
    last, first = last[ok], first[ok]
    ok = (g["age_days"].to_numpy()[last] <= rg.max_age_days) & (corrected[last] == corrected[first])
    ok &= np.round(z[last] - z[first], _DECIMALS) > rg.min_rise
    last, first = last[ok], first[ok]
    wfl, bmi = g["zwfl"].to_numpy(dtype=float), g["zbmi"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        thin = np.where(
            ~np.isnan(wfl),
            ~g["fwfl"].to_numpy() & (wfl < rg.wasted_below_z),
            ~np.isnan(bmi) & ~g["fbmi"].to_numpy() & (bmi < rg.wasted_below_z),
        )
    count = np.cumsum(thin)
    keep = count[last] - count[first] == 0
    last, first = last[keep], first[keep]
    oid = g["observation_id"].to_numpy()
    return _frame(
        g["child_id"].to_numpy()[last],
        AlertKind.RAPID_WEIGHT_GAIN,
        rg.severity.value,
        [(a, b) for a, b in zip(oid[first], oid[last], strict=True)],
        [(rg.column,)] * len(last),
        [change_detail(rg.column, a, b) for a, b in zip(z[first], z[last], strict=True)],
        table.meta.id,
        table.meta.version,
        g["date"].to_numpy()[last],
    )


def velocity_frame(
    growth: pd.DataFrame,
    children: pd.DataFrame,
    table: VelocityTable,
    as_of: date,
    *,
    prepared: bool = False,
) -> pd.DataFrame:
    """Vectorised :func:`velocity_findings` for every child in ``children``.

    ``prepared``: ``growth`` comes from :func:`~healthbridge.clinical.nutrition.prepare_growth`
    (skips the preparation)."""
    require_columns(growth, "growth", ("child_id", "observation_id", "date", "age_days"))
    require_columns(children, "children", ("child_id", "birth_date"))
    g = growth if prepared else prepare_growth(growth)
    until = (g["date"] <= pd.Timestamp(as_of)).to_numpy()
    if not until.all():
        g = g[until].reset_index(drop=True)
    meta = table.meta
    frames: list[pd.DataFrame] = []

    f = table.faltering
    birth = _birth_rows(g, f)
    fall = pd.concat([_falls(g, ind, f, birth) for ind in f.indicators], ignore_index=True)
    if not fall.empty:
        grouped: Any = fall.groupby("child_id", sort=True)
        frames.append(
            _frame(
                grouped["column"].agg(tuple).index,
                AlertKind.GROWTH_FALTERING,
                f.severity.value,
                grouped["ev"].agg(lambda s: tuple(x for pair in s for x in pair)).to_numpy(),
                grouped["column"].agg(tuple).to_numpy(),
                grouped["detail"].agg("; ".join).to_numpy(),
                meta.id,
                meta.version,
                grouped["on"].max().to_numpy(),
            )
        )

    fl = table.flat
    if fl.weight_column in g.columns:
        codes = g[CHILD_CODE].to_numpy()
        days = g["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        rows = np.flatnonzero(g[fl.weight_column].notna().to_numpy() & ~g["fwei"].to_numpy())
        last = last_rows(codes, rows)
        # the latest plausible weight at least min_interval_days before each child's last one
        # (rows are by child, date, id: of equal dates the last, as a backward as-of match)
        keys = (codes[rows] << 32) + days[rows]
        probe = (codes[last] << 32) + days[last] - fl.min_interval_days
        at = np.searchsorted(keys, probe, side="right") - 1
        found = at >= 0
        found[found] = codes[rows[at[found]]] == codes[last[found]]
        last, prev = last[found], rows[at[found]]
        weight = g[fl.weight_column].to_numpy(dtype=float)
        gain = np.round(weight[last] - weight[prev], _DECIMALS)
        hit = gain <= fl.max_gain_kg
        last, prev = last[hit], prev[hit]
        oid = g["observation_id"].to_numpy()
        frames.append(
            _frame(
                g["child_id"].to_numpy()[last],
                AlertKind.FLAT_GROWTH,
                fl.severity.value,
                [(a, b) for a, b in zip(oid[prev], oid[last], strict=True)],
                [(fl.weight_column,)] * len(last),
                [
                    f"weight {a:.3f}->{b:.3f} kg"
                    for a, b in zip(weight[prev], weight[last], strict=True)
                ],
                meta.id,
                meta.version,
                g["date"].to_numpy()[last],
            )
        )

    frames.append(_rapid_gain_frame(g, table, birth))
    frames.append(_gap_frame(g, children, table, as_of))
    frames = [x for x in frames if not x.empty]
    return pd.concat(frames, ignore_index=True) if frames else findings_to_frame(())


def _gap_frame(
    g: pd.DataFrame, children: pd.DataFrame, table: VelocityTable, as_of: date
) -> pd.DataFrame:
    rule = table.measurement_gap
    measured = (g["zwei"].notna().to_numpy() & ~g["fwei"].to_numpy()) | (
        g["zlen"].notna().to_numpy() & ~g["flen"].to_numpy()
    )
    rows = last_rows(g[CHILD_CODE].to_numpy(), np.flatnonzero(measured))
    last = g.iloc[rows][["child_id", "observation_id", "date"]]
    kids = children[["child_id", "birth_date"]].copy()
    kids["enrolled"] = (
        children["centre_id"].notna().to_numpy() if "centre_id" in children.columns else False
    )
    kids = kids.merge(last, on="child_id", how="left")
    # allowed_gap_days for every child: the first age band holding as_of
    births = day_numbers(kids["birth_date"])
    enrolled = kids["enrolled"].to_numpy(dtype=bool)
    today = day_number(as_of)
    allowed_num = np.zeros(len(kids), dtype=np.int64)
    has_rule = np.zeros(len(kids), dtype=bool)
    for band in rule.bands:
        inside = (
            ~has_rule
            & (add_by_birth(births, band.from_age) <= today)
            & (today < add_by_birth(births, band.to_age))
        )
        limit = np.where(enrolled, min(band.max_days, rule.centre_max_days), band.max_days)
        allowed_num = np.where(inside, limit + rule.grace_days, allowed_num)
        has_rule |= inside
    since = pd.to_datetime(kids["date"]).fillna(pd.to_datetime(kids["birth_date"]))
    gap = (pd.Timestamp(as_of) - since).dt.days.to_numpy()
    hit_mask = has_rule & (gap > allowed_num)
    hit = kids[hit_mask]
    since_dates = since[hit_mask].dt.date
    return _frame(
        hit["child_id"],
        AlertKind.MEASUREMENT_OVERDUE,
        rule.severity.value,
        [() if pd.isna(o) else (str(o),) for o in hit["observation_id"]],
        [()] * len(hit),
        [
            f"{d} days since {s.isoformat()} (allowed {a})"
            for d, s, a in zip(gap[hit_mask], since_dates, allowed_num[hit_mask], strict=True)
        ],
        table.meta.id,
        table.meta.version,
        since_dates.to_numpy(),
    )


def _frame(
    subjects: Any,
    kind: AlertKind,
    severity: str,
    evidence: Any,
    items: Any,
    detail: Any,
    rule_id: str,
    rule_version: str,
    observed: Any,
) -> pd.DataFrame:
    """Assemble a findings frame for one child-level kind from column-like inputs."""
    subjects = np.asarray(subjects).astype(str)
    observed_arr = np.asarray(observed)
    if observed_arr.dtype.kind == "M":
        observed_arr = pd.to_datetime(observed_arr).date
    return pd.DataFrame(
        {
            "subject": subjects,
            "subject_type": "child",
            "kind": kind.value,
            "severity": severity,
            "grade": "",
            "evidence_ids": list(evidence) if len(subjects) else [],
            "items": list(items) if len(subjects) else [],
            "detail": list(detail) if len(subjects) else [],
            "rule_id": rule_id,
            "rule_version": rule_version,
            "observed_on": list(observed_arr) if len(subjects) else [],
        },
        columns=list(FINDING_COLUMNS),
    )
