"""ASGI entry point for multi-worker uvicorn (``healthbridge.server.asgi:app``).

Importing this module builds the app from the environment: it exists only for process
managers and is never imported by the library itself.
"""

from __future__ import annotations

from healthbridge.config import get_settings
from healthbridge.server.app import create_app

app = create_app(get_settings(), freeze_gc=True)
