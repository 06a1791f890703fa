"""Screening coverage figures (``screening:<code>``) of the district report, DOMAIN.md §6.1.

* **Screened rate, per scheduled screening** (``screening:haemoglobin``, ``hearing``, ``eye``,
  ``oral``): children in the screening's age range on ``as_of`` (from its first scheduled
  age up to one year past its last, the ``screening_ages`` input) ÷ of whom those with a result
  of that screening dated in the period. The eye figure is the 0～6岁儿童眼保健和视力检查覆盖率
  of the 2021 specification (children receiving eye checks ÷ children of the ages, [M]); the
  others are read the same way — our definition [?] (no national formula was confirmed).
* **Developmental assessment after a positive screen** (``screening:development``): children
  with a positive warning-sign screen (``warning-positive``) in the period ÷ of whom those with
  a developmental assessment result on or after that screen (up to ``as_of``) [?].

Pure (pandas/numpy only); the figures join the coverage table through
:func:`healthbridge.reports.coverage.coverage_table`, with its groupings, intervals and
small-cell suppression.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthbridge.reports.coverage_inputs import (
    CoverageInputs,
    _child_groups,
    _days,
    _Family,
    _require,
)

#: Figure labels per screening code (zh, en).
LABELS: dict[str, tuple[str, str]] = {
    "haemoglobin": ("血红蛋白检测率", "Haemoglobin screening rate"),
    "hearing": ("听力筛查率", "Hearing screening rate"),
    "eye": ("0～6岁儿童眼保健和视力检查覆盖率", "Eye care and vision check coverage (0-6 y)"),
    "oral": ("口腔检查率", "Oral health check rate"),
    "development": (
        "预警征阳性儿童发育评估率",
        "Developmental assessment after a positive warning-sign screen",
    ),
}
WARNING_POSITIVE = "warning-positive"


def screening_family(
    inputs: CoverageInputs, as_of: np.datetime64, period_start: np.datetime64
) -> _Family | None:
    """The screening figures, or None when no screening schedule is given."""
    ages, results = inputs.screening_ages, inputs.screenings
    _require(ages, "screening_ages", ("screening", "from_days", "to_days"))
    _require(results, "screenings", ("child_id", "date", "screening"))
    if ages.empty:
        return None
    children = inputs.children
    ids = children["child_id"].astype("string").to_numpy(dtype=object)
    index = pd.Index(ids)
    birth = _days(children["birth_date"])
    age = (as_of - birth).astype("timedelta64[D]").astype(np.float64)
    age[np.isnat(birth)] = np.nan
    on = _days(results["date"])
    code = results["screening"].astype("string")
    child = results["child_id"].astype("string")
    in_period = ~np.isnat(on) & (on >= period_start) & (on <= as_of)
    codes, zh, en, den, num = [], [], [], [], []
    bounds = zip(
        ages["screening"].astype(str),
        ages["from_days"].astype(float),
        ages["to_days"].astype(float),
        strict=True,
    )
    for s, low, high in bounds:
        eligible = (age >= low) & (age < high)
        screened = index.isin(child[in_period & (code == s).fillna(False).to_numpy()].unique())
        codes.append(f"screening:{s}")
        zh.append(LABELS.get(s, (s, s))[0])
        en.append(LABELS.get(s, (s, s))[1])
        den.append(eligible)
        num.append(eligible & screened)
    # developmental assessment after a positive warning-sign screen in the period
    positive = in_period & (code == WARNING_POSITIVE).fillna(False).to_numpy()
    first_positive = (
        pd.Series(on[positive], index=child[positive].to_numpy()).groupby(level=0).min()
    )
    is_dev = ~np.isnat(on) & (on <= as_of)
    is_dev &= (code == "development").fillna(False).to_numpy()
    latest_dev = pd.Series(on[is_dev], index=child[is_dev].to_numpy()).groupby(level=0).max()
    flagged = index.isin(first_positive.index)
    start = first_positive.reindex(index).to_numpy(dtype="datetime64[D]")
    last = latest_dev.reindex(index).to_numpy(dtype="datetime64[D]")
    followed = flagged & ~np.isnat(last) & (last >= start)
    codes.append("screening:development")
    zh.append(LABELS["development"][0])
    en.append(LABELS["development"][1])
    den.append(flagged)
    num.append(followed)
    return _Family(
        unit="child",
        ids=ids,
        groups=_child_groups(children, as_of),
        codes=tuple(codes),
        labels_zh=tuple(zh),
        labels_en=tuple(en),
        denominator=np.column_stack(den),
        numerator=np.column_stack(num),
    )
