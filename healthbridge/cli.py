"""The ``healthbridge`` command line.

Each sub-command lives in its own module under :mod:`healthbridge.commands` and exposes
``register(subparsers)``; this module only assembles them, so adding a command is adding a
module and one line to :data:`COMMANDS`. Heavy imports happen inside each command's handler,
never at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules under ``healthbridge.commands`` that provide sub-commands, in help order.
COMMANDS: tuple[str, ...] = (
    "serve",
    "demo",
    "db",
    "score",
    "validate",
    "token",
    "user",
    "import_session",
    "evaluate",
    "parent_reports",
    "retention",
    "worker",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="healthbridge",
        description="HealthBridge child-health record: server, demo data, scoring and tools.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"healthbridge.commands.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    status: int = handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
