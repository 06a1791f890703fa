"""``create_app(settings)``: the FastAPI application with its lifecycle.

The lifespan creates the engine, migrates the schema (idempotent; the default SQLite file is
created on first start) and disposes of the engine at shutdown. Nothing happens at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from healthbridge.api import errors
from healthbridge.api.operations import OperationRegistry, default_registry
from healthbridge.api.routes import router, started_instant
from healthbridge.config import Settings
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.hooks import StoreHooks
from healthbridge.store.repository import Repository


def create_app(
    settings: Settings,
    *,
    hooks: StoreHooks | None = None,
    operations: OperationRegistry | None = None,
    migrate: bool = True,
) -> FastAPI:
    """Build the app. ``hooks`` and ``operations`` are the extension points (validators,
    interceptors, read hooks; ``$operations``); other packages register into them before the
    app starts serving."""
    hooks = hooks if hooks is not None else StoreHooks()
    operations = operations if operations is not None else default_registry()
    if settings.clinical_ruleset:
        from healthbridge.pipeline.install import install

        install(settings.clinical_ruleset, hooks, operations)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url(), echo=settings.sql_echo)
        if migrate:
            upgrade(engine)
        app.state.repository = Repository(
            engine,
            hooks=hooks,
            base_url=settings.base_url,
            default_count=settings.default_page_size,
            max_count=settings.max_page_size,
        )
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="HealthBridge FHIR R4 API",
        version="0.1.0",
        description="FHIR R4 (4.0.1) RESTful API, JSON. Base URL: /fhir.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.hooks = hooks
    app.state.operations = operations
    app.state.started = started_instant()
    errors.install(app)
    app.include_router(router, prefix="/fhir", tags=["FHIR"])
    return app
