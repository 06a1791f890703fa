"""Nutritional status from z-scores (DOMAIN.md §2.2): WHO convention, or WHO z-scores judged
with the WS/T 423-2022 / 2024 weight-management cut-offs (``who-z-wst423-2022``).

The current status of a child uses, for each rule's indicator, the child's latest measurement
that has a value for it (the primary column, else the rule's fallback column, e.g. BMI-for-age
when weight-for-length was not paired at that encounter). A latest value flagged as
biologically implausible by growth_standards never yields a clinical finding; instead the child
gets one ``implausible-measurement`` (re-measure) finding naming the flagged columns.

Two implementations with one meaning: :func:`nutrition_findings` for one child's history
(the incremental path) and :func:`nutrition_frame` vectorised over a district (batch path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.clinical.alerts import Finding
from healthbridge.clinical.frames import findings_to_frame, require_columns
from healthbridge.clinical.tables import NutritionConvention, NutritionRule, NutritionTable
from healthbridge.clinical.vocab import FLAG_OF, Z_COLUMNS, AlertKind


@dataclass(frozen=True, slots=True)
class GrowthPoint:
    """One scored growth measurement of a child (a row of growth_standards output)."""

    observation_id: str
    on: date
    age_days: int
    zwei: float | None = None
    zlen: float | None = None
    zwfl: float | None = None
    zbmi: float | None = None
    zhc: float | None = None
    fwei: bool = False
    flen: bool = False
    fwfl: bool = False
    fbmi: bool = False
    fhc: bool = False
    weight: float | None = None
    #: scored at the corrected age of a preterm child (only compare points of one age basis)
    corrected: bool = False

    def z(self, column: str) -> float | None:
        value: float | None = getattr(self, column)
        return None if value is None or math.isnan(value) else value

    def flagged(self, column: str) -> bool:
        return bool(getattr(self, FLAG_OF[column]))


def in_interval(z: float, rule: NutritionRule) -> bool:
    """Whether ``z`` lies in the rule's interval (bounds and inclusiveness from the table)."""
    if rule.lower is not None and (
        z < rule.lower or (z == rule.lower and not rule.lower_inclusive)
    ):
        return False
    return not (
        rule.upper is not None
        and (z > rule.upper or (z == rule.upper and not rule.upper_inclusive))
    )


def z_detail(column: str, value: float) -> str:
    return f"{column}={value:.2f}"


def _sorted(history: Sequence[GrowthPoint]) -> list[GrowthPoint]:
    return sorted(history, key=lambda p: (p.on, p.observation_id))


def nutrition_findings(
    child_id: str,
    history: Sequence[GrowthPoint],
    table: NutritionTable,
    convention: NutritionConvention,
) -> tuple[Finding, ...]:
    """Current nutritional findings of one child from their scored measurements (any order)."""
    points = _sorted(history)
    best: dict[AlertKind, tuple[int, int, Finding]] = {}
    for order, rule in enumerate(convention.rules):
        latest = _latest(points, rule.column, rule.fallback)
        if latest is None:
            continue
        point, column, value = latest
        if point.flagged(column) or not in_interval(value, rule):
            continue
        if rule.max_age_days is not None and point.age_days >= rule.max_age_days:
            continue
        if rule.min_age_days is not None and point.age_days < rule.min_age_days:
            continue
        finding = Finding(
            subject=child_id,
            kind=rule.kind,
            severity=rule.severity,
            grade=rule.grade,
            evidence_ids=(point.observation_id,),
            items=(column,),
            detail=z_detail(column, value),
            rule_id=table.meta.id,
            rule_version=f"{table.meta.version}/{convention.id}",
            observed_on=point.on,
        )
        key = (-rule.severity.rank, order)
        if rule.kind not in best or key < best[rule.kind][:2]:
            best[rule.kind] = (key[0], key[1], finding)
    findings = [f for _, _, f in best.values()]
    implausible = implausible_finding(child_id, points, table)
    if implausible is not None:
        findings.append(implausible)
    return tuple(findings)


def _latest(
    points: list[GrowthPoint], column: str, fallback: str | None
) -> tuple[GrowthPoint, str, float] | None:
    for point in reversed(points):
        value = point.z(column)
        if value is not None:
            return point, column, value
        if fallback is not None:
            value = point.z(fallback)
            if value is not None:
                return point, fallback, value
    return None


def implausible_finding(
    child_id: str, points: Sequence[GrowthPoint], table: NutritionTable
) -> Finding | None:
    """Re-measure finding when the latest value of any z-score column is flagged."""
    flagged: list[tuple[str, GrowthPoint]] = []
    for column in Z_COLUMNS:
        latest = _latest(list(points), column, None)
        if latest is not None and latest[0].flagged(column):
            flagged.append((column, latest[0]))
    if not flagged:
        return None
    return Finding(
        subject=child_id,
        kind=AlertKind.IMPLAUSIBLE_MEASUREMENT,
        severity=table.implausible_severity,
        grade="",
        evidence_ids=tuple(p.observation_id for _, p in flagged),
        items=tuple(c for c, _ in flagged),
        detail="flagged: " + ",".join(c for c, _ in flagged),
        rule_id=table.meta.id,
        rule_version=table.meta.version,
        observed_on=max(p.on for _, p in flagged),
    )


# --------------------------------------------------------------------------- vectorised


#: Column of a prepared growth frame: an integer per child, equal rows contiguous.
CHILD_CODE = "_child"


def prepare_growth(growth: pd.DataFrame) -> pd.DataFrame:
    """Growth rows grouped by child, each child's rows by (date, observation id), flags as
    bools, missing z columns as NaN, and :data:`CHILD_CODE` (the input of the vectorised growth
    rules; pass it with ``prepared=True`` to run several of them on one sort).

    Only the order within a child matters to the rules (latest and previous measurement), so
    the children are grouped, not sorted by id: the order is a stable sort by (child, date,
    observation id) and the frame is used as is when already in that order.
    """
    require_columns(growth, "growth", ("child_id", "observation_id", "date", "age_days"))
    g = growth.assign(date=pd.to_datetime(growth["date"]).astype("datetime64[ns]"))
    codes = np.asarray(pd.factorize(g["child_id"])[0], dtype=np.int64)
    days = g["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = _child_order(codes, days, g["observation_id"].to_numpy(dtype=object))
    if order is not None:
        g = g.take(order)
    g = g.reset_index(drop=True)
    g[CHILD_CODE] = np.asarray(pd.factorize(g["child_id"])[0], dtype=np.int64)
    for column in Z_COLUMNS:
        if column not in g.columns:
            g[column] = np.nan
        flag = FLAG_OF[column]
        g[flag] = g[flag].fillna(0).astype(bool) if flag in g.columns else False
    g["corrected"] = g["corrected"].fillna(0).astype(bool) if "corrected" in g.columns else False
    return g


def _child_order(
    codes: npt.NDArray[np.int64], days: npt.NDArray[np.int64], ids: npt.NDArray[np.object_]
) -> npt.NDArray[np.intp] | None:
    """The stable order by (child, date, id), or ``None`` when the rows are in it already."""
    if len(codes) < 2:
        return None
    step = np.diff(codes)
    same = step == 0
    later = days[1:] > days[:-1]
    tie = same & (days[1:] == days[:-1])
    if (step >= 0).all() and (~same | later | tie).all():
        at = np.flatnonzero(tie)
        if len(at) == 0:
            return None
        text = np.asarray(ids, dtype=str)
        if (text[at + 1] >= text[at]).all():
            return None
    return np.lexsort((np.asarray(ids, dtype=str), days, codes))


def last_rows(codes: npt.NDArray[np.int64], rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Of ``rows`` (ascending positions in a prepared growth frame), each child's last."""
    if len(rows) == 0:
        return rows
    c = codes[rows]
    keep = np.ones(len(rows), dtype=bool)
    keep[:-1] = c[1:] != c[:-1]
    return rows[keep]


def first_rows(codes: npt.NDArray[np.int64], rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Of ``rows`` (ascending positions in a prepared growth frame), each child's first."""
    if len(rows) == 0:
        return rows
    c = codes[rows]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = c[1:] != c[:-1]
    return rows[keep]


def _latest_frame(g: pd.DataFrame, column: str, fallback: str | None) -> pd.DataFrame:
    """Per child: the latest row with a value in ``column`` (else ``fallback``)."""
    value = g[column].to_numpy(dtype=float)
    flagged = g[FLAG_OF[column]].to_numpy(dtype=bool)
    missing = np.isnan(value)
    if fallback is not None:
        value = np.where(missing, g[fallback].to_numpy(dtype=float), value)
        flagged = np.where(missing, g[FLAG_OF[fallback]].to_numpy(dtype=bool), flagged)
    rows = last_rows(g[CHILD_CODE].to_numpy(), np.flatnonzero(~np.isnan(value)))
    used = np.full(len(rows), column, dtype=object)
    if fallback is not None:
        used[missing[rows]] = fallback
    return pd.DataFrame(
        {
            "child_id": g["child_id"].to_numpy()[rows],
            "observation_id": g["observation_id"].to_numpy()[rows],
            "date": g["date"].to_numpy()[rows],
            "age_days": g["age_days"].to_numpy()[rows],
            "value": value[rows],
            "flagged": flagged[rows],
            "used": used,
        }
    )


def nutrition_frame(
    growth: pd.DataFrame,
    table: NutritionTable,
    convention: NutritionConvention,
    *,
    prepared: bool = False,
) -> pd.DataFrame:
    """Vectorised :func:`nutrition_findings` over many children; returns a findings frame.

    ``prepared``: ``growth`` comes from :func:`prepare_growth` (skips the preparation)."""
    g = growth if prepared else prepare_growth(growth)
    cache: dict[tuple[str, str | None], pd.DataFrame] = {}
    parts = []
    for order, rule in enumerate(convention.rules):
        key = (rule.column, rule.fallback)
        if key not in cache:
            cache[key] = _latest_frame(g, rule.column, rule.fallback)
        latest = cache[key]
        v = latest["value"].to_numpy()
        mask = ~latest["flagged"].to_numpy()
        if rule.lower is not None:
            mask &= (v >= rule.lower) if rule.lower_inclusive else (v > rule.lower)
        if rule.upper is not None:
            mask &= (v <= rule.upper) if rule.upper_inclusive else (v < rule.upper)
        if rule.max_age_days is not None:
            mask &= latest["age_days"].to_numpy() < rule.max_age_days
        if rule.min_age_days is not None:
            mask &= latest["age_days"].to_numpy() >= rule.min_age_days
        hit = latest[mask].copy()
        if hit.empty:
            continue
        hit["kind"] = rule.kind.value
        hit["severity"] = rule.severity.value
        hit["grade"] = rule.grade
        hit["rank"] = -rule.severity.rank
        hit["order"] = order
        parts.append(hit)
    rows: list[pd.DataFrame] = []
    if parts:
        hits = pd.concat(parts, ignore_index=True)
        hits = hits.sort_values(["child_id", "kind", "rank", "order"], kind="mergesort")
        hits = hits.drop_duplicates(["child_id", "kind"], keep="first")
        rows.append(
            pd.DataFrame(
                {
                    "subject": hits["child_id"].astype(str).to_numpy(),
                    "subject_type": "child",
                    "kind": hits["kind"].to_numpy(),
                    "severity": hits["severity"].to_numpy(),
                    "grade": hits["grade"].to_numpy(),
                    "evidence_ids": [(str(o),) for o in hits["observation_id"].tolist()],
                    "items": [(u,) for u in hits["used"].tolist()],
                    "detail": [
                        z_detail(u, v)
                        for u, v in zip(hits["used"].tolist(), hits["value"].tolist(), strict=True)
                    ],
                    "rule_id": table.meta.id,
                    "rule_version": f"{table.meta.version}/{convention.id}",
                    "observed_on": pd.to_datetime(hits["date"]).dt.date.to_numpy(),
                }
            )
        )
    rows.append(_implausible_frame(g, table))
    frames = [r for r in rows if not r.empty]
    if not frames:
        return findings_to_frame(())
    return pd.concat(frames, ignore_index=True)


def _implausible_frame(g: pd.DataFrame, table: NutritionTable) -> pd.DataFrame:
    parts = []
    for column in Z_COLUMNS:
        latest = _latest_frame(g, column, None)
        parts.append(latest[latest["flagged"]])
    flagged = pd.concat(parts, ignore_index=True)
    if flagged.empty:
        return findings_to_frame(())
    order = {c: i for i, c in enumerate(Z_COLUMNS)}
    flagged["col_order"] = flagged["used"].map(order)
    flagged = flagged.sort_values(["child_id", "col_order"], kind="mergesort")
    grouped: Any = flagged.groupby("child_id", sort=True)
    items = grouped["used"].agg(tuple)
    evidence = grouped["observation_id"].agg(lambda s: tuple(sorted({str(x) for x in s})))
    latest_date = grouped["date"].max()
    return pd.DataFrame(
        {
            "subject": items.index.astype(str),
            "subject_type": "child",
            "kind": AlertKind.IMPLAUSIBLE_MEASUREMENT.value,
            "severity": table.implausible_severity.value,
            "grade": "",
            "evidence_ids": evidence.to_numpy(),
            "items": items.to_numpy(),
            "detail": ["flagged: " + ",".join(i) for i in items],
            "rule_id": table.meta.id,
            "rule_version": table.meta.version,
            "observed_on": pd.to_datetime(latest_date).dt.date.to_numpy(),
        }
    )
