"""District coverage figures (DOMAIN.md §6.1), each traceable to the children it counts.

Every figure is *numerator / denominator* with a 95 % interval. Rules, for a report date
``as_of`` and a period ``[period_start, as_of]`` (default: the 365 days ending on ``as_of``):

* **Checkup coverage, per visit** (``checkup:<code>``): children under 7 whose visit is due
  (birth date + due age in calendar months + ``grace_days`` ≤ ``as_of``) ÷ … of whom those
  with a checkup of that visit code dated on or before ``as_of``. Due ages are data
  (``data/checkup_schedule.json``, 基本公卫规范第三版 2017).
* **Under-3 systematic management rate, 4:2:2** (``systematic-management-u3``; 3岁以下儿童
  系统管理率, 妇幼卫生年报, DOMAIN.md §6.1). Denominator: children younger than 36 calendar
  months on ``as_of`` who have reached the due age of the first counted visit (3 months +
  grace) — a child with nothing due yet cannot be judged, so is not counted either way.
  Numerator: those who, in each year of life, attended as many *distinct* scheduled visits as
  are due by ``as_of`` (year 1: 3, 6, 8, 12 m; year 2: 18, 24 m; year 3: 30, 36 m — so a child
  past 30 months needs 4 + 2 + 1, and the full 4:2:2 at 36 months). Visits are matched by
  visit code, whatever their date; the newborn visit does not count (年报 rule).
* **Under-7 health management rate** (``health-management-u7``; 7岁以下儿童健康管理率):
  children younger than 84 months on ``as_of`` ÷ those with ≥ 1 checkup (any code except
  ``daily-check``) in the period.
* **Vaccination coverage** (``vaccination:<vaccine>:<dose>``): children whose dose is due
  (birth + ``due_age_days`` + ``grace_days`` ≤ ``as_of``) ÷ those with that dose recorded on or
  before ``as_of``. The required-dose table is an input (the NIP schedule lives elsewhere).
* **Admission check completion** (``admission-check``; 查验办法 2021, DOMAIN.md §1.4): new
  entrants in the period ÷ those whose certificate has been assessed. **Catch-up completion**
  (``admission-catchup``): entrants assessed incomplete ÷ those whose catch-up is recorded.
* **Signed-centre rate** (``signed-centres``): filed centres ÷ those with a 医育结合 agreement
  signed on or before ``as_of`` and not ended. Local definitions vary (DOMAIN.md §7 item 7).
* **Frail-child management rate** (``managed-frail``; 体弱儿管理率 = 体弱儿专案管理人数 ÷
  体弱儿人数, 妇幼卫生年报 usage [M]): children identified as frail in the period (a managed case
  open at some time in it, or a listed ``frail`` identification dated in it: an alert of a
  managed-case condition) ÷ of whom those with a managed case open at some time in the period.
* **Case closure rate** (``case-closure``; 结案率 = 结案人数 ÷ 专案管理人数 [M]): children with a
  managed case open at some time in the period ÷ of whom those with a case closed in the period
  with outcome cured, improved or referred (a case closed as lost to follow-up, 失访, is not a
  结案: our reading [?]).
* **Childcare places per 1,000 population** (``places-per-1000``): places in filed centres ÷
  resident population / 1,000, only when the population is configured; no interval.

Per-centre rows use the centre a child is enrolled in on ``as_of`` (``enrolled_on`` ≤
``as_of`` < ``left_on`` when those columns exist); admission rows use the centre of the entry.

Intervals: Wilson score by default (never degenerate at 0 % or 100 %, good coverage for the
small denominators of single centres); Clopper–Pearson on request.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthbridge.reports.ci import CiMethod, proportion_ci
from healthbridge.reports.errors import ReportInputError

BoolMatrix = npt.NDArray[np.bool_]

#: Admission-check states (DOMAIN.md §1.4 suggested system states).
ADMISSION_STATES: frozenset[str] = frozenset(
    {
        "not_submitted",
        "submitted",
        "assessed_complete",
        "assessed_incomplete",
        "catchup_in_progress",
        "catchup_recorded",
        "rechecked",
    }
)
_CHECKED = frozenset(ADMISSION_STATES - {"not_submitted", "submitted"})
_NEEDS_CATCHUP = frozenset(
    {"assessed_incomplete", "catchup_in_progress", "catchup_recorded", "rechecked"}
)
_CATCHUP_DONE_STATES = frozenset({"catchup_recorded", "rechecked"})
#: Values of the separate ``catchup_status`` column that mean the catch-up is done.
CATCHUP_DONE: frozenset[str] = frozenset({"recorded", "rechecked"})

GROUP_KEYS: tuple[str, ...] = ("centre", "district")


@dataclass(frozen=True)
class Visit:
    """One scheduled checkup."""

    code: str
    due_months: int
    systematic_year: int | None
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class CheckupSchedule:
    """The checkup schedule and the management-rate parameters (a data file)."""

    version: str
    source: str
    visits: tuple[Visit, ...]
    systematic_max_age_months: int
    health_max_age_months: int
    health_excluded_codes: frozenset[str]


@cache
def load_checkup_schedule() -> CheckupSchedule:
    """Read and cache ``data/checkup_schedule.json``."""
    raw = json.loads(
        resources.files("healthbridge.reports")
        .joinpath("data/checkup_schedule.json")
        .read_text(encoding="utf-8")
    )
    visits = tuple(
        Visit(v["code"], int(v["due_months"]), v["systematic_year"], v["label_zh"], v["label_en"])
        for v in raw["visits"]
    )
    return CheckupSchedule(
        version=raw["version"],
        source=raw["source"],
        visits=visits,
        systematic_max_age_months=int(raw["systematic_management"]["max_age_months"]),
        health_max_age_months=int(raw["health_management"]["max_age_months"]),
        health_excluded_codes=frozenset(raw["health_management"]["excluded_visit_codes"]),
    )


def _empty(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


@dataclass(frozen=True)
class CoverageInputs:
    """The tables a coverage report reads. Column names are the contract.

    * ``children``: ``child_id``, ``birth_date``; optional ``sex``, ``centre``, ``district``,
      ``enrolled_on``, ``left_on``.
    * ``checkups``: ``child_id``, ``date``, ``visit_code`` (CodeSystem ``checkup-visit``).
    * ``vaccinations``: ``child_id``, ``vaccine``, ``dose`` (1-based), ``date``.
    * ``required_doses``: ``vaccine``, ``dose``, ``due_age_days``.
    * ``admission_checks``: ``child_id``, ``centre``, ``entry_date``, ``status`` (one of
      :data:`ADMISSION_STATES`); optional ``catchup_status``.
    * ``centres``: ``centre``; optional ``district``, ``places``, ``filed`` (bool, default
      true).
    * ``agreements``: ``centre``, ``hospital``, ``signed_on``; optional ``ends_on``.
    * ``cases``: managed cases, ``child_id``, ``start``; optional ``end``, ``outcome``.
    * ``frail``: children identified as frail, ``child_id``, ``date``.
    * ``population``: resident population of the area, or None when not configured.
    * ``screenings``: ``child_id``, ``date``, ``screening``; ``screening_ages``: ``screening``,
      ``from_days``, ``to_days`` (:mod:`healthbridge.reports.screening_coverage`).
    """

    children: pd.DataFrame
    checkups: pd.DataFrame = field(default_factory=lambda: _empty("child_id", "date", "visit_code"))
    vaccinations: pd.DataFrame = field(
        default_factory=lambda: _empty("child_id", "vaccine", "dose", "date")
    )
    required_doses: pd.DataFrame = field(
        default_factory=lambda: _empty("vaccine", "dose", "due_age_days")
    )
    admission_checks: pd.DataFrame = field(
        default_factory=lambda: _empty("child_id", "centre", "entry_date", "status")
    )
    centres: pd.DataFrame = field(default_factory=lambda: _empty("centre"))
    agreements: pd.DataFrame = field(
        default_factory=lambda: _empty("centre", "hospital", "signed_on")
    )
    population: int | None = None
    cases: pd.DataFrame = field(default_factory=lambda: _empty("child_id", "start"))
    frail: pd.DataFrame = field(default_factory=lambda: _empty("child_id", "date"))
    #: screening results (``screening``: a ``child-screening`` code, ``haemoglobin``, or
    #: ``warning-positive``) and each screening's age range in days
    #: (:mod:`healthbridge.reports.screening_coverage`)
    screenings: pd.DataFrame = field(
        default_factory=lambda: _empty("child_id", "date", "screening")
    )
    screening_ages: pd.DataFrame = field(
        default_factory=lambda: _empty("screening", "from_days", "to_days")
    )


#: Outcomes that count as a closure (结案) in ``case-closure``.
CLOSED_OUTCOMES = frozenset({"cured", "improved", "referred"})


@dataclass(frozen=True)
class FigureMembers:
    """Who a figure counts: unit ids (child ids, or centre ids for ``signed-centres``)."""

    figure: str
    unit: str
    denominator_ids: tuple[str, ...]
    numerator_ids: tuple[str, ...]


@dataclass(frozen=True)
class _Family:
    """Figures sharing one unit list: boolean matrices units × figures."""

    unit: str
    ids: npt.NDArray[np.object_]
    groups: pd.DataFrame
    codes: tuple[str, ...]
    labels_zh: tuple[str, ...]
    labels_en: tuple[str, ...]
    denominator: BoolMatrix
    numerator: BoolMatrix


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportInputError(f"{name}: missing column(s): {', '.join(missing)}")


def _days(values: pd.Series) -> npt.NDArray[np.datetime64]:
    """Dates as numpy ``datetime64[D]`` (NaT for missing)."""
    converted = pd.to_datetime(values, errors="coerce")
    return np.asarray(converted.to_numpy(dtype="datetime64[D]"))


def add_months(dates: npt.NDArray[np.datetime64], months: int) -> npt.NDArray[np.datetime64]:
    """Calendar-month addition with end-of-month clamping (31 Jan + 1 m = 28/29 Feb)."""
    month_start = dates.astype("datetime64[M]")
    day = (dates - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.timedelta64(months, "M")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    result: npt.NDArray[np.datetime64] = target.astype("datetime64[D]") + np.minimum(
        day, length - 1
    ).astype("timedelta64[D]")
    return result


def _child_groups(children: pd.DataFrame, as_of: np.datetime64) -> pd.DataFrame:
    groups = pd.DataFrame(index=children.index)
    centre = (
        children["centre"].astype("string")
        if "centre" in children.columns
        else pd.Series(pd.NA, index=children.index, dtype="string")
    )
    enrolled = np.ones(len(children), dtype=bool)
    if "enrolled_on" in children.columns:
        start = _days(children["enrolled_on"])
        enrolled &= ~np.isnat(start) & (start <= as_of)
    if "left_on" in children.columns:
        end = _days(children["left_on"])
        enrolled &= np.isnat(end) | (end > as_of)
    not_enrolled: npt.NDArray[np.bool_] = ~enrolled
    groups["centre"] = centre.mask(not_enrolled)
    groups["district"] = (
        children["district"].astype("string")
        if "district" in children.columns
        else pd.Series(pd.NA, index=children.index, dtype="string")
    )
    return groups.reset_index(drop=True)


def _pair_matrix(
    rows: pd.Index, cols: pd.Index, row_keys: pd.Series, col_keys: pd.Index | pd.Series
) -> BoolMatrix:
    """Boolean matrix rows × cols, True where (row_key, col_key) pairs occur."""
    out = np.zeros((len(rows), len(cols)), dtype=bool)
    r = rows.get_indexer(pd.Index(row_keys))
    c = cols.get_indexer(col_keys if isinstance(col_keys, pd.Index) else pd.Index(col_keys))
    ok = (r >= 0) & (c >= 0)
    out[r[ok], c[ok]] = True
    return out


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
    c_codes = checkups["visit_code"].astype("string")
    c_child = checkups["child_id"].astype("string")
    done_by_as_of = ~np.isnat(c_dates) & (c_dates <= as_of)

    visits = schedule.visits
    codes_index = pd.Index([v.code for v in visits])
    attended = _pair_matrix(
        child_index, codes_index, c_child[done_by_as_of], c_codes[done_by_as_of]
    )
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
    # Under-7 health management: at least one checkup in the period.
    in_period = done_by_as_of & (c_dates >= period_start)
    in_period &= ~c_codes.isin(list(schedule.health_excluded_codes)).fillna(False).to_numpy()
    had_exam = child_index.isin(c_child[in_period].dropna().unique())
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


def _families(
    inputs: CoverageInputs,
    as_of: dt.date,
    period_start: dt.date | None,
    grace_days: int,
) -> list[_Family]:
    _require(inputs.children, "children", ("child_id", "birth_date"))
    if grace_days < 0:
        raise ReportInputError("grace_days must not be negative")
    day = np.datetime64(as_of, "D")
    start = (
        np.datetime64(period_start, "D")
        if period_start is not None
        else day - np.timedelta64(364, "D")
    )
    from healthbridge.reports.screening_coverage import screening_family  # imports this module

    schedule = load_checkup_schedule()
    families = _checkup_families(inputs, day, start, grace_days, schedule)
    for extra in (
        _vaccination_family(inputs, day, grace_days),
        _admission_family(inputs, day, start),
        _case_family(inputs, day, start),
        _centre_family(inputs, day),
        screening_family(inputs, day, start),
    ):
        if extra is not None:
            families.append(extra)
    return families


def coverage_table(
    inputs: CoverageInputs,
    *,
    as_of: dt.date,
    period_start: dt.date | None = None,
    groupings: Sequence[Sequence[str]] = ((), ("centre",)),
    grace_days: int = 0,
    ci_method: CiMethod = CiMethod.WILSON,
) -> pd.DataFrame:
    """All coverage figures as one tidy table.

    Columns: ``grouping``, ``centre``, ``district`` (``"all"`` where not split), ``figure``,
    ``label_zh``, ``label_en``, ``unit`` (``child``/``centre``/``place``), ``numerator``,
    ``denominator``, ``rate`` (% — per 1,000 for ``places-per-1000``), ``rate_unit``,
    ``ci_lower``, ``ci_upper``, ``ci_method``. Groupings may use ``centre`` and ``district``.
    """
    for g in groupings:
        bad = [k for k in g if k not in GROUP_KEYS]
        if bad:
            raise ReportInputError(f"coverage groupings may use centre and district, not {bad}")
    parts: list[pd.DataFrame] = []
    for family in _families(inputs, as_of, period_start, grace_days):
        for g in groupings:
            parts.append(_aggregate(family, tuple(g), ci_method))
    places = _places_row(inputs)
    if places is not None:
        parts.append(places)
    table = pd.concat(parts, ignore_index=True)
    for k in GROUP_KEYS:
        if k not in table.columns:
            table[k] = pd.NA
        table[k] = table[k].astype("string").fillna("all")
    return table[
        [
            "grouping",
            *GROUP_KEYS,
            "figure",
            "label_zh",
            "label_en",
            "unit",
            "numerator",
            "denominator",
            "rate",
            "rate_unit",
            "ci_lower",
            "ci_upper",
            "ci_method",
        ]
    ]


def _aggregate(family: _Family, keys: tuple[str, ...], method: CiMethod) -> pd.DataFrame:
    den = pd.DataFrame(family.denominator.astype(np.int64), columns=list(family.codes))
    num = pd.DataFrame(family.numerator.astype(np.int64), columns=list(family.codes))
    if keys:
        by = [family.groups[k] for k in keys]
        den_s = den.groupby(by, dropna=True).sum()
        num_s = num.groupby(by, dropna=True).sum()
        key_frame = den_s.index.to_frame(index=False)
        key_frame.columns = list(keys)
    else:
        den_s = den.sum(axis=0).to_frame().T
        num_s = num.sum(axis=0).to_frame().T
        key_frame = pd.DataFrame(index=[0])
    rows = []
    for i, code in enumerate(family.codes):
        d = den_s[code].to_numpy(dtype=np.int64)
        n = num_s[code].to_numpy(dtype=np.int64)
        lower, upper = proportion_ci(n, d, method)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(d > 0, n / d * 100, np.nan)
        part = key_frame.copy().reset_index(drop=True)
        part.insert(0, "grouping", "+".join(keys) if keys else "all")
        part["figure"] = code
        part["label_zh"] = family.labels_zh[i]
        part["label_en"] = family.labels_en[i]
        part["unit"] = family.unit
        part["numerator"] = n
        part["denominator"] = d
        part["rate"] = rate
        part["rate_unit"] = "%"
        part["ci_lower"] = lower * 100
        part["ci_upper"] = upper * 100
        part["ci_method"] = str(method)
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def _places_row(inputs: CoverageInputs) -> pd.DataFrame | None:
    centres = inputs.centres
    if inputs.population is None or "places" not in centres.columns:
        return None
    if inputs.population <= 0:
        raise ReportInputError("population must be positive")
    filed = (
        centres["filed"].fillna(False).astype(bool)
        if "filed" in centres.columns
        else pd.Series(True, index=centres.index)
    )
    places = int(pd.to_numeric(centres.loc[filed, "places"]).fillna(0).sum())
    return pd.DataFrame(
        {
            "grouping": ["all"],
            "figure": ["places-per-1000"],
            "label_zh": ["每千人口拥有3岁以下婴幼儿托位数"],
            "label_en": ["Childcare places for under-3s per 1,000 population"],
            "unit": ["place"],
            "numerator": [places],
            "denominator": [inputs.population],
            "rate": [places / (inputs.population / 1000)],
            "rate_unit": ["per 1000"],
            "ci_lower": [np.nan],
            "ci_upper": [np.nan],
            "ci_method": [""],
        }
    )


def figure_members(
    inputs: CoverageInputs,
    figure: str,
    *,
    as_of: dt.date,
    period_start: dt.date | None = None,
    grace_days: int = 0,
    centre: str | None = None,
    district: str | None = None,
) -> FigureMembers:
    """The ids a figure counts, so an official can see exactly which children (or centres)
    are in its numerator and denominator; ``centre``/``district`` narrow to one row of the
    table. Raises :class:`ReportInputError` for an unknown figure code."""
    for family in _families(inputs, as_of, period_start, grace_days):
        if figure not in family.codes:
            continue
        col = family.codes.index(figure)
        keep = np.ones(len(family.ids), dtype=bool)
        for key, value in (("centre", centre), ("district", district)):
            if value is not None:
                keep &= (family.groups[key] == value).fillna(False).to_numpy()
        den = family.denominator[:, col] & keep
        num = family.numerator[:, col] & keep
        return FigureMembers(
            figure=figure,
            unit=family.unit,
            denominator_ids=tuple(sorted(str(i) for i in family.ids[den])),
            numerator_ids=tuple(sorted(str(i) for i in family.ids[num])),
        )
    raise ReportInputError(f"unknown coverage figure: {figure!r}")


def coverage_chart_data(table: pd.DataFrame, *, figure: str, lang: str = "zh") -> pd.DataFrame:
    """Per-centre bars with error bars for one figure (plus the district-wide row first).

    Columns: ``group``, ``value``, ``err_minus``, ``err_plus``, ``numerator``,
    ``denominator``, ``title``.
    """
    rows = table.loc[(table["figure"] == figure) & table["grouping"].isin(["all", "centre"])]
    title_col = "label_zh" if lang == "zh" else "label_en"
    return pd.DataFrame(
        {
            "group": np.where(rows["grouping"] == "all", "all", rows["centre"]),
            "value": rows["rate"].to_numpy(),
            "err_minus": (rows["rate"] - rows["ci_lower"]).to_numpy(),
            "err_plus": (rows["ci_upper"] - rows["rate"]).to_numpy(),
            "numerator": rows["numerator"].to_numpy(),
            "denominator": rows["denominator"].to_numpy(),
            "title": rows[title_col].to_numpy(),
        }
    )
