"""``healthbridge serve``: run the FHIR API with uvicorn."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` sub-command."""
    parser = subparsers.add_parser("serve", help="serve the FHIR R4 API at /fhir (uvicorn)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Create (and migrate) the database if needed, then serve until interrupted."""
    import uvicorn

    from healthbridge.config import get_settings
    from healthbridge.store.db import make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)  # first start creates and migrates the database
    engine.dispose()
    if args.workers > 1:
        uvicorn.run(
            "healthbridge.server.asgi:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
        )
        return 0
    from healthbridge.server.app import create_app

    app = create_app(settings, freeze_gc=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
