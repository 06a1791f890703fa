"""Growth over time: faltering, flat weight curve, rapid weight gain, measurement overdue.

Rules (``velocity`` table; DOMAIN.md §2.2 last paragraph, §3.4):

* **faltering** — weight-for-age or length-for-age z of the latest plausible measurement is
  lower than the previous one by MORE than ``min_drop`` (0.67 SD, one major centile band);
* **flat** — weight did not rise (gain ≤ ``max_gain_kg``) from the latest measurement at least
  ``min_interval_days`` before the latest one (儿童健康检查服务技术规范: 曲线低平);
* **rapid gain** — weight-for-age z rose by MORE than ``min_rise`` between the last two
  plausible measurements while the child is under ``max_age_days`` (Ong et al., BMJ 2000);
* **measurement overdue** — days since the last plausible measurement exceed the age band's
  ``max_days`` (the centre frequency when the child is enrolled, if shorter) plus ``grace_days``.

Differences are rounded to 9 decimals before comparing, so that a change of exactly 0.67 in
decimal input is "not more than 0.67" despite binary floating point.
Flagged (implausible) values are ignored here; they raise a re-measure alert in nutrition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from healthbridge.clinical._days import add_by_birth, day_numbers
from healthbridge.clinical.ages import add_age, day_number
from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.frames import FINDING_COLUMNS, findings_to_frame, require_columns
from healthbridge.clinical.nutrition import CHILD_CODE, GrowthPoint, last_rows, prepare_growth
from healthbridge.clinical.tables import MeasurementGapRule, VelocityTable
from healthbridge.clinical.vocab import FLAG_OF, AlertKind

_DECIMALS = 9


def _delta(a: float, b: float) -> float:
    return float(np.round(b - a, _DECIMALS))


def _plausible(points: Sequence[GrowthPoint], column: str) -> list[GrowthPoint]:
    return [p for p in points if p.z(column) is not None and not p.flagged(column)]


def _sorted(history: Sequence[GrowthPoint]) -> list[GrowthPoint]:
    return sorted(history, key=lambda p: (p.on, p.observation_id))


def change_detail(column: str, before: float, after: float) -> str:
    return f"{column} {before:.2f}->{after:.2f}"


def velocity_findings(
    child_id: str,
    birth_date: date,
    history: Sequence[GrowthPoint],
    table: VelocityTable,
    as_of: date,
    *,
    enrolled_in_centre: bool = False,
) -> tuple[Finding, ...]:
    """Velocity and measurement-gap findings of one child (history in any order)."""
    points = _sorted([p for p in history if p.on <= as_of])
    out: list[Finding] = []
    meta = table.meta
    f = table.faltering
    items, evidence, details, last_on = [], [], [], None
    for column in f.columns:
        pts = _plausible(points, column)
        if len(pts) < 2:
            continue
        prev, last = pts[-2], pts[-1]
        before, after = prev.z(column), last.z(column)
        assert before is not None
        assert after is not None
        if _delta(before, after) < -f.min_drop:
            items.append(column)
            evidence += [prev.observation_id, last.observation_id]
            details.append(change_detail(column, before, after))
            last_on = last.on if last_on is None else max(last_on, last.on)
    if items:
        out.append(
            Finding(
                child_id,
                AlertKind.GROWTH_FALTERING,
                f.severity,
                "",
                tuple(evidence),
                tuple(items),
                "; ".join(details),
                meta.id,
                meta.version,
                last_on,
            )
        )
    fl = table.flat
    weighed = [
        p
        for p in points
        if p.weight is not None and not np.isnan(p.weight) and not p.flagged("zwei")
    ]
    if weighed:
        last = weighed[-1]
        earlier = [p for p in weighed if (last.on - p.on).days >= fl.min_interval_days]
        if earlier:
            prev = earlier[-1]
            assert prev.weight is not None
            assert last.weight is not None
            if _delta(prev.weight, last.weight) <= fl.max_gain_kg:
                out.append(
                    Finding(
                        child_id,
                        AlertKind.FLAT_GROWTH,
                        fl.severity,
                        "",
                        (prev.observation_id, last.observation_id),
                        (fl.weight_column,),
                        f"weight {prev.weight:.3f}->{last.weight:.3f} kg",
                        meta.id,
                        meta.version,
                        last.on,
                    )
                )
    rg = table.rapid_gain
    pts = _plausible(points, rg.column)
    if len(pts) >= 2:
        prev, last = pts[-2], pts[-1]
        before, after = prev.z(rg.column), last.z(rg.column)
        assert before is not None
        assert after is not None
        if last.age_days < rg.max_age_days and _delta(before, after) > rg.min_rise:
            out.append(
                Finding(
                    child_id,
                    AlertKind.RAPID_WEIGHT_GAIN,
                    rg.severity,
                    "",
                    (prev.observation_id, last.observation_id),
                    (rg.column,),
                    change_detail(rg.column, before, after),
                    meta.id,
                    meta.version,
                    last.on,
                )
            )
    measured = [p for p in points if _is_measurement(p)]
    gap = measurement_gap_finding(
        child_id,
        birth_date,
        measured[-1] if measured else None,
        table,
        as_of,
        enrolled_in_centre=enrolled_in_centre,
    )
    if gap is not None:
        out.append(gap)
    return tuple(out)


def _is_measurement(p: GrowthPoint) -> bool:
    return any(p.z(c) is not None and not p.flagged(c) for c in ("zwei", "zlen"))


def allowed_gap_days(
    birth_date: date, as_of: date, rule: MeasurementGapRule, *, enrolled_in_centre: bool
) -> int | None:
    """Longest allowed gap in days (grace included) at this age; ``None`` past the bands."""
    for band in rule.bands:
        if add_age(birth_date, band.from_age) <= as_of < add_age(birth_date, band.to_age):
            limit = (
                min(band.max_days, rule.centre_max_days) if enrolled_in_centre else band.max_days
            )
            return limit + rule.grace_days
    return None


def measurement_gap_finding(
    child_id: str,
    birth_date: date,
    last: GrowthPoint | None,
    table: VelocityTable,
    as_of: date,
    *,
    enrolled_in_centre: bool,
) -> Finding | None:
    """``measurement-overdue`` when the last plausible measurement (or birth) is too long ago."""
    rule = table.measurement_gap
    allowed = allowed_gap_days(birth_date, as_of, rule, enrolled_in_centre=enrolled_in_centre)
    if allowed is None:
        return None
    since = last.on if last is not None else birth_date
    gap = (as_of - since).days
    if gap <= allowed:
        return None
    return Finding(
        child_id,
        AlertKind.MEASUREMENT_OVERDUE,
        rule.severity,
        "",
        (last.observation_id,) if last else (),
        (),
        f"{gap} days since {since.isoformat()} (allowed {allowed})",
        table.meta.id,
        table.meta.version,
        since,
    )


# --------------------------------------------------------------------------- vectorised


def _last_two(g: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per child, the last two plausible values of ``column`` side by side (prev_*, last_*)."""
    rows = np.flatnonzero(g[column].notna().to_numpy() & ~g[FLAG_OF[column]].to_numpy())
    codes = g[CHILD_CODE].to_numpy()
    last = last_rows(codes, rows)
    # the row before each child's last plausible one, when it is the same child's
    at = np.searchsorted(rows, last) - 1
    has_prev = at >= 0
    has_prev[has_prev] = codes[rows[at[has_prev]]] == codes[last[has_prev]]
    last, prev = last[has_prev], rows[at[has_prev]]
    out = {"child_id": g["child_id"].to_numpy()[last]}
    for suffix, picked in (("_last", last), ("_prev", prev)):
        for name in ("observation_id", "date", "age_days", column):
            out[name + suffix] = g[name].to_numpy()[picked]
    return pd.DataFrame(out)


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
    falls = []
    for column in f.columns:
        pair = _last_two(g, column)
        delta = np.round(
            pair[f"{column}_last"].to_numpy() - pair[f"{column}_prev"].to_numpy(), _DECIMALS
        )
        hit = pair[delta < -f.min_drop]
        falls.append(
            pd.DataFrame(
                {
                    "child_id": hit["child_id"],
                    "column": column,
                    "ev": [
                        (a, b)
                        for a, b in zip(
                            hit["observation_id_prev"], hit["observation_id_last"], strict=True
                        )
                    ],
                    "detail": [
                        change_detail(column, a, b)
                        for a, b in zip(hit[f"{column}_prev"], hit[f"{column}_last"], strict=True)
                    ],
                    "on": hit["date_last"],
                }
            )
        )
    fall = pd.concat(falls, ignore_index=True)
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

    rg = table.rapid_gain
    pair = _last_two(g, rg.column)
    delta = np.round(
        pair[f"{rg.column}_last"].to_numpy() - pair[f"{rg.column}_prev"].to_numpy(), _DECIMALS
    )
    hit = pair[(delta > rg.min_rise) & (pair["age_days_last"].to_numpy() < rg.max_age_days)]
    frames.append(
        _frame(
            hit["child_id"],
            AlertKind.RAPID_WEIGHT_GAIN,
            rg.severity.value,
            [
                (a, b)
                for a, b in zip(hit["observation_id_prev"], hit["observation_id_last"], strict=True)
            ],
            [(rg.column,)] * len(hit),
            [
                change_detail(rg.column, a, b)
                for a, b in zip(hit[f"{rg.column}_prev"], hit[f"{rg.column}_last"], strict=True)
            ],
            meta.id,
            meta.version,
            hit["date_last"].to_numpy(),
        )
    )
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
