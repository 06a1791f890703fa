"""``healthbridge evaluate``: re-run every clinical rule for the whole database (district).

Run it after a rule-table change (``HEALTHBRIDGE_CLINICAL_RULESET`` or ``--ruleset``) or nightly,
since due/overdue/missed statuses depend on the date. It reconciles every child's and centre's
open alerts (Flag + review Task) with the new findings and prints what changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate", help="re-run all clinical rules for the whole database and reconcile alerts"
    )
    parser.add_argument("--ruleset", default=None, help="id@version/region (default: settings)")
    parser.add_argument("--as-of", default=None, help="evaluation date YYYY-MM-DD (default today)")
    parser.add_argument("--workers", type=int, default=1, help="processes for the rules")
    parser.add_argument("--dry-run", action="store_true", help="report changes, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=evaluate_command)


def evaluate_command(args: argparse.Namespace) -> int:
    """Evaluate the configured database."""
    from healthbridge.config import get_settings
    from healthbridge.pipeline import parse_ruleset_key
    from healthbridge.pipeline.batch import evaluate_database
    from healthbridge.pipeline.engine import today_in_china
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository
    from healthbridge.store.runtime import running

    settings = get_settings()
    key = args.ruleset or settings.clinical_ruleset
    if not key:
        sys.stderr.write("no rule set: set HEALTHBRIDGE_CLINICAL_RULESET or pass --ruleset\n")
        return 2
    ruleset = parse_ruleset_key(key)
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else today_in_china()
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        # a batch process (the collector pauses around the read and the rules); no SQLite
        # thread: the command forks worker processes (healthbridge.store.runtime)
        with running(engine, role="batch", sqlite_thread=False):
            report = evaluate_database(
                Repository(engine),
                ruleset,
                as_of,
                workers=args.workers,
                dry_run=args.dry_run,
            )
    finally:
        engine.dispose()
    summary = {
        "ruleset": ruleset.key,
        "as_of": as_of.isoformat(),
        "children": report.children,
        "observations": report.observations,
        "findings": report.findings,
        "open_alerts_before": report.open_alerts,
        "actions": dict(sorted(report.actions.items())),
        "forecasts_written": report.forecasts,
        "seconds": report.seconds,
        "inputs": report.source,
        "dry_run": args.dry_run,
    }
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        rate = report.children / report.seconds["total"] if report.seconds["total"] else 0.0
        sys.stdout.write(
            f"rule set {ruleset.key}, as of {as_of}: {report.children} children, "
            f"{report.observations} observations, {report.findings} findings\n"
            f"alerts: {report.open_alerts} open before; "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.actions.items()))
            + ("" if report.actions else "no changes")
            + f"\nvaccination forecasts written: {report.forecasts}"
            + f"\ntime: {report.seconds['total']} s ({rate:,.0f} children/s)\n"
        )
        if report.source != "table":
            sys.stdout.write(
                "rule inputs read from the stored documents (slower): the rule-input table is "
                "not current; run 'healthbridge db reindex --rule-inputs'\n"
            )
    return 0
