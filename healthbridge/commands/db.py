"""``healthbridge db upgrade``: apply the database migrations."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``db`` sub-command."""
    parser = subparsers.add_parser("db", help="database schema management")
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = sub.add_parser("upgrade", help="migrate the database to the latest schema")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    up.set_defaults(handler=upgrade_command)
    cur = sub.add_parser("current", help="print the schema revision of the database")
    cur.set_defaults(handler=current_command)


def upgrade_command(args: argparse.Namespace) -> int:
    """Migrate the configured database."""
    from healthbridge.config import get_settings
    from healthbridge.store.db import current_revision, make_engine, upgrade

    engine = make_engine(get_settings().resolved_database_url())
    upgrade(engine, args.revision)
    sys.stdout.write(f"database at revision {current_revision(engine)}\n")
    engine.dispose()
    return 0


def current_command(_args: argparse.Namespace) -> int:
    """Print the current revision."""
    from healthbridge.config import get_settings
    from healthbridge.store.db import current_revision, make_engine

    engine = make_engine(get_settings().resolved_database_url())
    sys.stdout.write(f"{current_revision(engine) or 'none'}\n")
    engine.dispose()
    return 0
