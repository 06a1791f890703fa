"""``healthbridge retention show|purge``: the retention schedule and its purge.

``show`` prints the schedule (rule, records, period, sources, whether confirmed);
``purge [--as-of DATE] [--dry-run]`` removes for good what the schedule says is due on
``DATE`` (default today) — every version and index row — and records each rule's removal in
an AuditEvent (docs/access.md "Retention"). Run it from cron (daily is enough).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``retention`` sub-command."""
    parser = subparsers.add_parser("retention", help="retention schedule and purge")
    sub = parser.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="print the retention schedule")
    show.set_defaults(handler=show_command)
    purge = sub.add_parser("purge", help="remove for good what the schedule says is due")
    purge.add_argument(
        "--as-of", type=dt.date.fromisoformat, default=None, help="date (default: today)"
    )
    purge.add_argument("--dry-run", action="store_true", help="only report what is due")
    purge.set_defaults(handler=purge_command)


def show_command(_args: argparse.Namespace) -> int:
    """Print the schedule."""
    from healthbridge.access.retention import schedule

    s = schedule()
    sys.stdout.write(f"retention schedule {s.version}\n")
    for rule in s.rules:
        period = f"{rule.period.days} days" if rule.period is not None else f"{rule.years} years"
        mark = "" if rule.confirmed else " (unconfirmed)"
        sys.stdout.write(f"- {rule.id}: {rule.applies_to}, {period} from {rule.anchor}{mark}\n")
        for source in rule.sources:
            sys.stdout.write(f"    {source}\n")
    return 0


def purge_command(args: argparse.Namespace) -> int:
    """Purge (or, with ``--dry-run``, list) what is due."""
    from healthbridge.access.http import today
    from healthbridge.access.retention import purge
    from healthbridge.config import get_settings
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository

    engine = make_engine(get_settings().resolved_database_url())
    try:
        upgrade(engine)
        repo = Repository(engine)
        as_of = args.as_of or today()
        with repo.transaction(SYSTEM_CONTEXT, write=not args.dry_run) as txn:
            found = purge(txn, as_of, dry_run=args.dry_run)
    finally:
        engine.dispose()
    verb = "due" if args.dry_run else "purged"
    for item in found:
        sys.stdout.write(f"{item.rule.id}: {len(item.refs)} resources {verb}\n")
    if not found:
        sys.stdout.write(f"nothing is due on {as_of}\n")
    return 0
