"""District reports: gathered frames → the pure report functions → tables.

The computations are :mod:`healthbridge.reports` (WHO anthro's prevalence method, coverage
figures of DOMAIN.md §6); this module only chooses their inputs:

* prevalence: each child's latest scored measurement in ``[period_start, as_of]``
  (:func:`~healthbridge.reports.prevalence.latest_per_child`), grouped as WHO does plus by
  centre (children not enrolled are in centre ``none``);
* vaccination coverage per NIP *series* and dose number (products of one series — JE-L/JE-I,
  HepA-L/HepA-I, bOPV/IPV — count for the series), due ages from the rule set's vaccination
  table (default option; calendar ages converted with mean month lengths); sex-specific doses
  (HPV) are left out of an under-7 report;
* admission checks: one entry per enrolment with its ``admission-check-state``
  (:mod:`healthbridge.district.admission`), counted by the centre of the entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np
import pandas as pd

from healthbridge.clinical.ruleset import RuleSet
from healthbridge.district.frames import DistrictFrames
from healthbridge.errors import BadRequestError
from healthbridge.reports.coverage import CoverageInputs, coverage_table
from healthbridge.reports.prevalence import (
    WHO_GROUPINGS,
    PrevalenceReport,
    latest_per_child,
    latest_per_period,
    prevalence_table,
)
from healthbridge.reports.suppression import suppress_small_cells

#: The rule set whose vaccination table gives the due ages (docs/clinical_rules.md).
NOT_ENROLLED: Final = "none"
PREVALENCE_GROUPINGS: Final = (*WHO_GROUPINGS, ("centre",))
#: Report dates the reports compute with: the period arithmetic (``as_of`` − 364 days, ages)
#: and pandas' nanosecond timestamps (years 1677–2262) hold every day of this range.
EARLIEST_REPORT_DATE: Final = dt.date(1900, 1, 1)
LATEST_REPORT_DATE: Final = dt.date(2199, 12, 31)


def check_report_dates(
    as_of: dt.date, period_start: dt.date | None = None, *, name: str = "as_of"
) -> None:
    """400 (:class:`BadRequestError`) unless the report dates are in the supported range
    (``name``: the parameter ``as_of`` is called in the request)."""
    for param, day in ((name, as_of), ("period_start", period_start)):
        if day is not None and not EARLIEST_REPORT_DATE <= day <= LATEST_REPORT_DATE:
            raise BadRequestError(
                f"报告日期 {param}={day.isoformat()} 超出范围"
                f"（{EARLIEST_REPORT_DATE.isoformat()} 至 {LATEST_REPORT_DATE.isoformat()}）/ "
                f"The report date {param}={day.isoformat()} is out of range "
                f"({EARLIEST_REPORT_DATE.isoformat()} to {LATEST_REPORT_DATE.isoformat()})"
            )


def default_period_start(as_of: dt.date) -> dt.date:
    """The 365 days ending on ``as_of`` (the coverage module's default too)."""
    return as_of - dt.timedelta(days=364)


def prevalence_input(
    frames: DistrictFrames, *, as_of: dt.date, period_start: dt.date | None = None
) -> pd.DataFrame:
    """One record per child: the latest scored measurement in the period."""
    start = period_start or default_period_start(as_of)
    latest = latest_per_child(
        frames.measurements, start=pd.Timestamp(start), end=pd.Timestamp(as_of)
    )
    return _centre_or_none(latest)


def prevalence_inputs(
    frames: DistrictFrames, periods: Sequence[tuple[dt.date, dt.date]]
) -> list[pd.DataFrame]:
    """:func:`prevalence_input` of each period ``(start, end)`` (a trend's quarters), from
    one sort of the measurements (:func:`~healthbridge.reports.prevalence.latest_per_period`)."""
    spans = [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in periods]
    return [_centre_or_none(p) for p in latest_per_period(frames.measurements, spans)]


def _centre_or_none(latest: pd.DataFrame) -> pd.DataFrame:
    latest["centre"] = (
        latest["centre"].astype("object").where(latest["centre"].notna(), NOT_ENROLLED)
    )
    return latest


def prevalence_report(
    frames: DistrictFrames,
    *,
    as_of: dt.date,
    period_start: dt.date | None = None,
    convention: str = "who",
) -> PrevalenceReport:
    """WHO-style prevalences and z-score summaries for the district."""
    check_report_dates(as_of, period_start)
    report = prevalence_table(
        prevalence_input(frames, as_of=as_of, period_start=period_start),
        convention=convention,
        groupings=PREVALENCE_GROUPINGS,
    )
    return suppress_prevalence(report)


def suppress_prevalence(report: PrevalenceReport) -> PrevalenceReport:
    """The report with its groups of 1–2 children suppressed (:mod:`healthbridge.reports.
    suppression`): what the API, the CSV files and the district page show."""
    return replace(
        report,
        prevalence=suppress_small_cells(
            report.prevalence,
            size="n",
            counts=("n", "cases"),
            derived=("prevalence", "se", "ci_lower", "ci_upper"),
        ),
        zscores=suppress_small_cells(
            report.zscores,
            size="n",
            counts=("n",),
            derived=("mean", "sd", "se", "ci_lower", "ci_upper"),
        ),
    )


def suppress_coverage(table: pd.DataFrame) -> pd.DataFrame:
    """Coverage figures with the groups of 1–2 children suppressed (centre counts are not
    children and are kept)."""
    applies = table["unit"] == "child" if "unit" in table.columns else None
    return suppress_small_cells(
        table,
        size="denominator",
        counts=("numerator", "denominator"),
        derived=("rate", "ci_lower", "ci_upper"),
        applies=applies,
    )


def series_of_products(ruleset: RuleSet) -> dict[str, list[str]]:
    """Product code (CodeSystem ``nip-vaccine``) → the series it counts for: a NIP vaccine its
    own series, a combination product every series of its NIP antigens (the clinical table
    ``vaccine-products``: the 5-in-1 counts for DTP and polio)."""
    table = ruleset.vaccination
    series_of = {code: d.series for d in table.doses for code in d.accepts}
    codes = set(series_of)
    if table.products is not None:
        codes |= {p.code for p in table.products.products}
    out: dict[str, list[str]] = {}
    for code in sorted(codes):
        series = [series_of[v] for v in table.counts_as(code) or () if v in series_of]
        if series:
            out[code] = list(dict.fromkeys(series))
    return out


def required_doses(ruleset: RuleSet) -> pd.DataFrame:
    """``vaccine`` (series), ``dose``, ``due_age_days`` of every dose due for every child
    (doses only for special populations, such as HBIG, are not required of every child)."""
    defaults = {o.series: o.default_option for o in ruleset.vaccination.options}
    rows = [
        (d.series, d.number, round(d.age.approx_days()))
        for d in ruleset.vaccination.doses
        if d.sex is None
        and d.when is None
        and (d.option is None or d.option == defaults.get(d.series))
    ]
    return pd.DataFrame(rows, columns=["vaccine", "dose", "due_age_days"])


def coverage_inputs(
    frames: DistrictFrames,
    *,
    ruleset: RuleSet,
    population: int | None = None,
    cases: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    screenings: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> CoverageInputs:
    """The coverage module's inputs from the gathered frames; ``ruleset``: the deployment's
    (``load_ruleset_key(settings.ruleset_key)``), whose vaccine products name the series."""
    rules = ruleset
    vaccinations = (
        frames.vaccinations.assign(
            vaccine=frames.vaccinations["vaccine"].map(series_of_products(rules))
        )
        .dropna(subset=["vaccine"])
        .explode("vaccine")
        .reset_index(drop=True)
    )
    children = frames.children[
        ["child_id", "birth_date", "sex", "centre", "enrolled_on", "left_on"]
    ]
    centres = frames.centres[["centre", "places"]].assign(filed=True)
    return CoverageInputs(
        children=children,
        checkups=frames.checkups,
        vaccinations=vaccinations,
        required_doses=required_doses(rules),
        admission_checks=frames.admission_checks,
        centres=centres,
        agreements=frames.agreements,
        population=population,
        **({"cases": cases[0], "frail": cases[1]} if cases is not None else {}),
        **(
            {"screenings": screenings[0], "screening_ages": screenings[1]}
            if screenings is not None
            else {}
        ),
    )


def coverage_report(
    frames: DistrictFrames,
    *,
    as_of: dt.date,
    ruleset: RuleSet,
    period_start: dt.date | None = None,
    grace_days: int = 0,
    population: int | None = None,
    cases: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    screenings: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Coverage figures for the district and per centre (Wilson intervals); ``cases``: the
    managed cases and frail identifications (:func:`healthbridge.district.cases.case_frames`)
    for 体弱儿管理率 and 结案率; ``screenings``: the screening results and age ranges
    (:func:`healthbridge.district.screening.screening_frames`) for the screening rates."""
    check_report_dates(as_of, period_start)
    table = coverage_table(
        coverage_inputs(
            frames, ruleset=ruleset, population=population, cases=cases, screenings=screenings
        ),
        as_of=as_of,
        period_start=period_start,
        grace_days=grace_days,
    )
    return suppress_coverage(table)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: categories as text, NaN/NA as null, numpy scalars as Python."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype("object")
    out = out.astype("object").where(out.notna(), None)
    rows: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in out.to_dict("records")]
    for row in rows:
        for key, value in row.items():
            if isinstance(value, np.generic):
                row[key] = value.item()
            elif isinstance(value, pd.Timestamp):
                row[key] = value.date().isoformat()
    return rows
