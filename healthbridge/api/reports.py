"""``/reports/...``: district report figures as JSON, CSV and one chart per figure.

Aggregates only (no child ids or names): the member lists behind a figure
(:func:`healthbridge.reports.coverage.figure_members`) identify children and are not served
here. Every route checks the district-official role (:data:`REPORT_ROLES`) and computes the
figures of the caller's jurisdiction (an official's area and below; ``?area=`` narrows to an
area under it, 403 outside it — :mod:`healthbridge.district.areas`). Figures are
computed per request from the current data by :mod:`healthbridge.district.figures`, which the
district page calls too.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from healthbridge.api.deps import ContextDep, RepoDep, SettingsDep
from healthbridge.district import figures
from healthbridge.district.cache import DistrictCache
from healthbridge.district.roles import REPORT_ROLES, require_role

router = APIRouter()

AsOf = Annotated[dt.date | None, Query(description="Report date (default today)")]
PeriodStart = Annotated[
    dt.date | None, Query(description="Start of the report period (default 365 days to as_of)")
]
Convention = Annotated[figures.Convention, Query(description="Prevalence cut-offs")]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
Lang = Annotated[Literal["zh", "en"], Query()]
Grace = Annotated[int, Query(ge=0, le=figures.MAX_GRACE_DAYS)]
AreaParam = Annotated[
    str | None,
    Query(
        alias="area",
        description="An area (Organization id of a province, city or district) in the "
        "caller's jurisdiction (default: the caller's own)",
    ),
]


def get_district_cache(request: Request) -> DistrictCache:
    """The district cache created by the app's lifespan."""
    cache: DistrictCache = request.app.state.district_cache
    return cache


DistrictCacheDep = Annotated[DistrictCache, Depends(get_district_cache)]


def report_area(repo: RepoDep, context: ContextDep, area: AreaParam = None) -> str | None:
    """Every report's door: the caller holds a report role (403 otherwise), and the area it
    is computed for, the caller's own or ``?area=`` within it (:func:`figures.report_area`)."""
    require_role(context, REPORT_ROLES, "District reports")
    return figures.report_area(repo, context, area)


ReportArea = Annotated[str | None, Depends(report_area)]


def _csv(frame: pd.DataFrame, name: str, day: dt.date) -> Response:
    body, filename = figures.csv_file(frame, name, day)
    return Response(
        body,
        media_type=figures.CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from healthbridge.district.reports import records

    return records(frame)


def _meta(day: dt.date, period_start: dt.date | None) -> dict[str, str]:
    start = period_start or day - dt.timedelta(days=364)
    return {"as_of": day.isoformat(), "period_start": start.isoformat()}


@router.get("/prevalence", summary="Nutrition prevalences with 95% CIs (WHO anthro method)")
def prevalence(
    repo: RepoDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    convention: Convention = "who",
    fmt: Format = "json",
) -> Response:
    frames = figures.area_frames(cache, repo, area)
    day, report = figures.prevalence_figures(frames, as_of, period_start, convention)
    if fmt == "csv":
        return _csv(report.prevalence, f"prevalence-{convention}", day)
    return JSONResponse(
        {
            **_meta(day, period_start),
            "area": area,
            "convention": str(report.convention),
            "conventions_version": report.conventions_version,
            "total_records": report.total_records,
            "rows": _records(report.prevalence),
        }
    )


@router.get("/prevalence/chart.png", summary="One prevalence figure as a bar chart")
def prevalence_chart(
    repo: RepoDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    indicator: str = "stunting",
    grouping: str = "centre",
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    convention: Convention = "who",
    lang: Lang = "zh",
) -> Response:
    png = figures.prevalence_chart_png(
        cache, repo, indicator=indicator, grouping=grouping,
        as_of=as_of, period_start=period_start, convention=convention, lang=lang, area=area,
    )  # fmt: skip
    return Response(png, media_type="image/png")


@router.get("/zscores", summary="Means and SDs of each z-score")
def zscores(
    repo: RepoDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    fmt: Format = "json",
) -> Response:
    frames = figures.area_frames(cache, repo, area)
    day, report = figures.prevalence_figures(frames, as_of, period_start, "who")
    if fmt == "csv":
        return _csv(report.zscores, "zscores", day)
    return JSONResponse(
        {
            **_meta(day, period_start),
            "area": area,
            "total_records": report.total_records,
            "rows": _records(report.zscores),
        }
    )


@router.get("/coverage", summary="Checkup, 4:2:2, vaccination and centre coverage figures")
def coverage(
    repo: RepoDep,
    settings: SettingsDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    grace_days: Grace = 0,
    fmt: Format = "json",
) -> Response:
    frames = figures.area_frames(cache, repo, area)
    day, table = figures.coverage_figures(
        frames, settings, as_of, period_start, grace_days, repo, area, cache
    )
    if fmt == "csv":
        return _csv(table, "coverage", day)
    return JSONResponse(
        {
            **_meta(day, period_start),
            "grace_days": grace_days,
            "area": area,
            "population": figures.population(settings, area, repo),
            "rows": _records(table),
        }
    )


@router.get("/coverage/chart.png", summary="One coverage figure as a bar chart")
def coverage_chart(
    repo: RepoDep,
    settings: SettingsDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    figure: str = "systematic-management-u3",
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    grace_days: Grace = 0,
    lang: Lang = "zh",
) -> Response:
    png = figures.coverage_chart_png(
        cache, repo, settings, figure=figure, as_of=as_of, period_start=period_start,
        grace_days=grace_days, lang=lang, area=area,
    )  # fmt: skip
    return Response(png, media_type="image/png")


@router.get("/areas", summary="The compared figures of the area and of each of its sub-areas")
def areas(
    repo: RepoDep,
    settings: SettingsDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    convention: Convention = "who",
    fmt: Format = "json",
) -> Response:
    """Stunting, wasting, overweight prevalence, 4:2:2 management and MMR-1 coverage of the
    area (``area`` ``all`` row) and each sub-area (a province's cities, a city's districts,
    a district's centres), each from its own children (docs/reports.md "Jurisdictions")."""
    day = as_of or dt.date.today()
    tables = figures.area_tables(
        cache, repo, settings, area, as_of=day, period_start=period_start, convention=convention,
        which=("areas",),
    )  # fmt: skip
    if fmt == "csv":
        return _csv(tables["areas"], "areas", day)
    return JSONResponse(
        {**_meta(day, period_start), "area": area, "rows": _records(tables["areas"])}
    )


@router.get("/trend", summary="The compared figures of the area over the last four quarters")
def trend(
    repo: RepoDep,
    settings: SettingsDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    as_of: AsOf = None,
    convention: Convention = "who",
    fmt: Format = "json",
) -> Response:
    day = as_of or dt.date.today()
    tables = figures.area_tables(
        cache, repo, settings, area, as_of=day, convention=convention, which=("trend",)
    )
    if fmt == "csv":
        return _csv(tables["trend"], "trend", day)
    return JSONResponse({"as_of": day.isoformat(), "area": area, "rows": _records(tables["trend"])})


@router.get("/areas/chart.png", summary="One compared figure per sub-area as a bar chart")
def areas_chart(
    repo: RepoDep,
    settings: SettingsDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    figure: str = "stunting",
    as_of: AsOf = None,
    period_start: PeriodStart = None,
    convention: Convention = "who",
    lang: Lang = "zh",
) -> Response:
    tables = figures.area_tables(
        cache, repo, settings, area, as_of=as_of or dt.date.today(), period_start=period_start,
        convention=convention, which=("areas",),
    )  # fmt: skip
    return Response(figures.areas_chart_png(tables, figure, lang), media_type="image/png")


@router.get("/trend/chart.png", summary="The area's figures per quarter as a line chart")
def trend_chart(
    repo: RepoDep,
    settings: SettingsDep,
    cache: DistrictCacheDep,
    area: ReportArea,
    as_of: AsOf = None,
    convention: Convention = "who",
    lang: Lang = "zh",
) -> Response:
    tables = figures.area_tables(
        cache, repo, settings, area, as_of=as_of or dt.date.today(), convention=convention,
        which=("trend",),
    )  # fmt: skip
    return Response(figures.trend_chart_png(tables, lang), media_type="image/png")
