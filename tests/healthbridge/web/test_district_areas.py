"""The official's page shows their area: sub-areas side by side, the quarterly trend, charts
and CSV; an official of one city never sees another city's areas or centres (SQLite and
PostgreSQL, demo sign-in as the demo province's officials)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.healthbridge.web.test_pages import sign_in_as

AS_OF = "2026-11-01"
NINGBO = ("宁波市", "海曙区", "鄞州区", "童心托育中心", "绿芽托育园")


@pytest.fixture
def site(app_factory: Any) -> Iterator[TestClient]:
    from healthbridge.demo.load import load_demo
    from healthbridge.store.repository import Repository

    app = app_factory(demo_login=True, environment="development", district_population=250_000)
    with TestClient(app) as client:
        repo = Repository(app.state.repository.engine)
        load_demo(repo, children=30, as_of=dt.date.fromisoformat(AS_OF))
        yield client


def _table(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</table>", start)]


def test_a_city_official_sees_the_city_and_its_districts(site: TestClient) -> None:
    client = site
    assert sign_in_as(client, "PractitionerRole/official-hz-role") == "/app/district"
    page = client.get(f"/app/district?as_of={AS_OF}")
    assert page.status_code == 200
    html = page.text
    assert "杭州市" in html
    areas = _table(html, "areas")
    for district in ("滨江区", "西湖区", "上城区"):
        assert district in areas
    assert "生长迟缓" in areas  # the compared figures, Chinese first
    assert 'href="/app/district?area=area-hz-xihu"' in areas  # drill down
    for other in NINGBO:  # nothing of the other city, anywhere on the page
        assert other not in html
    trend = _table(html, "trend")
    assert len(re.findall(r"2026年第\d季度", trend)) == 4
    # charts and CSV of the page answer for the same area
    for link in ("areas-chart", "trend-chart"):
        src = re.search(rf'data-testid="{link}" src="([^"]+)"', html)
        assert src is not None
        image = client.get(src.group(1).replace("&amp;", "&"))
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
    csv = client.get(f"/app/district/areas.csv?as_of={AS_OF}")
    assert csv.status_code == 200
    text = csv.content.decode("utf-8-sig")
    assert "滨江区" in text
    assert "海曙区" not in text


def test_drilling_down_and_refusals(site: TestClient) -> None:
    client = site
    sign_in_as(client, "PractitionerRole/official-hz-role")
    xihu = client.get(f"/app/district?as_of={AS_OF}&area=area-hz-xihu")
    assert xihu.status_code == 200
    assert "彩虹宝贝托育中心" in _table(xihu.text, "areas")  # a district compares its centres
    assert 'data-testid="area-up"' in xihu.text  # a way back up to the city
    assert "小太阳托育园" not in _table(xihu.text, "areas")
    for other in ("area-nb", "area-nb-haishu", "area-zj", "org-centre-4"):
        for path in ("/app/district", "/app/district/areas.png", "/app/district/coverage.csv"):
            got = client.get(f"{path}?as_of={AS_OF}&area={other}")
            assert got.status_code == 403, (path, other)


def test_the_province_official_in_english(site: TestClient) -> None:
    client = site
    sign_in_as(client, "PractitionerRole/official-zj-role")
    html = client.get(f"/app/district?as_of={AS_OF}&lang=en").text
    areas = _table(html, "areas")
    assert "Sub-areas side by side" in html
    assert "杭州市" in areas
    assert "宁波市" in areas
    assert "Q4" in _table(html, "trend")
    ningbo = client.get(f"/app/district?as_of={AS_OF}&area=area-nb&lang=en")
    assert ningbo.status_code == 200
    assert "海曙区" in _table(ningbo.text, "areas")


def test_sick_absence_shows_the_officials_centres_only(site: TestClient) -> None:
    from healthbridge.charts.summary import enrolment
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.web import attendance as att
    from healthbridge.web.common import today

    client = site
    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        found = txn.search_params("Patient", [("_count", "200")]).matches
        kids = [s.resource or {} for s in found]
        binjiang = [k for k in kids if enrolment(k)[0] == "org-centre-1"]
        assert len(binjiang) >= 3
        for kid in binjiang[:3]:
            absence = att.Absence("sick", "", ("fever",), "", None, "parent")
            room = enrolment(kid)[1] or ""
            att.record_absence(txn, kid["id"], "org-centre-1", room, today(), absence)
    sign_in_as(client, "PractitionerRole/official-hz-role")
    hz = client.get("/app/district/absence")
    assert hz.status_code == 200
    assert 'data-testid="absence-table"' in hz.text
    assert "小太阳托育园" in hz.text
    sign_in_as(client, "PractitionerRole/official-nb-role")
    nb = client.get("/app/district/absence")
    assert nb.status_code == 200
    assert 'data-testid="absence-empty"' in nb.text
    assert "小太阳托育园" not in nb.text


def test_places_per_1000_per_area_and_an_area_without_population(site: TestClient) -> None:
    """The areas table shows places per 1,000 of each area from its population (the demo's
    districts carry one, the cities and province sum them); an area whose population cannot
    be known says so instead of a number."""
    from healthbridge.district.area_population import POPULATION_EXTENSION
    from healthbridge.store.hooks import SYSTEM_CONTEXT

    client = site
    sign_in_as(client, "PractitionerRole/official-zj-role")
    areas = _table(client.get(f"/app/district?as_of={AS_OF}").text, "areas")
    assert "每千人口拥有3岁以下婴幼儿托位数" in areas
    assert "110/2210000" in areas  # Ningbo: its centres' places over its districts' sum
    assert 'data-testid="no-population"' not in areas

    repo = client.app.state.repository  # type: ignore[attr-defined]
    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        yinzhou = dict(txn.read("Organization", "area-nb-yinzhou").resource)
        yinzhou["extension"] = [
            e for e in yinzhou.get("extension", []) if e["url"] != POPULATION_EXTENSION
        ]
        if not yinzhou["extension"]:
            del yinzhou["extension"]
        txn.update("Organization", "area-nb-yinzhou", yinzhou)
    zh = _table(client.get(f"/app/district?as_of={AS_OF}").text, "areas")
    assert zh.count('data-testid="no-population"') == 2  # Ningbo and the province
    assert "未配置人口数" in zh
    assert "/2956000" in zh  # Hangzhou keeps its figure
    en = _table(client.get(f"/app/district?as_of={AS_OF}&lang=en").text, "areas")
    assert "population not configured" in en
    csv = client.get(f"/app/district/areas.csv?as_of={AS_OF}").content.decode("utf-8-sig")
    assert "population-not-configured" in csv


def test_the_charts_reuse_the_pages_figures_until_a_write(
    site: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page computes each table once per data version; its charts reuse them
    (``DistrictCache.kept``; their links name the default period the page left out), and a
    write makes the next view compute them again."""
    from healthbridge.district import compare, figures

    calls: list[str] = []
    for module, name in (
        (compare, "comparison"),
        (compare, "trend"),
        (figures, "prevalence_figures"),
        (figures, "coverage_figures"),
    ):
        real = getattr(module, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    client = site
    sign_in_as(client, "PractitionerRole/official-hz-role")  # opens the page of today
    calls.clear()
    html = client.get(f"/app/district?as_of={AS_OF}").text
    computed = sorted(calls)
    assert computed == ["comparison", "coverage_figures", "prevalence_figures", "trend"]
    for link in ("areas-chart", "trend-chart", "prevalence-chart", "coverage-chart"):
        src = re.search(rf'data-testid="{link}" src="([^"]+)"', html)
        assert src is not None, link
        assert client.get(src.group(1).replace("&amp;", "&")).status_code == 200
    assert client.get(f"/app/district?as_of={AS_OF}").status_code == 200
    assert sorted(calls) == computed  # nothing computed again
    repo = client.app.state.repository  # type: ignore[attr-defined]
    from healthbridge.store.hooks import SYSTEM_CONTEXT

    with repo.transaction(SYSTEM_CONTEXT, write=True) as txn:
        txn.create({"resourceType": "Patient", "gender": "female", "birthDate": "2025-01-02"})
    assert client.get(f"/app/district?as_of={AS_OF}").status_code == 200
    assert sorted(calls) == sorted(computed * 2)  # a write: computed again
