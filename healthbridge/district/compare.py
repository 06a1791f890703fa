"""Figures per sub-area and per quarter: the comparisons and trends of an official's page.

Both tables are computed from the children themselves, never from other figures: a sub-area's
prevalence is its cases over its children (the same :func:`~healthbridge.reports.prevalence.
prevalence_table` as the district report, grouped by sub-area) and a coverage rate its
numerator over its denominator (:func:`~healthbridge.reports.coverage.coverage_table` with the
sub-area in its ``district`` grouping key). So an area's figure is the figure over all its
children — not an average of its sub-areas' rates (tests/healthbridge/district/test_areas.py
proves the roll-up) — and small cells are suppressed as in every report
(:func:`healthbridge.district.reports.suppress_prevalence` / ``suppress_coverage``).

Figures compared (:data:`COMPARED`): stunting, wasting and overweight prevalence (WHO or the
NHC 2024 cut-offs, the report's ``convention``), the 4:2:2 systematic management rate of
under-3s (checkup coverage, DOMAIN.md §6) and the first dose of measles-containing vaccine
(MMR dose 1 at 8 months, the NIP's headline coverage indicator).

Trends are quarterly (calendar quarters, the last one ending on the report day): each quarter's
prevalence takes each child's latest measurement in the quarter; coverage is as of the
quarter's end over the 365 days ending then (the reports' default period: 4:2:2 management
counts a year's checkups, so a quarter alone would understate it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Final

import pandas as pd

from healthbridge.district import reports as district_reports

if TYPE_CHECKING:
    from healthbridge.clinical.ruleset import RuleSet
    from healthbridge.district.areas import AreaTree
    from healthbridge.district.frames import DistrictFrames
    from healthbridge.reports.coverage import CoverageInputs

PREVALENCE_FIGURES: Final = ("stunting", "wasting", "overweight")
COVERAGE_FIGURES: Final = ("systematic-management-u3", "vaccination:MMR:1")
COMPARED: Final = (*PREVALENCE_FIGURES, *COVERAGE_FIGURES)
#: The coverage families (:data:`healthbridge.reports.coverage_families.FAMILIES`) of the
#: :data:`COVERAGE_FIGURES`: 4:2:2 management is a checkup figure.
COVERAGE_FAMILIES: Final = ("checkup", "vaccination")
#: The whole area's row (as the reports' ``all``).
WHOLE: Final = "all"
COLUMNS: Final = (
    "area",
    "name",
    "figure",
    "label_zh",
    "label_en",
    "numerator",
    "denominator",
    "rate",
    "ci_lower",
    "ci_upper",
    "suppressed",
)
DEFAULT_QUARTERS: Final = 4


def _group_map(tree: AreaTree, area: str | None, frames: DistrictFrames) -> dict[str, str]:
    """centre → the sub-area of ``area`` it is under."""
    out: dict[str, str] = {}
    for centre in set(frames.children["centre"].dropna()):
        sub = tree.sub_area(area, str(centre))
        if sub is not None:
            out[str(centre)] = sub
    return out


def _tidy(frame: pd.DataFrame, key: str, counts: tuple[str, str], rate: str) -> pd.DataFrame:
    if frame.empty:  # no child in the period (an empty database has no columns either)
        return pd.DataFrame(columns=[c for c in COLUMNS if c != "name"])
    out = pd.DataFrame(
        {
            "area": frame[key].astype("object").where(frame["grouping"] != WHOLE, WHOLE),
            "figure": frame["figure"],
            "label_zh": frame["label_zh"],
            "label_en": frame["label_en"],
            "numerator": frame[counts[0]],
            "denominator": frame[counts[1]],
            "rate": frame[rate],
            "ci_lower": frame["ci_lower"],
            "ci_upper": frame["ci_upper"],
            "suppressed": frame["suppressed"],
        }
    )
    return out.reset_index(drop=True)


def figures_by_group(
    frames: DistrictFrames,
    groups: dict[str, str],
    *,
    ruleset: RuleSet,
    as_of: dt.date,
    period_start: dt.date | None,
    convention: str = "who",
    split: bool = True,
    rolling_coverage: bool = False,
) -> pd.DataFrame:
    """The :data:`COMPARED` figures of the whole of ``frames`` (area ``all``) and, when
    ``split``, of each group (``groups``: centre → group id), in :data:`COLUMNS` order."""
    district_reports.check_report_dates(as_of, period_start)
    return _figures(
        district_reports.prevalence_input(frames, as_of=as_of, period_start=period_start),
        _coverage_inputs(frames, groups, ruleset),
        groups,
        as_of=as_of,
        period_start=period_start,
        convention=convention,
        split=split,
        rolling_coverage=rolling_coverage,
    )


def _coverage_inputs(
    frames: DistrictFrames, groups: dict[str, str], ruleset: RuleSet
) -> CoverageInputs:
    """The coverage inputs of the :data:`COVERAGE_FIGURES`, with each child's group as its
    ``district``: only the vaccinations and required doses of the compared doses (each
    dose's figure counts its own doses only, so the figures are the full table's)."""
    inputs = district_reports.coverage_inputs(frames, ruleset=ruleset)
    doses = {
        (series, int(dose))
        for figure in COVERAGE_FIGURES
        if figure.startswith("vaccination:")
        for series, dose in [figure.split(":")[1:]]
    }
    required = inputs.required_doses
    wanted = [
        (v, int(d)) in doses for v, d in zip(required["vaccine"], required["dose"], strict=True)
    ]
    vaccinations = inputs.vaccinations
    return replace(
        inputs,
        children=inputs.children.assign(district=inputs.children["centre"].map(groups)),
        admission_checks=inputs.admission_checks.assign(
            district=inputs.admission_checks["centre"].map(groups)
        ),
        centres=inputs.centres.assign(district=inputs.centres["centre"].map(groups)),
        required_doses=required.loc[wanted].reset_index(drop=True),
        vaccinations=vaccinations.loc[
            vaccinations["vaccine"].isin({v for v, _d in doses})
        ].reset_index(drop=True),
    )


def _figures(
    latest: pd.DataFrame,
    inputs: CoverageInputs,
    groups: dict[str, str],
    *,
    as_of: dt.date,
    period_start: dt.date | None,
    convention: str,
    split: bool,
    rolling_coverage: bool,
) -> pd.DataFrame:
    """:func:`figures_by_group` from its prevalence input (:func:`~healthbridge.district.
    reports.prevalence_input`) and coverage inputs (:func:`_coverage_inputs`)."""
    from healthbridge.reports.coverage import coverage_table
    from healthbridge.reports.prevalence import prevalence_table

    latest["area"] = latest["centre"].map(groups).astype("object")
    prevalence = district_reports.suppress_prevalence(
        prevalence_table(
            latest, convention=convention, groupings=((), ("area",)) if split else ((),)
        )
    ).prevalence
    if "indicator" in prevalence.columns:
        prevalence = prevalence.loc[prevalence["indicator"].isin(PREVALENCE_FIGURES)]
        prevalence = prevalence.rename(columns={"indicator": "figure"})
    if "area" not in prevalence.columns:
        prevalence["area"] = WHOLE

    coverage = district_reports.suppress_coverage(
        coverage_table(
            inputs,
            as_of=as_of,
            period_start=None if rolling_coverage else period_start,
            groupings=((), ("district",)) if split else ((),),
            families=COVERAGE_FAMILIES,
        )
    )
    if not coverage.empty:
        coverage = coverage.loc[coverage["figure"].isin(COVERAGE_FIGURES)]
        coverage = coverage.loc[(coverage["grouping"] == WHOLE) | coverage["district"].notna()]
    parts = [
        _tidy(prevalence, "area", ("cases", "n"), "prevalence"),
        _tidy(coverage, "district", ("numerator", "denominator"), "rate"),
    ]
    table = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(not p.empty for p in parts)
        else parts[0]
    )
    order = {f: i for i, f in enumerate(COMPARED)}
    table = table.loc[table["area"].notna()]
    return table.sort_values(
        ["figure", "area"], key=lambda s: s.map(order) if s.name == "figure" else s
    ).reset_index(drop=True)


def comparison(
    frames: DistrictFrames,
    tree: AreaTree,
    area: str | None,
    *,
    ruleset: RuleSet,
    as_of: dt.date,
    period_start: dt.date | None = None,
    convention: str = "who",
    population: int | None = None,
) -> pd.DataFrame:
    """The :data:`COMPARED` figures of ``area`` (``frames`` already narrowed to it) and of
    each of its sub-areas (province → cities, city → districts, district → centres), with the
    areas' names; then places per 1,000 population of the area and of its sub-areas that
    are areas (:func:`healthbridge.district.area_population.comparison_rows`; ``population``:
    the whole database's configured one), with ``note`` saying when a population is not
    configured."""
    from healthbridge.district.area_population import comparison_rows

    table = figures_by_group(
        frames,
        _group_map(tree, area, frames),
        ruleset=ruleset,
        as_of=as_of,
        period_start=period_start,
        convention=convention,
    )
    # every sub-area has its rows, also one without children in the period (0 / 0)
    present = set(zip(table["area"], table["figure"], strict=True))
    labels = table.drop_duplicates("figure").set_index("figure")
    missing = [
        {
            "area": sub.id,
            "figure": figure,
            "label_zh": labels.at[figure, "label_zh"],
            "label_en": labels.at[figure, "label_en"],
            "numerator": 0,
            "denominator": 0,
            "suppressed": False,
        }
        for sub in tree.sub_areas(area)
        for figure in labels.index
        if (sub.id, figure) not in present
    ]
    if missing:
        table = pd.concat([table, pd.DataFrame(missing)], ignore_index=True)
    places = comparison_rows(frames, tree, area, configured=population, whole=WHOLE)
    table = pd.concat([table.assign(note=None), places], ignore_index=True)
    table["note"] = table["note"].astype("object").where(table["note"].notna(), None)
    names = [
        tree.name(area) if a == WHOLE and area else (WHOLE if a == WHOLE else tree.name(a))
        for a in table["area"]
    ]
    table.insert(1, "name", names)
    return table


def quarters(as_of: dt.date, count: int = DEFAULT_QUARTERS) -> list[tuple[dt.date, dt.date]]:
    """The last ``count`` calendar quarters up to ``as_of``, oldest first: (first day, last day
    or ``as_of`` for the current quarter)."""
    out: list[tuple[dt.date, dt.date]] = []
    start = dt.date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    end = as_of
    for _ in range(count):
        out.append((start, end))
        end = start - dt.timedelta(days=1)
        start = dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    return out[::-1]


def trend(
    frames: DistrictFrames,
    *,
    ruleset: RuleSet,
    as_of: dt.date,
    convention: str = "who",
    count: int = DEFAULT_QUARTERS,
) -> pd.DataFrame:
    """The :data:`COMPARED` figures of the whole of ``frames`` per quarter (:func:`quarters`):
    :data:`COLUMNS` without ``area``/``name``, after ``period_start`` and ``period_end``.

    One pass over the district: the coverage inputs are made once and the measurements
    sorted once for every quarter's latest per child
    (:func:`~healthbridge.district.reports.prevalence_inputs`); only each quarter's counts
    are its own — the figures :func:`figures_by_group` gives each quarter
    (tests/healthbridge/district/test_area_tables.py)."""
    periods = quarters(as_of, count)
    for start, end in periods:
        district_reports.check_report_dates(end, start)
    inputs = _coverage_inputs(frames, {}, ruleset)
    latest = district_reports.prevalence_inputs(frames, periods)
    parts = []
    for (start, end), measured in zip(periods, latest, strict=True):
        rows = _figures(
            measured, inputs, {}, as_of=end, period_start=start, convention=convention,
            split=False, rolling_coverage=True,
        )  # fmt: skip
        rows = rows.drop(columns=["area"])
        rows.insert(0, "period_end", end.isoformat())
        rows.insert(0, "period_start", start.isoformat())
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)
