"""ASGI entry point for multi-worker uvicorn (``healthbridge.api.asgi:app``).

Importing this module builds the app from the environment: it exists only for process
managers and is never imported by the library itself.
"""

from __future__ import annotations

from healthbridge.api.app import create_app
from healthbridge.config import get_settings

app = create_app(get_settings(), freeze_gc=True)
