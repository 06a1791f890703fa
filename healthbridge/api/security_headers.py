"""Security headers on every response (docs/access.md "Hardening").

A pure ASGI middleware (no response buffering except for the two documentation pages, so bulk
downloads and the search path pay one header merge) added by ``create_app``:

* ``Content-Security-Policy`` — same origin only (OWASP Secure Headers; CSP Level 3):
  ``default-src 'self'``, no inline script or style (the pages' scripts are in
  ``/app/static/app.js``), ``object-src 'none'``, ``base-uri 'self'``, ``form-action 'self'``
  and ``frame-ancestors 'none'`` (no clickjacking of, e.g., the consent-withdrawal form). The
  OpenAPI pages (``/docs``, ``/redoc``) serve Swagger UI / ReDoc from this server
  (``DOCS_STATIC``, the assets of the ``fastapi-offline`` package: no CDN, so they work on a
  hospital intranet); their policy allows their inline bootstrap script by its SHA-256 hash
  (computed from the page served), never ``'unsafe-inline'`` script, and the inline styles
  Swagger UI sets on its elements;
* ``X-Frame-Options: DENY`` (for browsers without ``frame-ancestors``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (no URL with a
  child id leaves the site; ``no-referrer`` would make browsers send ``Origin: null`` on
  form posts, which the pages' CSRF origin check refuses);
* ``Strict-Transport-Security`` (one year, subdomains) on https requests and always in
  production (TLS ends at the reverse proxy there, RFC 6797 §7.2 ignores it over http);
* ``Cache-Control: no-store`` on the pages and on every FHIR, report and exchange response
  (children's data must not stay in shared or browser caches); public metadata
  (``/fhir/metadata``, ``/.well-known/…``, the OpenAPI documents, static files) keeps its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The policy of every response but the documentation pages.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: Where the Swagger UI and ReDoc pages load their code from (served by this app).
DOCS_STATIC: Final = "/docs/static"
DOCS_PATHS: Final = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
HSTS: Final = "max-age=31536000; includeSubDomains"
#: Responses that may be cached (public, no child data).
CACHEABLE_PREFIXES: Final = ("/app/static/", f"{DOCS_STATIC}/", "/.well-known/", "/fhir/metadata")
CACHEABLE_PATHS: Final = frozenset({"/openapi.json", *DOCS_PATHS})
_INLINE_SCRIPT: Final = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)

BASE_HEADERS: Final = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


def docs_policy(body: bytes) -> str:
    """The policy of a documentation page: its own scripts plus the hashes of the inline ones."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'"
        for m in _INLINE_SCRIPT.finditer(body)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _cacheable(path: str) -> bool:
    return path in CACHEABLE_PATHS or path.startswith(CACHEABLE_PREFIXES)


class SecurityHeaders:
    """The middleware (see module docstring); ``hsts_always`` in production."""

    def __init__(self, app: ASGIApp, *, hsts_always: bool = False) -> None:
        self.app = app
        self.hsts_always = hsts_always

    def _headers(self, scope: Scope, message: Message, policy: str) -> None:
        headers = MutableHeaders(scope=message)
        for name, value in BASE_HEADERS:
            headers[name] = value
        headers["Content-Security-Policy"] = policy
        if self.hsts_always or scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = HSTS
        if not _cacheable(scope["path"]) and "no-store" not in headers.get("cache-control", ""):
            headers["Cache-Control"] = "no-store"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in DOCS_PATHS:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._headers(scope, message, CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the (small) documentation page to hash its inline scripts."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    assert start is not None
                    body = b"".join(chunks)
                    self._headers(scope, start, docs_policy(body))
                    await send(start)
                    await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, collect)


def install(app: Any, *, production: bool) -> None:
    """Add the middleware to ``app`` (from ``create_app``, never at import)."""
    app.add_middleware(SecurityHeaders, hsts_always=production)
