"""``healthbridge db upgrade|current|backup|restore|reindex|partition``: migrations, backups,
index, monthly partitions (PostgreSQL)."""

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
    bak = sub.add_parser("backup", help="write a backup of the database to PATH")
    bak.add_argument("path", help="backup file (SQLite database / pg_dump custom archive)")
    bak.set_defaults(handler=backup_command)
    res = sub.add_parser("restore", help="replace the database content with the backup PATH")
    res.add_argument("path", help="a file written by 'healthbridge db backup'")
    res.set_defaults(handler=restore_command)
    rix = sub.add_parser(
        "reindex", help="rebuild search-index rows (after new search parameters are added)"
    )
    rix.add_argument(
        "--param", action="append", dest="params", help="search parameter code (repeatable)"
    )
    rix.add_argument("--type", action="append", dest="types", help="resource type (repeatable)")
    rix.add_argument(
        "--rule-inputs",
        action="store_true",
        help="rebuild only the rule-input table read by 'healthbridge evaluate' "
        "(also rebuilt by a reindex without --param/--type)",
    )
    rix.set_defaults(handler=reindex_command)
    par = sub.add_parser(
        "partition",
        help="PostgreSQL: partition versions and AuditEvents by month, create the months ahead",
    )
    par.add_argument("--ahead", type=int, default=3, help="months to create after this one")
    par.add_argument(
        "--detach-audit-before",
        metavar="YYYY-MM",
        help="detach the AuditEvent months before this one (to archive and drop)",
    )
    par.set_defaults(handler=partition_command)


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


def backup_command(args: argparse.Namespace) -> int:
    """Back up the configured database (SQLite online backup / pg_dump)."""
    from pathlib import Path

    from healthbridge.config import get_settings
    from healthbridge.store.backup import BackupError, backup

    try:
        backup(get_settings().resolved_database_url(), Path(args.path))
    except BackupError as exc:
        sys.stderr.write(f"backup failed: {exc}\n")
        return 1
    sys.stdout.write(f"backup written to {args.path}\n")
    return 0


def restore_command(args: argparse.Namespace) -> int:
    """Restore the configured database from a backup, then migrate it to the current schema."""
    from pathlib import Path

    from healthbridge.config import get_settings
    from healthbridge.store.backup import BackupError, restore
    from healthbridge.store.db import make_engine, upgrade

    url = get_settings().resolved_database_url()
    try:
        restore(url, Path(args.path))
    except BackupError as exc:
        sys.stderr.write(f"restore failed: {exc}\n")
        return 1
    engine = make_engine(url)
    upgrade(engine)  # a backup from an older release is brought up to date
    engine.dispose()
    sys.stdout.write(f"database restored from {args.path}\n")
    return 0


def reindex_command(args: argparse.Namespace) -> int:
    """Re-extract search-index rows of the stored resources (docs/fhir_profiles.md)."""
    from healthbridge.config import get_settings
    from healthbridge.store.db import make_engine
    from healthbridge.store.reindex import ReindexError, rebuild_rule_inputs, reindex

    engine = make_engine(get_settings().resolved_database_url())
    try:
        if not args.rule_inputs:
            for count in reindex(engine, params=args.params, resource_types=args.types):
                sys.stdout.write(
                    f"{count.resource_type}: {count.resources} resources, {count.rows} index rows\n"
                )
        if args.rule_inputs or not (args.params or args.types):
            for done in rebuild_rule_inputs(engine):
                sys.stdout.write(
                    f"{done.resource_type}: {done.resources} resources, {done.rows} rule-input "
                    f"rows ({done.seconds:.1f} s)\n"
                )
    except ReindexError as exc:
        sys.stderr.write(f"reindex failed: {exc}\n")
        return 1
    finally:
        engine.dispose()
    return 0


def partition_command(args: argparse.Namespace) -> int:
    """Partition by month (docs/capacity.md); on SQLite say that nothing is done."""
    import datetime as dt

    from healthbridge.config import get_settings
    from healthbridge.store.db import make_engine
    from healthbridge.store.partition import PartitionError, detach_audit_before, partition

    engine = make_engine(get_settings().resolved_database_url())
    try:
        if engine.dialect.name != "postgresql":
            sys.stdout.write(
                f"{engine.dialect.name}: nothing to do - monthly partitions are a PostgreSQL "
                "feature; the database is unchanged\n"
            )
            return 0
        if args.detach_audit_before:
            try:
                before = dt.date.fromisoformat(f"{args.detach_audit_before}-01")
            except ValueError:
                sys.stderr.write("partition failed: --detach-audit-before takes YYYY-MM\n")
                return 1
            for name in detach_audit_before(engine, before):
                sys.stdout.write(f"detached {name} (archive it, then DROP TABLE {name})\n")
            return 0
        report = partition(engine, ahead=args.ahead)
        for name in report.converted:
            sys.stdout.write(f"{name}: converted to monthly partitions\n")
        for name in report.created:
            sys.stdout.write(f"created {name}\n")
        if report.moved_rows:
            sys.stdout.write(f"moved {report.moved_rows} rows out of the default partitions\n")
        if not (report.converted or report.created):
            sys.stdout.write("partitions up to date\n")
    except PartitionError as exc:
        sys.stderr.write(f"partition failed: {exc}\n")
        return 1
    finally:
        engine.dispose()
    return 0
