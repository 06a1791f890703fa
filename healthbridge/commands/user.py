"""``healthbridge user``: local accounts from the command line.

* ``healthbridge user create-admin --username NAME`` — the first administrator (password from
  ``--password-stdin`` or asked for twice on the terminal); the admin page (``/app/admin``)
  then creates staff accounts.
* ``healthbridge user demo-accounts`` — development only: a password account for every demo
  person the record holds (parents by RelatedPerson id, staff by Practitioner id, the district
  official as ``district``), all with the published demo password
  (:data:`healthbridge.web.pages_signin.DEMO_PASSWORD`). ``healthbridge demo`` runs it too
  when ``HEALTHBRIDGE_ENVIRONMENT=development``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthbridge.store.repository import Repository


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``user`` sub-command."""
    parser = subparsers.add_parser("user", help="local sign-in accounts (first admin, demo)")
    sub = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    admin = sub.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("--username", required=True)
    admin.add_argument("--display-name", default="")
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    admin.set_defaults(handler=create_admin)
    demo = sub.add_parser(
        "demo-accounts", help="development only: password accounts for the demo people"
    )
    demo.set_defaults(handler=demo_accounts)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def create_admin(args: argparse.Namespace) -> int:
    """Create an administrator account."""
    from healthbridge.access import accounts
    from healthbridge.access.tokens import Role
    from healthbridge.config import get_settings
    from healthbridge.store.db import make_engine, upgrade

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        password = _password(args)
        with accounts.writing(engine) as conn:
            made = accounts.create_account(
                conn,
                username=args.username,
                role=Role.ADMIN,
                display_name=args.display_name,
                password=password,
            )
    except (accounts.AccountError, ValueError) as exc:
        sys.stderr.write(f"user create-admin: {exc}\n")
        return 2
    finally:
        engine.dispose()
    sys.stdout.write(f"created administrator {made.username}\n")
    return 0


def create_demo_accounts(repo: Repository) -> int:
    """Password accounts for the demo people (existing usernames are kept); the number made.

    One argon2 hash of the published demo password serves every demo account (hashing a
    thousand guardians one by one would take a minute; the password is public anyway)."""
    from healthbridge.access import accounts
    from healthbridge.access.tokens import Role
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.web.pages_signin import DEMO_OFFICIAL_USERNAME, DEMO_PASSWORD, demo_username

    shared = accounts.hash_password(DEMO_PASSWORD)
    people: list[tuple[str, Role, str, str | None, str | None]] = [
        (DEMO_OFFICIAL_USERNAME, Role.DISTRICT_OFFICIAL, "区卫健局（演示）", None, None)
    ]
    with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
        for kind in ("PractitionerRole", "RelatedPerson"):
            for match in txn.search_params(kind, [("_count", "100000")]).matches:
                resource = match.resource or {}
                try:
                    role, org = accounts.identity_of(resource)
                except accounts.AccountError:
                    continue
                username = demo_username(resource)
                name = ((resource.get("name") or [{}])[0]).get("text", "")
                people.append((username, role, name, f"{kind}/{match.id}", org))
    made = 0
    with accounts.writing(repo.engine) as conn:
        for username, role, name, fhir_user, org in people:
            if accounts.find_account(conn, username=username) is not None:
                continue
            account = accounts.create_account(
                conn,
                username=username,
                role=role,
                display_name=name,
                fhir_user=fhir_user,
                organization=org,
            )
            accounts.set_password_hash(conn, account.id, shared)
            made += 1

    return made


def demo_accounts(args: argparse.Namespace) -> int:
    """Create the demo accounts (development only)."""
    del args
    from healthbridge.config import get_settings
    from healthbridge.server.app import default_hooks
    from healthbridge.store.db import make_engine, upgrade
    from healthbridge.store.repository import Repository

    settings = get_settings()
    if settings.environment != "development":
        sys.stderr.write("user demo-accounts: only with HEALTHBRIDGE_ENVIRONMENT=development\n")
        return 2
    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        made = create_demo_accounts(Repository(engine, hooks=default_hooks(settings)))
    finally:
        engine.dispose()
    sys.stdout.write(f"demo accounts: {made} created\n")
    return 0
