"""``healthbridge import-session FILE``: import a centre's measurement session (CSV/Excel)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthbridge.config import Settings
    from healthbridge.store.hooks import StoreHooks


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``import-session`` sub-command."""
    parser = subparsers.add_parser(
        "import-session",
        help="import a measurement session file as one FHIR transaction (all rows or none)",
    )
    parser.add_argument("file", type=Path, help="CSV (UTF-8/GBK) or .xlsx file")
    parser.add_argument("--centre", default=None, help="Organization/<id> of the centre")
    parser.add_argument("--performer", default=None, help="Practitioner/<id> who measured")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="message language")
    parser.add_argument("--json", action="store_true", help="print the full JSON report")
    parser.set_defaults(handler=run)


def _install_pipeline(settings: Settings, hooks: StoreHooks) -> bool:
    """The server's write path for the imported rows: the clinical pipeline in the
    configured mode (inline: the scores and alerts are written with the rows; outbox, the
    default: their evaluation is queued for the server's worker thread or ``healthbridge
    worker``) and the alert messages. True when the evaluation is queued."""
    if not settings.clinical_ruleset:
        return False
    from healthbridge.api.default_operations import default_registry
    from healthbridge.notify import hooks as notify_hooks
    from healthbridge.pipeline.install import install

    installed = install(
        settings.clinical_ruleset, hooks, default_registry(settings.ruleset_key),
        mode=settings.pipeline_mode,
    )  # fmt: skip
    notify_hooks.install(hooks)
    return installed.outbox is not None


def run(args: argparse.Namespace) -> int:
    """Import as the system client; exit 0 when every row was accepted, 1 otherwise, 2 when
    the file cannot be read."""
    from healthbridge.config import get_settings
    from healthbridge.district.session import import_session_file
    from healthbridge.exchange.errors import SessionFileError
    from healthbridge.server.app import default_hooks
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository
    from healthbridge.store.runtime import running

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        hooks = default_hooks(settings)
        queued = _install_pipeline(settings, hooks)
        repo = Repository(engine, hooks=hooks)
        try:
            with running(engine, role="batch"):  # a bulk write: checkpointer, collector paused
                outcome = import_session_file(
                    repo,
                    SYSTEM_CONTEXT,
                    args.file.read_bytes(),
                    args.file.name,
                    centre_reference=args.centre,
                    performer_reference=args.performer,
                )
        except SessionFileError as exc:
            print(exc.message_zh if args.lang == "zh" else exc.message_en)  # noqa: T201
            return 2
    finally:
        engine.dispose()
    report = outcome.report()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))  # noqa: T201
    else:
        print(  # noqa: T201
            f"{report['file']}: {report['accepted']} accepted, {report['rejected']} rejected, "
            f"{report['created']} resources created, {report['unchanged']} already present"
        )
        if queued and report["created"]:
            print(  # noqa: T201
                "derived scores and alerts: queued for the clinical pipeline (the server's "
                "worker, or `healthbridge worker --once`)"
            )
        key = f"message_{args.lang}"
        for row in report["rejected_rows"]:
            for p in row["problems"]:
                print(f"  row {row['row']} {row['identifier'] or ''}: {p[key]}")  # noqa: T201
    return 0 if not report["rejected"] else 1
