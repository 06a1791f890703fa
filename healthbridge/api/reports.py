"""``/reports/...``: district report figures as JSON, CSV and one chart per figure.

Aggregates only (no child ids or names): the member lists behind a figure
(:func:`healthbridge.reports.coverage.figure_members`) identify children and are not served
here. Every route checks the district-official role (:data:`REPORT_ROLES`). Figures are
computed per request from the current data (:mod:`healthbridge.district.reports`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from healthbridge.api.deps import ContextDep, RepoDep, SettingsDep
from healthbridge.district.roles import REPORT_ROLES, require_role
from healthbridge.errors import BadRequestError

if TYPE_CHECKING:
    from healthbridge.district.gather import DistrictFrames
    from healthbridge.reports.prevalence import PrevalenceReport
    from healthbridge.store.repository import Repository

router = APIRouter()

AsOf = Annotated[dt.date | None, Query(description="Report date (default today)")]
PeriodStart = Annotated[
    dt.date | None, Query(description="Start of the report period (default 365 days to as_of)")
]
Convention = Annotated[Literal["who", "cn-2024"], Query(description="Prevalence cut-offs")]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
Lang = Annotated[Literal["zh", "en"], Query()]
Grace = Annotated[int, Query(ge=0, le=365)]


def _frames(repo: Any, settings: Any) -> DistrictFrames:
    # imported per call: the report stack (scipy, growth tables) is not loaded at app start
    from healthbridge.district.gather import SNAPSHOT_SUBDIR, gather

    # the gathered district is kept in the data directory too: a restart starts from it
    return gather(repo, snapshot_dir=settings.data_dir / SNAPSHOT_SUBDIR)


def _prevalence(
    frames: DistrictFrames, as_of: dt.date | None, period_start: dt.date | None, convention: str
) -> tuple[dt.date, PrevalenceReport]:
    from healthbridge.district import reports as district_reports

    day = as_of or dt.date.today()
    return day, district_reports.prevalence_report(
        frames, as_of=day, period_start=period_start, convention=convention
    )


def _csv(frame: pd.DataFrame, name: str, day: dt.date) -> Response:
    from healthbridge.reports.suppression import suppressed_for_csv

    # UTF-8 with BOM: Excel in China opens it with the Chinese labels intact; suppressed
    # small cells read "<3"
    body = "\ufeff" + suppressed_for_csv(frame).to_csv(index=False, lineterminator="\r\n")
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{day.isoformat()}.csv"'},
    )


def _png(data: pd.DataFrame, lang: str, unit: str = "%") -> Response:
    from healthbridge.charts.labels import Lang as ChartLang
    from healthbridge.charts.reports import draw_bars, render

    data = data.loc[data["value"].notna()] if "value" in data.columns else data
    if data.empty:  # also when every bar is a suppressed small cell
        raise BadRequestError("No figure matches these parameters")
    return Response(
        render(draw_bars(data, lang=ChartLang(lang), unit=unit)), media_type="image/png"
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from healthbridge.district.reports import records

    return records(frame)


def _centre_names(data: pd.DataFrame, frames: DistrictFrames) -> pd.DataFrame:
    """Chart labels: a centre's name instead of its id."""
    names = dict(zip(frames.centres["centre"], frames.centres["name"], strict=True))
    return data.assign(group=[names.get(g) or g for g in data["group"]])


def _meta(day: dt.date, period_start: dt.date | None) -> dict[str, str]:
    start = period_start or day - dt.timedelta(days=364)
    return {"as_of": day.isoformat(), "period_start": start.isoformat()}


@router.get("/prevalence", summary="Nutrition prevalences with 95% CIs (WHO anthro method)")
def prevalence(
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    convention: Convention = "who",
    fmt: Format = "json",
) -> Response:
    require_role(context, REPORT_ROLES, "District reports")
    day, report = _prevalence(_frames(repo, settings), as_of, period_start, convention)
    if fmt == "csv":
        return _csv(report.prevalence, f"prevalence-{convention}", day)
    return JSONResponse(
        {
            **_meta(day, period_start),
            "convention": str(report.convention),
            "conventions_version": report.conventions_version,
            "total_records": report.total_records,
            "rows": _records(report.prevalence),
        }
    )


@router.get("/prevalence/chart.png", summary="One prevalence figure as a bar chart")
def prevalence_chart(
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    indicator: str = "stunting",
    grouping: str = "centre",
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    convention: Convention = "who",
    lang: Lang = "zh",
) -> Response:
    from healthbridge.reports.prevalence import prevalence_chart_data

    require_role(context, REPORT_ROLES, "District reports")
    frames = _frames(repo, settings)
    _day, report = _prevalence(frames, as_of, period_start, convention)
    data = prevalence_chart_data(report, indicator=indicator, grouping=grouping, lang=lang)
    return _png(_centre_names(data, frames), lang)


@router.get("/zscores", summary="Means and SDs of each z-score")
def zscores(
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    fmt: Format = "json",
) -> Response:
    require_role(context, REPORT_ROLES, "District reports")
    day, report = _prevalence(_frames(repo, settings), as_of, period_start, "who")
    if fmt == "csv":
        return _csv(report.zscores, "zscores", day)
    return JSONResponse(
        {
            **_meta(day, period_start),
            "total_records": report.total_records,
            "rows": _records(report.zscores),
        }
    )


def _coverage(
    frames: DistrictFrames,
    settings: Any,
    as_of: dt.date | None,
    period_start: dt.date | None,
    grace: int,
    repo: Repository | None = None,
) -> tuple[dt.date, pd.DataFrame]:
    from healthbridge.clinical.ruleset import load_ruleset
    from healthbridge.district import reports as district_reports
    from healthbridge.district.cases import case_frames
    from healthbridge.district.reports import DEFAULT_RULESET
    from healthbridge.district.screening import screening_frames

    day = as_of or dt.date.today()
    table = district_reports.coverage_report(
        frames,
        as_of=day,
        period_start=period_start,
        grace_days=grace,
        population=settings.district_population,
        cases=case_frames(repo) if repo is not None else None,
        screenings=screening_frames(repo, load_ruleset(*DEFAULT_RULESET))
        if repo is not None
        else None,
    )
    return day, table


@router.get("/coverage", summary="Checkup, 4:2:2, vaccination and centre coverage figures")
def coverage(
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    grace_days: Grace = 0,
    fmt: Format = "json",
) -> Response:
    require_role(context, REPORT_ROLES, "District reports")
    day, table = _coverage(_frames(repo, settings), settings, as_of, period_start, grace_days, repo)
    if fmt == "csv":
        return _csv(table, "coverage", day)
    return JSONResponse(
        {
            **_meta(day, period_start),
            "grace_days": grace_days,
            "population": settings.district_population,
            "rows": _records(table),
        }
    )


@router.get("/coverage/chart.png", summary="One coverage figure as a bar chart")
def coverage_chart(
    repo: RepoDep,
    context: ContextDep,
    settings: SettingsDep,
    figure: str = "systematic-management-u3",
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    grace_days: Grace = 0,
    lang: Lang = "zh",
) -> Response:
    from healthbridge.reports.coverage import coverage_chart_data

    require_role(context, REPORT_ROLES, "District reports")
    frames = _frames(repo, settings)
    _day, table = _coverage(frames, settings, as_of, period_start, grace_days, repo)
    data = _centre_names(coverage_chart_data(table, figure=figure, lang=lang), frames)
    unit = "%" if data.empty or figure != "places-per-1000" else "per-1000"
    return _png(data, lang, unit)
