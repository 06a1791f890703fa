"""The district health official's page: the district report figures, filters, charts, CSV.

The figures are the reports API's (:mod:`healthbridge.api.reports`), not a second
implementation: the page and the ``/reports/...`` endpoints call the same functions,
:mod:`healthbridge.district.figures` (gather →
:func:`healthbridge.district.reports.prevalence_report` /
:func:`~healthbridge.district.reports.coverage_report`, the CSV files and chart images), and
only wrap the result in their own response; the page answers its own ``<img>`` and download
links with the page user's session (the API takes the bearer token from the
``Authorization`` header only). Access is the API's rule,
:func:`healthbridge.district.roles.require_role` with
:data:`~healthbridge.district.roles.REPORT_ROLES`: anyone else gets the pages' "forbidden".

Aggregates only: no child id or name is shown or linked (as the API, docs/reports.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from healthbridge.district import figures
from healthbridge.district.roles import REPORT_ROLES, require_role
from healthbridge.errors import BadRequestError, ForbiddenError
from healthbridge.web.auth import PageForbiddenError, UserDep, WebUser
from healthbridge.web.common import page, today
from healthbridge.web.district_tables import Cell, Row, Table, _count, _number, _suppressed

if TYPE_CHECKING:
    import pandas as pd

    from healthbridge.web.i18n import Translator

router = APIRouter()

#: The report's query parameters (as the API's, :mod:`healthbridge.api.reports`).
AsOf = dt.date | None
Convention = figures.Convention
Grace = Annotated[int, Query(ge=0, le=figures.MAX_GRACE_DAYS)]

#: Prevalence groupings offered (the ``grouping`` values of the report's table).
GROUPINGS: Final = ("centre", "all", "sex", "age_group", "age_group+sex")
DEFAULT_INDICATOR: Final = "stunting"
DEFAULT_FIGURE: Final = "systematic-management-u3"
#: z-score columns in the order shown (growth_standards' names, docs/CONVENTIONS.md).
Z_COLUMNS: Final = ("zwei", "zlen", "zwfl", "zbmi", "zhc")
NOT_ENROLLED: Final = "none"
ALL: Final = "all"


@dataclass(frozen=True, slots=True)
class Filters:
    """The page's choices; every link (charts, CSV) carries them so all agree."""

    as_of: dt.date
    period_start: dt.date | None = None
    convention: str = "who"
    grouping: str = "centre"
    indicator: str = DEFAULT_INDICATOR
    figure: str = DEFAULT_FIGURE
    grace_days: int = 0
    #: the area shown (``None``: the caller's whole jurisdiction)
    area: str | None = None
    #: the figure of the sub-area chart (healthbridge.district.compare.COMPARED)
    compare: str = "stunting"

    @property
    def start(self) -> dt.date:
        """The period's first day (the reports' default: the 365 days ending on ``as_of``)."""
        return self.period_start or self.as_of - dt.timedelta(days=364)

    def query(self, *names: str) -> str:
        """The query string of the named filters (all when none named)."""
        values: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "period_start": self.start.isoformat(),
            "convention": self.convention,
            "grouping": self.grouping,
            "indicator": self.indicator,
            "figure": self.figure,
            "grace_days": self.grace_days,
            "compare": self.compare,
        }
        if self.area:  # every link stays in the area shown
            values["area"] = self.area
        return urlencode(
            {k: v for k, v in values.items() if not names or k in names or k == "area"}
        )


def group_label(
    keys: Sequence[str], values: Sequence[Any], t: Translator, names: Mapping[str, str]
) -> str:
    """A row's group in words: centre names, sexes and age groups translated."""
    parts: list[str] = []
    for key, value in zip(keys, values, strict=True):
        text = str(value)
        if key == "centre":
            enrolled = text != NOT_ENROLLED
            parts.append(names.get(text, text) if enrolled else t("district.not_enrolled"))
        elif key == "sex":
            parts.append(t(f"district.sex_{text}") if text in ("male", "female") else text)
        elif key == "age_group":
            parts.append(t("district.age_group", months=text.removesuffix(" mo")))
        else:
            parts.append(text)
    return " · ".join(parts) if parts else t("district.whole")


def _groups(frame: pd.DataFrame, grouping: str) -> list[tuple[list[str], tuple[Any, ...], Any]]:
    """(keys, key values, rows) of each group of ``grouping``, after the whole district's row
    (so every grouping is read against the district figure)."""
    out: list[tuple[list[str], tuple[Any, ...], Any]] = []
    for name in dict.fromkeys((ALL, grouping)):
        rows = frame.loc[frame["grouping"] == name]
        keys = [] if name == ALL else name.split("+")
        for values, group in rows.groupby(keys or ["grouping"], sort=False):
            key_values = values if isinstance(values, tuple) else (values,)
            out.append((keys, key_values[: len(keys)], group))
    return out


def prevalence_view(
    prevalence: pd.DataFrame, grouping: str, t: Translator, names: Mapping[str, str]
) -> Table:
    """Rows = the district then the groups of ``grouping``, columns = the convention's
    indicators; each cell the prevalence with its 95 % CI (WHO anthro's logit interval) and
    cases / n."""
    if prevalence.empty:
        return Table((), ())
    label = "label_zh" if t.lang.value == "zh" else "label_en"
    indicators = list(dict.fromkeys(prevalence["indicator"]))
    titles = dict(zip(prevalence["indicator"], prevalence[label], strict=True))
    out: list[Row] = []
    for keys, key_values, group in _groups(prevalence, grouping):
        by_indicator = {r["indicator"]: r for _i, r in group.iterrows()}
        cells = tuple(
            Cell(
                _number(r["prevalence"]),
                _number(r["ci_lower"]),
                _number(r["ci_upper"]),
                _count(r["cases"]),
                _count(r["n"]),
                suppressed=_suppressed(r),
            )
            if (r := by_indicator.get(code)) is not None
            else Cell(None)
            for code in indicators
        )
        out.append(Row(group_label(keys, key_values, t, names), cells))
    return Table(tuple(titles[c] for c in indicators), tuple(out))


def zscore_view(
    zscores: pd.DataFrame, grouping: str, t: Translator, names: Mapping[str, str]
) -> Table:
    """Rows = the district then the groups, columns = z-score indices; each cell the mean z
    with its 95 % CI and n."""
    if zscores.empty:
        return Table((), ())
    present = [z for z in Z_COLUMNS if z in set(zscores["z"])]
    out: list[Row] = []
    for keys, key_values, group in _groups(zscores, grouping):
        by_z = {r["z"]: r for _i, r in group.iterrows()}
        cells = tuple(
            Cell(
                _number(by_z[z]["mean"]),
                _number(by_z[z]["ci_lower"]),
                _number(by_z[z]["ci_upper"]),
                denominator=_count(by_z[z]["n"]),
                unit="z",
                suppressed=_suppressed(by_z[z]),
            )
            if z in by_z
            else Cell(None)
            for z in present
        )
        out.append(Row(group_label(keys, key_values, t, names), cells))
    return Table(tuple(t(f"district.{z}") for z in present), tuple(out))


def coverage_views(
    coverage: pd.DataFrame, t: Translator, names: Mapping[str, str]
) -> dict[str, Table]:
    """The coverage figures as four tables — checkups (per visit, 4:2:2, under-7), vaccination
    (per vaccine and dose), admission checks (查验 completion and catch-up), centres (signed
    centres, places per 1,000) — with rows = figures and
    columns = the district then each centre; each cell the rate with its 95 % (Wilson) interval
    and numerator / denominator."""
    label = "label_zh" if t.lang.value == "zh" else "label_en"
    district = coverage.loc[coverage["grouping"] == ALL]
    per_centre = coverage.loc[coverage["grouping"] == "centre"]
    centres = sorted(set(per_centre["centre"]) - {ALL})
    columns = (t("district.whole"), *(group_label(["centre"], [c], t, names) for c in centres))
    cells: dict[tuple[str, str], Cell] = {}
    for _i, r in coverage.iterrows():
        where = ALL if r["grouping"] == ALL else str(r["centre"])
        cells[(str(r["figure"]), where)] = Cell(
            _number(r["rate"]),
            _number(r["ci_lower"]),
            _number(r["ci_upper"]),
            _count(r["numerator"]),
            _count(r["denominator"]),
            unit=str(r["rate_unit"]),
            suppressed=_suppressed(r),
        )
    sections: dict[str, list[Row]] = {
        "checkups": [],
        "vaccination": [],
        "admission": [],
        "cases": [],
        "screenings": [],
        "centres": [],
    }
    for _i, r in district.iterrows():
        figure = str(r["figure"])
        if figure.startswith("vaccination:"):
            section = "vaccination"
        elif figure.startswith("checkup:") or figure.endswith(("-u3", "-u7")):
            section = "checkups"
        elif figure.startswith("admission-"):
            section = "admission"
        elif figure in ("managed-frail", "case-closure"):
            section = "cases"
        elif figure.startswith("screening:"):
            section = "screenings"
        else:
            section = "centres"
        row = tuple(cells.get((figure, where), Cell(None)) for where in (ALL, *centres))
        sections[section].append(Row(str(r[label]), row))
    return {name: Table(columns, tuple(rows)) for name, rows in sections.items() if rows}


def _convention_labels(user: WebUser) -> dict[str, str]:
    """The prevalence conventions in the user's language (labels from the conventions file)."""
    from healthbridge.reports.conventions import load_conventions

    specs = load_conventions().conventions
    zh = user.lang.value == "zh"
    return {str(code): spec.label_zh if zh else spec.label_en for code, spec in specs.items()}


def _official(user: WebUser) -> None:
    """The reports API's access rule; its refusal becomes the pages' "forbidden"."""
    try:
        require_role(user.context, REPORT_ROLES, "District reports")
    except ForbiddenError as exc:
        raise PageForbiddenError(user.role.value) from exc


def _area(request: Request, user: WebUser, asked: str | None) -> str | None:
    """The area shown: the user's jurisdiction or ``asked`` under it (the API's rule,
    :func:`healthbridge.district.figures.report_area`); outside it the pages' "forbidden"."""
    _official(user)
    try:
        return figures.report_area(request.app.state.repository, user.context, asked)
    except ForbiddenError as exc:
        raise PageForbiddenError(user.role.value) from exc


def _filters(
    as_of: dt.date | None,
    period_start: dt.date | None,
    convention: str,
    grouping: str,
    indicator: str,
    figure: str,
    grace_days: int,
) -> Filters:
    return Filters(
        as_of or today(),
        period_start,
        convention,
        grouping if grouping in GROUPINGS else "centre",
        indicator or DEFAULT_INDICATOR,
        figure or DEFAULT_FIGURE,
        grace_days,
    )


@router.get("/district")
def district_page(
    request: Request,
    user: UserDep,
    as_of: AsOf = None,
    period_start: AsOf = None,
    convention: Convention = "who",
    grouping: str = "centre",
    indicator: str = DEFAULT_INDICATOR,
    figure: str = DEFAULT_FIGURE,
    grace_days: Grace = 0,
    area: str | None = None,
    compare: str = "stunting",
) -> Response:
    """Prevalences (with 95 % CIs), z-score means, checkup / 4:2:2 / vaccination / centre
    coverage for the area and per centre, the sub-areas side by side and the quarterly
    trend, one chart of each kind, CSV downloads."""
    from healthbridge.district import reports as district_reports

    shown = _area(request, user, area)
    chosen = replace(
        _filters(None, None, convention, grouping, indicator, figure, grace_days),
        area=shown,
        compare=compare,
    )
    try:
        district_reports.check_report_dates(as_of or today(), period_start)
    except BadRequestError as exc:
        # today's figures under an inline message that repeats what was typed
        return _render(request, user, chosen, None, date_error=exc.diagnostics, status=400)
    chosen = replace(chosen, as_of=as_of or today(), period_start=period_start)
    return _render(request, user, chosen, period_start)


def _render(
    request: Request,
    user: WebUser,
    chosen: Filters,
    period_start: dt.date | None,
    *,
    date_error: str | None = None,
    status: int = 200,
) -> Response:
    from healthbridge.district.area_population import POPULATION_FIGURES
    from healthbridge.district.areas import official_area, read_tree
    from healthbridge.district.compare import COMPARED
    from healthbridge.web.district_areas import area_view

    settings = request.app.state.settings
    repo = request.app.state.repository
    cache = request.app.state.district_cache
    tree = read_tree(repo)
    version = cache.version(repo)  # before the frames are read: never a stale figure
    frames = figures.area_frames(cache, repo, chosen.area, tree)
    day = chosen.as_of or today()
    report = figures.kept_prevalence(
        cache, repo, frames, chosen.area, as_of=day, period_start=period_start,
        convention=chosen.convention, version=version,
    )  # fmt: skip
    coverage = figures.kept_coverage(
        cache, repo, settings, frames, chosen.area, as_of=day, period_start=period_start,
        grace_days=chosen.grace_days, version=version,
    )  # fmt: skip
    tables = figures.area_tables(
        cache, repo, settings, chosen.area, as_of=chosen.as_of, period_start=period_start,
        convention=chosen.convention,
    )  # fmt: skip
    if chosen.compare not in (*COMPARED, *POPULATION_FIGURES):
        chosen = replace(chosen, compare=COMPARED[0])
    areas = area_view(tables, tree, official_area(repo, user.context, tree), chosen.area, user.t)
    names = dict(zip(frames.centres["centre"], frames.centres["name"], strict=True))
    label = "label_zh" if user.lang.value == "zh" else "label_en"
    indicators: dict[str, str] = (
        dict(zip(report.prevalence["indicator"], report.prevalence[label], strict=True))
        if not report.prevalence.empty
        else {}
    )
    figure_labels = dict(zip(coverage["figure"], coverage[label], strict=True))
    if indicators and chosen.indicator not in indicators:
        chosen = replace(chosen, indicator=next(iter(indicators)))
    if chosen.figure not in figure_labels:
        chosen = replace(chosen, figure=DEFAULT_FIGURE)
    return page(
        request,
        user,
        "district.html",
        f=chosen,
        groupings=GROUPINGS,
        total=report.total_records,
        conventions_version=report.conventions_version,
        prevalence=prevalence_view(report.prevalence, chosen.grouping, user.t, names),
        zscores=zscore_view(report.zscores, chosen.grouping, user.t, names),
        coverage=coverage_views(coverage, user.t, names),
        indicators=indicators,
        figures=figure_labels,
        conventions=_convention_labels(user),
        population=figures.population(settings, chosen.area, tree=tree),
        areas=areas,
        date_error=date_error,
        status=status,
    )


@router.get("/district/prevalence.png")
def prevalence_chart(
    request: Request,
    user: UserDep,
    as_of: AsOf = None,
    period_start: AsOf = None,
    convention: Convention = "who",
    grouping: str = "centre",
    indicator: str = DEFAULT_INDICATOR,
    area: str | None = None,
) -> Response:
    """The image of ``GET /reports/prevalence/chart.png`` for the page."""
    shown = _area(request, user, area)
    png = figures.prevalence_chart_png(
        request.app.state.district_cache, request.app.state.repository,
        indicator=indicator, grouping=grouping,
        as_of=as_of or today(), period_start=period_start, convention=convention,
        lang=user.lang.value, area=shown,
    )  # fmt: skip
    return Response(png, media_type="image/png")


@router.get("/district/coverage.png")
def coverage_chart(
    request: Request,
    user: UserDep,
    as_of: AsOf = None,
    period_start: AsOf = None,
    figure: str = DEFAULT_FIGURE,
    grace_days: Grace = 0,
    area: str | None = None,
) -> Response:
    """The image of ``GET /reports/coverage/chart.png`` for the page."""
    shown = _area(request, user, area)
    png = figures.coverage_chart_png(
        request.app.state.district_cache, request.app.state.repository,
        request.app.state.settings, figure=figure,
        as_of=as_of or today(), period_start=period_start, grace_days=grace_days,
        lang=user.lang.value, area=shown,
    )  # fmt: skip
    return Response(png, media_type="image/png")


@router.get("/district/{table}.csv")
def table_csv(
    request: Request,
    user: UserDep,
    table: str,
    as_of: AsOf = None,
    period_start: AsOf = None,
    convention: Convention = "who",
    grace_days: Grace = 0,
    area: str | None = None,
) -> Response:
    """The file of ``/reports/{prevalence,zscores,coverage,areas,trend}?format=csv`` for the
    page (same columns, same UTF-8-with-BOM file)."""
    shown = _area(request, user, area)
    if table not in figures.CSV_TABLES:
        return Response(status_code=404)
    body, filename = figures.table_csv(
        request.app.state.district_cache, request.app.state.repository,
        request.app.state.settings, table,
        as_of=as_of or today(), period_start=period_start, convention=convention,
        grace_days=grace_days, area=shown,
    )  # fmt: skip
    return Response(
        body,
        media_type=figures.CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/district/areas.png")
def areas_chart(
    request: Request,
    user: UserDep,
    as_of: AsOf = None,
    period_start: AsOf = None,
    convention: Convention = "who",
    compare: str = "stunting",
    area: str | None = None,
) -> Response:
    """The image of ``GET /reports/areas/chart.png`` for the page."""
    shown = _area(request, user, area)
    tables = figures.area_tables(
        request.app.state.district_cache, request.app.state.repository,
        request.app.state.settings, shown, as_of=as_of or today(), period_start=period_start,
        convention=convention, which=("areas",),
    )  # fmt: skip
    return Response(
        figures.areas_chart_png(tables, compare, user.lang.value), media_type="image/png"
    )


@router.get("/district/trend.png")
def trend_chart(
    request: Request,
    user: UserDep,
    as_of: AsOf = None,
    convention: Convention = "who",
    area: str | None = None,
) -> Response:
    """The image of ``GET /reports/trend/chart.png`` for the page."""
    shown = _area(request, user, area)
    tables = figures.area_tables(
        request.app.state.district_cache, request.app.state.repository,
        request.app.state.settings, shown, as_of=as_of or today(), convention=convention,
        which=("trend",),
    )  # fmt: skip
    return Response(figures.trend_chart_png(tables, user.lang.value), media_type="image/png")
