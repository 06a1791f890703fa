"""``healthbridge demo``: load the synthetic demo district into the configured database."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthbridge.config import Settings
    from healthbridge.store.repository import Repository


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo", help="load a seeded synthetic district (hospitals, centres, children, records)"
    )
    parser.add_argument("--children", type=int, default=600, help="children (default 600)")
    parser.add_argument("--seed", type=int, default=20261122, help="random seed")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=None,
        help="the district's 'today' (YYYY-MM-DD; default: today)",
    )
    parser.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database has children"
    )
    parser.set_defaults(handler=run)


def _progress(done: int, total: int) -> None:
    if done % 100 == 0 or done == total:
        print(f"demo: {done}/{total} children", flush=True)  # noqa: T201


def _demo_accounts(settings: Settings, repo: Repository) -> None:
    """Development only: password accounts for the demo people (``healthbridge user``)."""
    if settings.environment != "development":
        return
    from healthbridge.commands.user import create_demo_accounts
    from healthbridge.web.pages_signin import DEMO_PASSWORD

    made = create_demo_accounts(repo)
    print(  # noqa: T201
        f"demo: {made} new password accounts (development only; password {DEMO_PASSWORD})"
    )


def run(args: argparse.Namespace) -> int:
    """Create/migrate the database, then load the district."""
    from healthbridge.api.default_operations import default_registry
    from healthbridge.config import get_settings
    from healthbridge.demo.load import is_empty, load_demo
    from healthbridge.server.app import default_hooks
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository
    from healthbridge.store.runtime import running

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        hooks = default_hooks(settings)
        if settings.clinical_ruleset:
            # the server's write path, inline whatever HEALTHBRIDGE_PIPELINE_MODE says: the
            # demo's derived z-scores and alerts are complete when the command ends, with no
            # server or worker running (issue 19: the outbox is for live servers)
            from healthbridge.pipeline.install import install

            install(settings.clinical_ruleset, hooks, default_registry(settings.ruleset_key))
        repo = Repository(engine, hooks=hooks)
        if args.if_empty and not is_empty(repo):
            print("demo: the database already holds children; nothing loaded")  # noqa: T201
            _demo_accounts(settings, repo)
            return 0
        print(f"demo: loading {args.children} children...", flush=True)  # noqa: T201
        with running(engine, role="batch"):  # a bulk write: the checkpointer keeps the WAL small
            summary = load_demo(
                repo,
                children=args.children,
                seed=args.seed,
                as_of=args.as_of,
                max_entries=settings.max_bundle_entries,
                progress=_progress,
            )
        _demo_accounts(settings, repo)
    finally:
        engine.dispose()
    print(  # noqa: T201
        f"demo: {summary.children} children, {summary.resources} resources in "
        f"{summary.bundles} transactions, {summary.seconds:.1f} s "
        f"({summary.resources / max(summary.seconds, 1e-9):.0f} resources/s)"
    )
    return 0
