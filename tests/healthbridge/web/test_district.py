"""The district official's page: the reports API's figures, filters, charts, CSV, access."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from healthbridge.charts.labels import Lang
from healthbridge.web.i18n import Translator
from healthbridge.web.pages_district import coverage_views, prevalence_view, zscore_view
from healthbridge.web.pages_signin import DEMO_OFFICIAL
from tests.healthbridge.web.test_pages import login, sign_in_as
from tests.healthbridge.web.world import World, build_world


@pytest.fixture
def site(app_factory: Any) -> Iterator[tuple[TestClient, World]]:
    app = app_factory(demo_login=True, environment="development", district_population=250_000)
    with TestClient(app) as client:
        world = build_world(app.state.repository)
        yield client, world


def as_official(client: TestClient) -> None:
    assert sign_in_as(client, DEMO_OFFICIAL) == "/app/district"


def section(html: str, testid: str) -> str:
    """The HTML of one figure table."""
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</table>", start)]


def test_page_shows_the_reports_api_figures(site: tuple[TestClient, World]) -> None:
    client, _world = site
    as_official(client)
    page = client.get("/app/district")
    assert page.status_code == 200
    html = page.text
    assert "营养状况患病率" in html  # Chinese by default
    day = re.search(r'name="as_of" value="([0-9-]+)"', html)
    assert day is not None
    # The API (called here as the system role) serves the same numbers the page shows.
    coverage = client.get(f"/reports/coverage?as_of={day.group(1)}").json()["rows"]
    checkups = section(html, "coverage-checkups")
    vaccination = section(html, "coverage-vaccination")
    for row in coverage:
        if row["grouping"] != "all" or not row["denominator"]:
            continue
        counts = f"{row['numerator']}/{row['denominator']}"
        if row["figure"] == "systematic-management-u3":
            assert "4:2:2" in checkups
            assert f"{row['rate']:.1f}%" in checkups
            assert counts in checkups
        if row["figure"].startswith("vaccination:"):
            assert row["label_zh"] in vaccination
            assert counts in vaccination
    places = [r for r in coverage if r["figure"] == "places-per-1000"]
    assert len(places) == 1  # the population is configured for this site
    prevalence = client.get(f"/reports/prevalence?as_of={day.group(1)}").json()
    table = section(html, "prevalence")
    by_centre = [
        r for r in prevalence["rows"] if r["grouping"] == "centre" and r["indicator"] == "stunting"
    ]
    assert by_centre
    for row in by_centre:
        assert f"{row['cases']}/{row['n']}" in table
        assert f"{row['prevalence']:.1f}%" in table
    assert "未入托" in table or all(r["centre"] != "none" for r in by_centre)
    assert f"纳入分析 {prevalence['total_records']} 名儿童" in html
    assert "child-0" not in html  # aggregates only: no child id anywhere on the page


def test_filters_switch_convention_grouping_and_language(site: tuple[TestClient, World]) -> None:
    client, _world = site
    as_official(client)
    cn = client.get("/app/district?convention=cn-2024&grouping=sex").text
    assert "年龄别BMI" in section(cn, "prevalence")  # China 2024 judges wasting on BMI-for-age
    assert "男童" in section(cn, "prevalence")
    assert "女童" in section(cn, "zscores")
    assert 'value="cn-2024" selected' in cn
    # the chart pickers keep the other choices (hidden fields), so a chart change loses none
    assert '<input type="hidden" name="grouping" value="sex">' in cn
    assert '<input type="hidden" name="convention" value="cn-2024">' in cn
    en = client.get("/app/district?lang=en&grouping=age_group")
    assert "hb_lang=en" in en.headers["set-cookie"]
    assert "Nutrition prevalence" in en.text
    assert "Vaccination coverage" in en.text
    assert "Under-3 systematic management rate (4:2:2)" in en.text
    assert re.search(r"\d\d-\d\d months", section(en.text, "prevalence"))
    # an English chart still names the (Chinese) centres: drawn with a CJK-capable font
    chart = client.get("/app/district/prevalence.png?grouping=centre")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    unknown = client.get("/app/district?grouping=bogus&indicator=bogus").text
    assert 'value="centre" selected' in unknown  # falls back to the default choices


def test_charts_and_csv_are_the_api_handlers_output(site: tuple[TestClient, World]) -> None:
    client, _world = site
    as_official(client)
    html = client.get("/app/district").text
    for testid, api in (
        ("prevalence-chart", "/reports/prevalence/chart.png"),
        ("coverage-chart", "/reports/coverage/chart.png"),
    ):
        src = re.search(rf'data-testid="{testid}" src="([^"]+)"', html)
        assert src is not None
        query = src.group(1).replace("&amp;", "&").split("?", 1)[1]
        mine = client.get(src.group(1).replace("&amp;", "&"))
        assert mine.status_code == 200
        assert mine.headers["content-type"] == "image/png"
        assert mine.content == client.get(f"{api}?{query}&lang=zh").content
    for name in ("prevalence", "zscores", "coverage"):
        href = re.search(rf'data-testid="csv-{name}" href="([^"]+)"', html)
        assert href is not None
        url = href.group(1).replace("&amp;", "&")
        mine = client.get(url)
        assert mine.status_code == 200
        assert mine.headers["content-type"].startswith("text/csv")
        assert "attachment" in mine.headers["content-disposition"]
        query = url.split("?", 1)[1]
        assert mine.content == client.get(f"/reports/{name}?{query}&format=csv").content
    assert client.get("/app/district/children.csv").status_code == 404


@pytest.mark.parametrize("who", ["parent", "manager", "doctor"])
def test_other_roles_get_the_refusal(site: tuple[TestClient, World], who: str) -> None:
    client, world = site
    login(client, world, who)
    for url in (
        "/app/district",
        "/app/district/prevalence.png",
        "/app/district/coverage.png",
        "/app/district/coverage.csv",
    ):
        r = client.get(url)
        assert r.status_code == 403, url
        assert "您无权查看此页面" in r.text
    client.cookies.clear()
    assert client.get("/app/district", follow_redirects=False).headers["location"] == "/app/login"


def test_official_sees_no_child_record(site: tuple[TestClient, World]) -> None:
    client, world = site
    as_official(client)
    # the store refuses the role child data altogether (docs/access.md: directory only)
    assert client.get(f"/app/child/{world.child_id}").status_code == 403
    assert client.get("/app/centre").status_code == 403


def _prevalence_frame() -> pd.DataFrame:
    rows = []
    for grouping, centre, cases, n in (
        ("all", "all", 1, 12),
        ("centre", "c1", 1, 8),
        ("centre", "none", 0, 4),
    ):
        for indicator, label in (("stunting", "生长迟缓"), ("wasting", "消瘦")):
            rows.append(
                {"grouping": grouping, "age_group": "all", "sex": "all", "centre": centre,
                 "indicator": indicator, "n": n, "cases": cases, "prevalence": 100 * cases / n,
                 "ci_lower": 1.5 if cases else 0.0, "ci_upper": 56.9 if cases else 0.0,
                 "label_zh": label, "label_en": indicator}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_prevalence_view_pivots_groups_by_indicator() -> None:
    table = prevalence_view(_prevalence_frame(), "centre", Translator(Lang.ZH), {"c1": "小太阳"})
    assert table.columns == ("生长迟缓", "消瘦")
    assert [r.label for r in table.rows] == ["全区", "小太阳", "未入托"]
    first = table.rows[1].cells[0]
    assert (first.value, first.lower, first.upper) == (12.5, 1.5, 56.9)
    assert (first.numerator, first.denominator) == (1, 8)
    only_district = prevalence_view(_prevalence_frame(), "all", Translator(Lang.ZH), {})
    assert [r.label for r in only_district.rows] == ["全区"]
    assert only_district.rows[0].cells[0].denominator == 12
    assert prevalence_view(pd.DataFrame(), "centre", Translator(Lang.ZH), {}).rows == ()


def test_zscore_and_coverage_views() -> None:
    z = pd.DataFrame(
        [{"grouping": "all", "age_group": "all", "sex": "all", "centre": "all", "z": "zwei",
          "n": 30, "mean": -0.07, "ci_lower": -0.41, "ci_upper": 0.27}]
    )  # fmt: skip
    view = zscore_view(z, "all", Translator(Lang.EN), {})
    assert view.columns == ("Weight-for-age",)
    assert view.rows[0].label == "District"
    assert view.rows[0].cells[0].denominator == 30
    cov = pd.DataFrame(
        [
            {"grouping": g, "centre": c, "figure": f, "label_zh": f, "label_en": f,
             "numerator": num, "denominator": den, "rate": 100 * num / den if den else float("nan"),
             "rate_unit": "%", "ci_lower": 1.0, "ci_upper": 99.0}
            for g, c, f, num, den in (
                ("all", "all", "systematic-management-u3", 21, 27),
                ("centre", "c1", "systematic-management-u3", 5, 6),
                ("all", "all", "vaccination:MMR:1", 0, 0),
                ("all", "all", "signed-centres", 0, 6),
                ("all", "all", "admission-check", 287, 330),
                ("all", "all", "admission-catchup", 66, 108),
            )
        ]
    )  # fmt: skip
    views = coverage_views(cov, Translator(Lang.ZH), {"c1": "小太阳"})
    assert views["checkups"].columns == ("全区", "小太阳")
    assert [c.numerator for c in views["checkups"].rows[0].cells] == [21, 5]
    assert views["vaccination"].rows[0].cells[0].empty  # no child due: no rate
    assert views["vaccination"].rows[0].cells[1].empty  # no row for the centre
    assert views["centres"].rows[0].label == "signed-centres"
    assert [r.label for r in views["admission"].rows] == ["admission-check", "admission-catchup"]
    assert views["admission"].rows[0].cells[0].numerator == 287


def test_page_shows_the_screening_rates(site: tuple[TestClient, World]) -> None:
    client, _world = site
    as_official(client)
    html = client.get("/app/district").text
    screenings = section(html, "coverage-screenings")
    assert "0～6岁儿童眼保健和视力检查覆盖率" in screenings
    assert "血红蛋白检测率" in screenings
    english = client.get("/app/district?lang=en").text
    assert "Eye care and vision check coverage (0-6 y)" in section(english, "coverage-screenings")
