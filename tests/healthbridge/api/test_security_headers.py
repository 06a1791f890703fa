"""Security headers on every response (issue 20 item 8)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi.testclient import TestClient

from tests import factories as f


def _common(response: Any) -> str:
    h = response.headers
    assert h["x-frame-options"] == "DENY"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
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


def test_docs_page_allows_its_cdn_and_only_its_own_inline_script(app_factory: Any) -> None:
    with TestClient(app_factory()) as client:
        got = client.get("/docs")
        assert got.status_code == 200
        csp = _common(got)
        assert "https://cdn.jsdelivr.net" in csp
        scripts = re.findall(r"<script>(.*?)</script>", got.text, re.S)
        assert scripts
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
