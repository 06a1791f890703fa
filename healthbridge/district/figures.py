"""The district report figures as they are served: tables, CSV files and chart images.

One implementation behind two doors: the reports API (:mod:`healthbridge.api.reports`, bearer
token) and the district official's page (:mod:`healthbridge.web.pages_district`, session) both
call these functions and only wrap the bytes in their own HTTP response; neither calls the
other (docs/architecture.md). The access rule is the callers'
(:func:`healthbridge.district.roles.require_role` with ``REPORT_ROLES``).

Jurisdictions (:mod:`healthbridge.district.areas`): every figure is computed for one area —
the caller's (an official's PractitionerRole organisation), or an area under it asked for with
``?area=`` — by narrowing the one gathered district to the children of the centres under it
(:func:`area_frames`); :func:`area_tables` adds the comparison between its sub-areas and the
quarterly trend (:mod:`healthbridge.district.compare`).

The coverage figures apply the deployment's rule set (``Settings.ruleset_key``), so a
district configured for another NIP edition counts doses by that edition's due ages.

The page's tables (:func:`kept_prevalence`, :func:`kept_coverage`, :func:`area_tables`) are
kept per data version and parameters in the app's district cache
(:meth:`~healthbridge.district.cache.DistrictCache.kept`): the page and its charts compute
each once, and any write makes the next request compute it again.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final, Literal

import pandas as pd

from healthbridge.errors import BadRequestError

if TYPE_CHECKING:
    from healthbridge.config import Settings
    from healthbridge.district.areas import AreaTree
    from healthbridge.district.cache import DistrictCache
    from healthbridge.district.frames import DistrictFrames
    from healthbridge.reports.prevalence import PrevalenceReport
    from healthbridge.store.hooks import RequestContext
    from healthbridge.store.repository import Repository

#: Prevalence cut-off conventions a report is computed with.
Convention = Literal["who", "cn-2024"]
#: The largest grace period (days after a due age before a dose counts as late).
MAX_GRACE_DAYS: Final = 365
CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"
#: The tables offered as CSV downloads.
CSV_TABLES: Final = ("prevalence", "zscores", "coverage", "areas", "trend")
#: The jurisdiction tables (:mod:`healthbridge.district.compare`).
AREA_TABLES: Final = ("areas", "trend")


def district_frames(cache: DistrictCache, repo: Repository) -> DistrictFrames:
    """The gathered district from the app's cache (which keeps its snapshot in the data
    directory: a restart starts from it)."""
    return cache.gather(repo)


def report_area(repo: Repository, context: RequestContext, asked: str | None) -> str | None:
    """The area a report request is computed for (``None``: the whole database): the
    caller's jurisdiction, or ``asked`` when it lies in it (403 otherwise)."""
    from healthbridge.district.areas import check_area, official_area, read_tree

    tree = read_tree(repo)  # read once for the caller's area and the asked one
    reach = official_area(repo, context, tree)
    if not asked:
        return reach
    return check_area(tree, reach, asked)


def area_frames(
    cache: DistrictCache, repo: Repository, area: str | None, tree: AreaTree | None = None
) -> DistrictFrames:
    """The gathered district narrowed to ``area`` (a filter: the district is gathered once)."""
    from healthbridge.district.areas import narrow, read_tree

    frames = district_frames(cache, repo)
    if area is None:
        return frames
    return narrow(frames, (tree or read_tree(repo)).centres_under(area))


def population(
    settings: Settings,
    area: str | None,
    repo: Repository | None = None,
    tree: AreaTree | None = None,
) -> int | None:
    """The resident population of ``area`` (for places per 1,000): the ``DISTRICT_POPULATION``
    setting for the whole database, an area's ``area-population`` extension or its sub-areas'
    sum (:func:`healthbridge.district.area_population.population_of`); ``None`` when not
    configured. The tree is read from ``repo`` unless given."""
    from healthbridge.district.area_population import population_of
    from healthbridge.district.areas import AreaTree, read_tree

    if area is None and settings.district_population is not None:
        return settings.district_population
    if tree is None:
        tree = read_tree(repo) if repo is not None else AreaTree({})
    return population_of(tree, area, settings.district_population)


def prevalence_figures(
    frames: DistrictFrames, as_of: dt.date | None, period_start: dt.date | None, convention: str
) -> tuple[dt.date, PrevalenceReport]:
    """The report day (default today) and the prevalence report of ``frames``."""
    from healthbridge.district import reports as district_reports

    day = as_of or dt.date.today()
    return day, district_reports.prevalence_report(
        frames, as_of=day, period_start=period_start, convention=convention
    )


def coverage_figures(
    frames: DistrictFrames,
    settings: Settings,
    as_of: dt.date | None,
    period_start: dt.date | None,
    grace: int,
    repo: Repository | None = None,
    area: str | None = None,
    cache: DistrictCache | None = None,
) -> tuple[dt.date, pd.DataFrame]:
    """The report day and the coverage table, with the deployment's rule set and, given
    ``repo``, the managed cases and the screening results (read once per data version when
    ``cache`` is given: :meth:`DistrictCache.kept`)."""
    from healthbridge.clinical.ruleset import load_ruleset_key
    from healthbridge.district import reports as district_reports
    from healthbridge.district.cases import case_frames
    from healthbridge.district.screening import screening_ages, screening_frames

    day = as_of or dt.date.today()
    ruleset = load_ruleset_key(settings.ruleset_key)
    cases = screenings = None
    if repo is not None and cache is None:
        cases, screenings = case_frames(repo), screening_frames(repo, ruleset)
    elif repo is not None and cache is not None:
        # kept by the cache and brought up to date by what was written since (new frames)
        managed, frail, results = cache.coverage_inputs(repo)
        cases, screenings = (managed, frail), (results, screening_ages(ruleset))
    table = district_reports.coverage_report(
        frames,
        as_of=day,
        ruleset=ruleset,
        period_start=period_start,
        grace_days=grace,
        population=population(settings, area, repo),
        cases=cases,
        screenings=screenings,
    )
    return day, table


def kept_prevalence(
    cache: DistrictCache,
    repo: Repository,
    frames: DistrictFrames,
    area: str | None,
    *,
    as_of: dt.date,
    period_start: dt.date | None,
    convention: str,
    version: tuple[object, ...],
) -> PrevalenceReport:
    """:func:`prevalence_figures` of ``area`` (``frames``: its frames, read after
    ``version``), kept per data version and parameters (:meth:`DistrictCache.kept`: the
    page and its chart compute it once); a copy."""
    from dataclasses import replace

    key = (area, as_of.isoformat(), _period(as_of, period_start), convention)
    report = cache.kept(
        repo, f"prevalence {key!r}",
        lambda: prevalence_figures(frames, as_of, period_start, convention)[1], version,
    )  # fmt: skip
    return replace(report, prevalence=report.prevalence.copy(), zscores=report.zscores.copy())


def kept_coverage(
    cache: DistrictCache,
    repo: Repository,
    settings: Settings,
    frames: DistrictFrames,
    area: str | None,
    *,
    as_of: dt.date,
    period_start: dt.date | None,
    grace_days: int,
    version: tuple[object, ...],
) -> pd.DataFrame:
    """:func:`coverage_figures` of ``area`` as :func:`kept_prevalence` keeps its report."""
    key = (area, as_of.isoformat(), _period(as_of, period_start), grace_days,
           settings.ruleset_key, settings.district_population)  # fmt: skip
    table = cache.kept(
        repo, f"coverage {key!r}",
        lambda: coverage_figures(
            frames, settings, as_of, period_start, grace_days, repo, area, cache
        )[1],
        version,
    )  # fmt: skip
    return table.copy()


def _period(as_of: dt.date, period_start: dt.date | None) -> str:
    """The period's first day as a kept value's key: the default period (the page's) and the
    same day given (its charts' links) are one key. 400 for dates out of range, as the
    report would answer (before the default period is computed from them)."""
    from healthbridge.district.reports import check_report_dates, default_period_start

    check_report_dates(as_of, period_start)
    return (period_start or default_period_start(as_of)).isoformat()


def csv_file(frame: pd.DataFrame, name: str, day: dt.date) -> tuple[bytes, str]:
    """A table as a CSV download: its bytes and file name.

    UTF-8 with BOM: Excel in China opens it with the Chinese labels intact; suppressed small
    cells read "<3"."""
    from healthbridge.reports.suppression import suppressed_for_csv

    body = "\ufeff" + suppressed_for_csv(frame).to_csv(index=False, lineterminator="\r\n")
    return body.encode("utf-8"), f"{name}-{day.isoformat()}.csv"


def table_csv(
    cache: DistrictCache,
    repo: Repository,
    settings: Settings,
    table: str,
    *,
    as_of: dt.date | None,
    period_start: dt.date | None,
    convention: str = "who",
    grace_days: int = 0,
    area: str | None = None,
) -> tuple[bytes, str]:
    """One of :data:`CSV_TABLES` as a CSV download (``KeyError`` for another name)."""
    frames = area_frames(cache, repo, area)
    if table == "prevalence":
        day, report = prevalence_figures(frames, as_of, period_start, convention)
        return csv_file(report.prevalence, f"prevalence-{convention}", day)
    if table == "zscores":
        day, report = prevalence_figures(frames, as_of, period_start, "who")
        return csv_file(report.zscores, "zscores", day)
    if table == "coverage":
        day, coverage = coverage_figures(
            frames, settings, as_of, period_start, grace_days, repo, area, cache
        )
        return csv_file(coverage, "coverage", day)
    if table in AREA_TABLES:
        day = as_of or dt.date.today()
        frame = area_tables(
            cache, repo, settings, area, as_of=day, convention=convention, which=(table,)
        )[table]
        return csv_file(frame, table, day)
    raise KeyError(table)


def _centre_names(data: pd.DataFrame, frames: DistrictFrames) -> pd.DataFrame:
    """Chart labels: a centre's name instead of its id."""
    names = dict(zip(frames.centres["centre"], frames.centres["name"], strict=True))
    return data.assign(group=[names.get(g) or g for g in data["group"]])


def _bars_png(data: pd.DataFrame, lang: str, unit: str = "%") -> bytes:
    from healthbridge.charts.labels import Lang as ChartLang
    from healthbridge.charts.reports import draw_bars, render

    data = data.loc[data["value"].notna()] if "value" in data.columns else data
    if data.empty:  # also when every bar is a suppressed small cell
        raise BadRequestError("No figure matches these parameters")
    return render(draw_bars(data, lang=ChartLang(lang), unit=unit))


def prevalence_chart_png(
    cache: DistrictCache,
    repo: Repository,
    *,
    indicator: str,
    grouping: str,
    as_of: dt.date | None,
    period_start: dt.date | None,
    convention: str,
    lang: str,
    area: str | None = None,
) -> bytes:
    """One prevalence figure as a bar chart (PNG); 400 when no bar has a value."""
    from healthbridge.reports.prevalence import prevalence_chart_data

    version = cache.version(repo)  # before the frames are read
    frames = area_frames(cache, repo, area)
    report = kept_prevalence(
        cache, repo, frames, area, as_of=as_of or dt.date.today(), period_start=period_start,
        convention=convention, version=version,
    )  # fmt: skip
    data = prevalence_chart_data(report, indicator=indicator, grouping=grouping, lang=lang)
    return _bars_png(_centre_names(data, frames), lang)


def coverage_chart_png(
    cache: DistrictCache,
    repo: Repository,
    settings: Settings,
    *,
    figure: str,
    as_of: dt.date | None,
    period_start: dt.date | None,
    grace_days: int,
    lang: str,
    area: str | None = None,
) -> bytes:
    """One coverage figure as a bar chart (PNG); 400 when no bar has a value."""
    from healthbridge.reports.coverage import coverage_chart_data

    version = cache.version(repo)  # before the frames are read
    frames = area_frames(cache, repo, area)
    table = kept_coverage(
        cache, repo, settings, frames, area, as_of=as_of or dt.date.today(),
        period_start=period_start, grace_days=grace_days, version=version,
    )  # fmt: skip
    data = _centre_names(coverage_chart_data(table, figure=figure, lang=lang), frames)
    unit = "%" if data.empty or figure != "places-per-1000" else "per-1000"
    return _bars_png(data, lang, unit)


def area_tables(
    cache: DistrictCache,
    repo: Repository,
    settings: Settings,
    area: str | None,
    *,
    as_of: dt.date,
    period_start: dt.date | None = None,
    convention: str = "who",
    which: tuple[str, ...] = AREA_TABLES,
) -> dict[str, pd.DataFrame]:
    """The tables of :data:`AREA_TABLES` named in ``which`` — ``areas``: the compared figures
    of ``area`` and each sub-area; ``trend``: the same figures of ``area`` over the last
    quarters (:mod:`healthbridge.district.compare`) — each kept per data version and
    parameters (:meth:`DistrictCache.kept`), so the page and its two charts compute them
    once, and computed again after any write."""
    from healthbridge.clinical.ruleset import load_ruleset_key
    from healthbridge.district import compare
    from healthbridge.district.areas import read_tree

    def comparison() -> pd.DataFrame:
        tree = read_tree(repo)
        return compare.comparison(
            area_frames(cache, repo, area, tree), tree, area,
            ruleset=load_ruleset_key(settings.ruleset_key), as_of=as_of,
            period_start=period_start, convention=convention,
            population=settings.district_population,
        )  # fmt: skip

    def trend() -> pd.DataFrame:
        return compare.trend(
            area_frames(cache, repo, area),
            ruleset=load_ruleset_key(settings.ruleset_key),
            as_of=as_of,
            convention=convention,
        )

    version = cache.version(repo)  # once for both tables, before either is computed
    common = (area, as_of.isoformat(), convention, settings.ruleset_key)
    kinds = {
        "areas": (
            ("areas", *common, _period(as_of, period_start), settings.district_population),
            comparison,
        ),
        "trend": (("trend", *common), trend),
    }
    out: dict[str, pd.DataFrame] = {}
    for table in which:
        key, compute = kinds[table]
        # a copy: the kept table is shared by the requests that come after
        out[table] = cache.kept(repo, f"area table {key!r}", compute, version).copy()
    return out


def areas_chart_png(tables: dict[str, pd.DataFrame], figure: str, lang: str) -> bytes:
    """One compared figure of each sub-area as a bar chart (the area's own bar first)."""
    table = tables["areas"]
    rows = table.loc[table["figure"] == figure]
    # the area's own bar first, then its sub-areas by name (the page table's order)
    rows = rows.assign(_own=rows["area"] != "all").sort_values(["_own", "name"], kind="stable")
    label = "label_zh" if lang == "zh" else "label_en"
    data = pd.DataFrame(
        {
            "group": rows["name"].to_numpy(),  # the area's own row first ("all": everything)
            "value": rows["rate"].to_numpy(),
            "err_minus": (rows["rate"] - rows["ci_lower"]).to_numpy(),
            "err_plus": (rows["ci_upper"] - rows["rate"]).to_numpy(),
            "title": rows[label].to_numpy(),
        }
    )
    return _bars_png(data, lang, "per-1000" if figure == "places-per-1000" else "%")


def trend_chart_png(tables: dict[str, pd.DataFrame], lang: str) -> bytes:
    """The compared figures of the area per quarter as a line chart."""
    from healthbridge.charts.labels import Lang as ChartLang
    from healthbridge.charts.reports import render
    from healthbridge.charts.trend import draw_trend

    table = tables["trend"]
    if table["rate"].notna().sum() == 0:
        raise BadRequestError("No figure matches these parameters")
    from healthbridge.district.compare import COVERAGE_FIGURES, PREVALENCE_FIGURES

    panels = (PREVALENCE_FIGURES, COVERAGE_FIGURES)
    return render(draw_trend(table, panels=panels, lang=ChartLang(lang)))
