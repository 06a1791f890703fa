"""FHIR JSON responses and HTTP header helpers."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from starlette.responses import JSONResponse

FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    """``application/fhir+json`` with UTF-8 (Chinese text is not escaped)."""

    media_type = FHIR_JSON + "; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def http_date(instant: str) -> str:
    """An RFC 7231 HTTP-date for a FHIR instant (``Last-Modified``)."""
    value = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return format_datetime(value, usegmt=True)
