"""Backup and restore of the record database (``healthbridge db backup|restore PATH``).

* SQLite: the online backup API (https://www.sqlite.org/backup.html) copies a consistent
  snapshot page by page while the server may keep writing; restore copies the backup file
  back into the configured database the same way. The backup is itself a SQLite database.
* PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot under one transaction) and
  ``pg_restore --clean --if-exists --single-transaction`` into the configured database. The
  client binaries are found on ``PATH``, in ``HEALTHBRIDGE_PG_BIN``, or in the newest
  ``/usr/lib/postgresql/*/bin`` (Debian's layout, as ``scripts/test`` does); the server's
  major version must not be newer than the client's.

Restore replaces the whole database content: stop the server (or at least writers) first.

A backup of a partitioned database (``healthbridge db partition``) cannot be restored with
``pg_restore --clean``: its drop of a partition's primary key, which the partition inherits,
fails ("cannot drop inherited constraint"). Such a backup is restored by one ``psql
--single-transaction`` that drops and re-creates the ``public`` schema and then runs the
archive's SQL (``pg_restore --file -``) — still all or nothing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from healthbridge.store.db import normalise_url


class BackupError(Exception):
    """A backup or restore could not be done (missing tool, tool failure, bad file)."""


def backup(database_url: str, path: Path) -> None:
    """Write a backup of the database at ``database_url`` to ``path`` (overwritten)."""
    url = make_url(normalise_url(database_url))
    path.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(database_url), path)
    elif url.get_backend_name() == "postgresql":
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(path),
              "--dbname", _libpq_url(database_url)])  # fmt: skip
    else:
        raise BackupError(f"No backup method for {url.get_backend_name()}")


def restore(database_url: str, path: Path) -> None:
    """Replace the content of the database at ``database_url`` with the backup ``path``."""
    if not path.is_file():
        raise BackupError(f"No backup file at {path}")
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite":
        with path.open("rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise BackupError(f"{path} is not a SQLite database backup")
        _sqlite_copy(path, _sqlite_path(database_url))
    elif url.get_backend_name() == "postgresql" and _has_partitions(path):
        _restore_partitioned(database_url, path)
    elif url.get_backend_name() == "postgresql":
        _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
              "--single-transaction", "--exit-on-error", "--dbname",
              _libpq_url(database_url), str(path)])  # fmt: skip
    else:
        raise BackupError(f"No restore method for {url.get_backend_name()}")


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"No SQLite database at {source}")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages copied under SQLite's locks: a consistent snapshot
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"SQLite backup from {source} to {target} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()


def _libpq_url(database_url: str) -> str:
    """The URL without SQLAlchemy's ``+driver`` part, as libpq tools expect."""
    url = make_url(normalise_url(database_url))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    candidates = []
    if os.environ.get("HEALTHBRIDGE_PG_BIN"):
        candidates.append(Path(os.environ["HEALTHBRIDGE_PG_BIN"]) / name)
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    candidates.extend(reversed(versions))
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(
        f"{name} not found (install the PostgreSQL client or set HEALTHBRIDGE_PG_BIN)"
    )


def _has_partitions(path: Path) -> bool:
    """Whether the pg_dump archive holds partitions (``TABLE ATTACH`` entries)."""
    listing = subprocess.run(
        [_pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True
    )
    return " TABLE ATTACH " in listing.stdout


def _restore_partitioned(database_url: str, path: Path) -> None:
    """Replace the ``public`` schema with the archive's, in one transaction (module doc)."""
    with subprocess.Popen(
        [_pg_tool("pg_restore"), "--no-owner", "--file", "-", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as dump:
        load = subprocess.run(
            [_pg_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
             "--set", "ON_ERROR_STOP=1", "--dbname", _libpq_url(database_url),
             "--command", "DROP SCHEMA public CASCADE", "--command", "CREATE SCHEMA public",
             "--file", "-"],
            stdin=dump.stdout, capture_output=True, text=True,
        )  # fmt: skip
        _, dump_err = dump.communicate()
    if dump.returncode != 0 or load.returncode != 0:
        raise BackupError(f"restore failed: {(dump_err.decode() + load.stderr).strip()[-2000:]}")


def _run(args: list[str]) -> None:
    try:
        subprocess.run(args, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{Path(args[0]).name} failed: {exc.stderr.strip()[-2000:]}") from exc
