"""``healthbridge parent-reports``: every child's parent report of one centre, as PDF files."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``parent-reports`` sub-command."""
    parser = subparsers.add_parser(
        "parent-reports",
        help="write the parent report PDF of every child enrolled at a centre",
        description="Write report-<Patient id>.pdf for each active child enrolled at the "
        "centre (growth charts, latest measurements in plain words, vaccinations given and "
        "due, next checkup). Runs on the server with full access: an operator's command.",
    )
    parser.add_argument("--centre", required=True, help="the centre's Organization id")
    parser.add_argument("--out", required=True, type=Path, help="directory for the PDF files")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (zh)")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=None,
        help="the reports' date (YYYY-MM-DD; default: today)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the reports; exit status 2 when the centre is unknown or has no children."""
    from healthbridge.charts.batch import BatchError, centre_reports
    from healthbridge.charts.labels import Lang
    from healthbridge.config import get_settings

    settings = get_settings()
    try:
        result = centre_reports(
            settings.resolved_database_url(),
            args.centre,
            args.out,
            ruleset_key=settings.ruleset_key,
            lang=Lang(args.lang),
            as_of=args.as_of,
            workers=max(1, args.workers),
        )
    except BatchError as exc:
        print(f"parent-reports: {exc}")  # noqa: T201
        return 2
    print(  # noqa: T201
        f"parent-reports: {len(result.files)} reports for Organization/{result.centre_id} "
        f"in {args.out} ({result.seconds:.1f} s, {result.workers} processes)"
    )
    return 0
