"""Growth measurements paired per encounter and scored against the WHO standards.

One row per (child, encounter) — weight, length/height with its measure, head circumference —
from the growth Observations of :func:`healthbridge.district.frames.growth_frame`, then scored
by :func:`growth_standards.score`. Computed on integer keys with numpy rather than by a pandas
pivot: the pivot took most of a cold read of a large district
(``tests/healthbridge/district/test_gather_pair.py`` checks it against the pandas version).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

import growth_standards
from healthbridge import terminology as t
from healthbridge.district.frames import GROWTH_CODES, dates

#: The paired columns of the growth codes, in :func:`pair`'s field numbering.
_FIELDS: Final = ("weight_kg", "lenhei_cm", "headc_cm")
_MEASURE: Final = {t.LOINC_BODY_LENGTH: "l", t.LOINC_BODY_HEIGHT: "h"}


def last_recorded(observations: pd.DataFrame, group: np.ndarray) -> np.ndarray:
    """Positions (ascending) of the last recorded row of each ``group``: the only row of most
    groups; for the rest the greatest (``recorded``, ``res_id``)."""
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    sizes = np.diff(np.r_[np.flatnonzero(starts), len(ordered)])
    repeated = np.repeat(sizes > 1, sizes)
    single = order[~repeated]
    if not repeated.any():
        return np.sort(single)
    rows = order[repeated]
    some = pd.DataFrame(
        {
            "group": group[rows],
            "recorded": observations["recorded"].to_numpy(dtype=object)[rows],
            "res_id": observations["res_id"].to_numpy(dtype=object)[rows],
            "row": rows,
        }
    )
    some = some.sort_values(["group", "recorded", "res_id"], kind="stable", na_position="first")
    last = some.drop_duplicates("group", keep="last")["row"].to_numpy(dtype=np.int64)
    return np.sort(np.concatenate([single, last]))


def pair(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per (child, encounter), in that order: weight, length/height with its measure
    (``l`` lying, ``h`` standing), head circumference (``observations`` in any order).

    A repeated measurement in one encounter: the last one recorded counts (per field: the
    greatest ``recorded`` — ``meta.lastUpdated`` — then ``res_id``, as the store's instants
    have millisecond precision; an order free of where the rows were stored, so that a refresh
    of a few children pairs exactly as a read of the whole district does), and so does the
    measure of the length/height kept; the date is the earliest of the measurements kept.
    Computed on integer keys (the children and encounters factorised in sorted order, so the
    rows come out in (child, encounter) order; only the few repeated measurements are ordered
    by their stamps): a pivot on the string keys after sorting every row by its stamp took
    most of a cold read. ``tests/healthbridge/district/test_gather_pair.py`` checks it against
    the pandas implementation it replaces."""
    columns = ["child_id", "encounter", "date", "weight_kg", "lenhei_cm", "measure", "headc_cm"]
    if observations.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    code = observations["code"].to_numpy(dtype=object)
    field_no = np.full(len(code), -1, dtype=np.int64)
    for k, name in enumerate(_FIELDS):
        for loinc, target in GROWTH_CODES.items():
            if target == name:
                field_no[code == loinc] = k
    child_no, children = pd.factorize(observations["child_id"].to_numpy(dtype=object), sort=True)
    enc_no, encounters = pd.factorize(observations["encounter"].to_numpy(dtype=object), sort=True)
    key = child_no.astype(np.int64) * max(len(encounters), 1) + enc_no
    kept = last_recorded(observations, key * len(_FIELDS) + field_no)
    keys, group = np.unique(key, return_inverse=True)
    group_kept, field_kept = group[kept], field_no[kept]
    values = observations["value"].to_numpy(dtype="float64")[kept]
    wide = np.full((len(keys), len(_FIELDS)), np.nan)
    wide[group_kept, field_kept] = values
    # earliest date among the kept rows (dates factorised in sorted order)
    date_no, dates = pd.factorize(observations["date"].to_numpy(dtype=object)[kept], sort=True)
    order = np.lexsort((date_no, group_kept))
    first = order[np.r_[True, group_kept[order][1:] != group_kept[order][:-1]]]
    date = np.empty(len(keys), dtype=object)
    date[group_kept[first]] = dates[date_no[first]]
    measure = np.full(len(keys), np.nan, dtype=object)
    lenhei = field_kept == _FIELDS.index("lenhei_cm")
    measure[group_kept[lenhei]] = [_MEASURE.get(c) for c in code[kept][lenhei]]
    measure[pd.isna(measure)] = np.nan
    span = max(len(encounters), 1)
    return pd.DataFrame(
        {
            "child_id": pd.Series(children[keys // span], dtype="str"),
            "encounter": pd.Series(encounters[keys % span], dtype="str"),
            "date": pd.Series(date, dtype=object),
            "weight_kg": wide[:, 0],
            "lenhei_cm": wide[:, 1],
            "measure": pd.Series(measure, dtype="str"),
            "headc_cm": wide[:, 2],
        }
    )


def score_measurements(measurements: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Attach the child's sex, birth date and centre, the age in days, and WHO z-scores."""
    info = children[["child_id", "sex", "birth_date", "centre"]]
    frame = measurements.merge(info, on="child_id", how="inner")
    frame["date"] = dates(frame["date"])
    frame["age_days"] = (frame["date"] - frame["birth_date"]).dt.days.astype("float64")
    frame = frame.loc[frame["age_days"] >= 0].reset_index(drop=True)
    for col in ("weight_kg", "lenhei_cm", "headc_cm"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["measure"] = frame["measure"].astype("object").where(frame["measure"].notna(), None)
    if frame.empty:
        return frame
    return growth_standards.score(frame)


def measurements(observations: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """The ``measurements`` frame: the growth Observations paired and scored."""
    return score_measurements(pair(observations), children)
