"""``create_app(settings)``: the FastAPI application with its lifecycle.

The lifespan creates the engine, migrates the schema (idempotent; the default SQLite file is
created on first start) and disposes of the engine at shutdown. Nothing happens at import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from healthbridge.access import http as access_http
from healthbridge.access.tokens import JwksFetcher
from healthbridge.api import bulk, errors, exchange, openapi, reports, security_headers
from healthbridge.api.default_operations import default_registry
from healthbridge.api.routes import router, started_instant
from healthbridge.api.validation import profile_write_validator
from healthbridge.config import Settings
from healthbridge.district.cache import SNAPSHOT_SUBDIR, DistrictCache
from healthbridge.operations import OperationRegistry
from healthbridge.store import runtime as store_runtime
from healthbridge.store.db import make_engine, upgrade
from healthbridge.store.hooks import StoreHooks
from healthbridge.store.repository import Repository


def default_hooks(settings: Settings) -> StoreHooks:
    """The store hooks a production app runs with: profile validation on every write (except
    trusted writes of resources the server builds from tested templates)."""
    del settings  # hooks that depend on settings (rule sets, access) register here too
    hooks = StoreHooks()
    hooks.add_input_validator(profile_write_validator)
    return hooks


def create_app(
    settings: Settings,
    *,
    hooks: StoreHooks | None = None,
    operations: OperationRegistry | None = None,
    migrate: bool = True,
    jwks_fetcher: JwksFetcher | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """Build the app. Its lifespan owns the process-wide machinery: the store runtime
    (:mod:`healthbridge.store.runtime`: SQLite checkpointer, GC policy) and the notification
    deliverer, started after migration and stopped at shutdown. ``hooks`` and
    ``operations`` are the extension points (validators, interceptors, read hooks;
    ``$operations``); other packages register into them before the app starts serving.
    Authentication and audit are always installed (docs/access.md); ``jwks_fetcher``
    replaces the HTTP fetch of the OIDC provider's keys (tests).

    ``freeze_gc`` (server processes only, never tests): once started, move every object alive
    into the collector's permanent generation (``gc.freeze``, see
    :mod:`healthbridge.store.gc_policy`). The models, schemas and search plans loaded at
    start-up are then no longer traversed by each collection the allocations of a large
    Bundle trigger (≈5 % of the CPU of a 1,000-entry transaction)."""
    hooks = hooks if hooks is not None else default_hooks(settings)
    operations = operations if operations is not None else default_registry(settings.ruleset_key)
    installed = None
    if settings.clinical_ruleset:
        from healthbridge.pipeline.install import install

        installed = install(
            settings.clinical_ruleset, hooks, operations, mode=settings.pipeline_mode
        )
    from healthbridge.notify import hooks as notify_hooks

    notify_hooks.install(hooks)
    from healthbridge.notify import operations as notify_operations
    from healthbridge.notify.live import Hub

    live = Hub()  # websocket bindings: a plain object, no thread
    notify_operations.register(operations, live)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url(), echo=settings.sql_echo)
        if migrate:
            upgrade(engine)
        runtime = app.state.store_runtime = store_runtime.start(engine, role="server")
        if freeze_gc:
            from healthbridge.fhir.r4 import warm_up

            warm_up()
            runtime.freeze_gc()
        app.state.repository = Repository(
            engine,
            hooks=hooks,
            base_url=settings.base_url,
            default_count=settings.default_page_size,
            max_count=settings.max_page_size,
        )
        deliverer = None
        if settings.notify_delivery_seconds > 0:
            from healthbridge.notify.delivery import Deliverer

            deliverer = Deliverer(
                app.state.repository,
                interval=settings.notify_delivery_seconds,
                base_url=(settings.base_url or "").rstrip("/") or "/fhir",
                hub=live,
            )
            deliverer.start()
        app.state.deliverer = deliverer
        worker, outbox = None, installed.outbox if installed is not None else None
        if outbox is not None and settings.pipeline_worker_thread:
            from healthbridge.pipeline.outbox import OutboxWorker

            worker = OutboxWorker(
                app.state.repository, outbox.pipeline, batch=settings.pipeline_batch
            )
            outbox.wakers.append(worker.wake)
            worker.start()
        app.state.pipeline_worker = worker
        # Bulk Data exports: jobs in the database, files in the object store, this
        # process's workers (a running job goes back to the queue at shutdown)
        exports = bulk.start_exports(app, app.state.repository, settings)
        # the reports' district cache, its snapshot kept in the data directory
        app.state.district_cache = DistrictCache(settings.data_dir / SNAPSHOT_SUBDIR)
        try:
            yield
        finally:
            app.state.district_cache.close()  # waits for a snapshot being written
            exports.stop()
            if deliverer is not None:
                deliverer.stop()
            if worker is not None and outbox is not None:
                worker.stop()
                outbox.wakers.remove(worker.wake)
            runtime.stop()
            engine.dispose()

    # Swagger UI and ReDoc from the installed package, not a CDN (a hospital intranet has none)
    app = FastAPIOffline(
        static_url=security_headers.DOCS_STATIC,
        title="HealthBridge FHIR R4 API",
        version="0.1.0",
        description="FHIR R4 (4.0.1) RESTful API, JSON. Base URL: /fhir.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.hooks = hooks
    app.state.operations = operations
    app.state.pipeline = installed  # the clinical pipeline and its outbox (None: off)
    app.state.live = live
    app.state.started = started_instant()
    errors.install(app)
    security_headers.install(app, production=settings.environment == "production")
    access_http.install(app, settings, hooks, jwks_fetcher=jwks_fetcher)
    openapi.install(app)
    from healthbridge.web import smart

    # SMART App Launch (discovery before the FHIR router, which would read ".well-known"
    # as a resource type); OAuth endpoints answer OAuth JSON, not FHIR: not in the OpenAPI
    app.include_router(smart.discovery, include_in_schema=False)
    app.include_router(smart.token_router, include_in_schema=False)
    app.include_router(smart.router, include_in_schema=False)
    # $export routes first: the generic FHIR router would take /fhir/$export as a type
    app.include_router(bulk.router, prefix="/fhir", tags=["Bulk Data"])
    from healthbridge.notify.live import router as live_router

    app.include_router(live_router, prefix="/fhir", include_in_schema=False)  # websocket
    app.include_router(router, prefix="/fhir", tags=["FHIR"])
    app.include_router(reports.router, prefix="/reports", tags=["Reports"])
    app.include_router(exchange.router, prefix="/exchange", tags=["Exchange"])
    from healthbridge.web import mount

    mount(app)
    return app
