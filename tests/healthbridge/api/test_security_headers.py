"""Security headers on every response (issue 20 item 8)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import factories as f


def _common(response: Any) -> str:
    h = response.headers
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    csp = str(h["content-security-policy"])
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("style-src")[0]  # never for scripts
    return csp


def test_fhir_pages_and_errors_carry_the_headers(app_factory: Any) -> None:
    with TestClient(app_factory()) as client:
        kid = client.post("/fhir/Patient", json=f.child()).json()["id"]
        for url in (f"/fhir/Patient/{kid}", "/fhir/Patient", "/fhir/Patient/nope", "/app/login"):
            got = client.get(url)
            csp = _common(got)
            assert csp.startswith("default-src 'self'; script-src 'self';"), url
            assert got.headers["cache-control"] == "no-store", url
            assert "strict-transport-security" not in got.headers  # plain http, not production
        # public metadata may be cached
        assert "no-store" not in client.get("/fhir/metadata").headers.get("cache-control", "")
        assert "no-store" not in client.get("/app/static/app.css").headers.get("cache-control", "")
        # the login page has no inline script or style left for the policy to block
        html = client.get("/app/login").text
        assert "<script>" not in html
        assert "style=" not in html


def test_hsts_over_https_and_in_production(app_factory: Any) -> None:
    with TestClient(app_factory(), base_url="https://testserver") as client:
        got = client.get("/fhir/metadata")
        assert got.headers["strict-transport-security"].startswith("max-age=31536000")
    with TestClient(app_factory(environment="production")) as client:
        assert "strict-transport-security" in client.get("/fhir/metadata").headers


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_are_self_hosted_and_allow_only_their_own_inline_script(
    app_factory: Any, page: str
) -> None:
    """Issue 19: the OpenAPI pages work without a CDN (a hospital intranet has none)."""
    with TestClient(app_factory()) as client:
        got = client.get(page)
        assert got.status_code == 200
        csp = _common(got)
        assert "https:" not in csp
        assert "https://" not in got.text.replace("https://github.com", "")
        assets = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', got.text)
        assert any(asset.endswith(".js") for asset in assets)
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 1000, asset
        scripts = re.findall(r"<script>(.*?)</script>", got.text, re.S)
        assert scripts or page == "/redoc"  # ReDoc starts from an element, Swagger UI a script
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
